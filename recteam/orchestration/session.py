"""One user message in, an async stream of typed trace events out.

Recommender owns what lives as long as the process (the memory store, the entity linker, the
model clients); each turn gets its own TurnContext and team, so turns of different users running
at once share nothing but the store. Short-term state (the dialogue, what was recommended) and
long-term state (profile, feedback, lessons) both live in memory, so a session continues across
processes and a returning user is remembered after a restart.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal, get_args

from autogen_core import CancellationToken

from recteam.agents.context import MemoryLoad, TurnContext
from recteam.agents.dialogue_state import DialogueState, state_record_id
from recteam.agents.messages import (
    ROLES,
    Act,
    DialogueTurn,
    ItemRef,
    PreferenceProfile,
    Reply,
    Role,
)
from recteam.agents.offline.linking import EntityLinker
from recteam.agents.offline.understanding import Understanding
from recteam.agents.plan_memory import newly_taken, remember_plans
from recteam.agents.recall import request_summary, situation_text
from recteam.agents.reflector import write_lesson
from recteam.agents.reply_check import escape_html
from recteam.agents.settings import TeamSettings
from recteam.agents.state_update import advance, lasting_profile
from recteam.agents.trace import TraceEvent, TurnFinished, TurnStarted
from recteam.agents.tracer import TurnTracer, current_step
from recteam.agents.user_analyst import profile_record_id, save_profile
from recteam.agents.welcome import traced_welcome
from recteam.errors import InputError, RecteamError
from recteam.memory.colike import forget_likes, shipped_table
from recteam.memory.cooccurrence import CoMentionTable
from recteam.memory.store import MemoryStore
from recteam.memory.user_memory import MemoryRecord
from recteam.orchestration.llm_settings import OFFLINE, Endpoint, LLMSettings
from recteam.orchestration.model_clients import ModelEvent, build_chat_client, turn_deadline
from recteam.orchestration.team import RoleClients, build_team

__all__ = [
    "MAX_MESSAGE_CHARS",
    "VERDICTS",
    "Recommender",
    "Verdict",
    "build_role_clients",
    "role_endpoint",
]

# What a person can say about a film with a button (web cards, the API, the terminal).
Verdict = Literal["liked", "disliked", "seen"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
MAX_MESSAGE_CHARS = 4000
# What `warm_up` says: a recommendation naming a film, a genre, a decade, then a follow-up, so
# each role and each kind of memory read runs once.
WARM_UP_MESSAGES = ("a funny crime film from the 90s like Pulp Fiction", "something newer")


def _report_model_event(event: ModelEvent) -> None:
    step = current_step.get()
    if step is not None:
        detail = f"{event.model}: {event.error}" + (
            f" -> trying {event.next_model}" if event.next_model else ""
        )
        step.notice(event.kind, detail)


def build_role_clients(
    llm: LLMSettings, overrides: dict[Role, Endpoint] | None = None
) -> RoleClients:
    """A model client per role from the settings ('offline' gives none); `overrides` put a role
    on another endpoint (the web app's model menus), with that endpoint's server and key only.
    The searcher uses a model only when one is set for it explicitly (llm.agents.searcher.model):
    by default its query is built in code, which keeps a RECOMMEND turn at four model calls on
    its critical path."""
    clients: RoleClients = {}
    for role in ROLES:
        override = (overrides or {}).get(role)
        if (override or role_endpoint(llm, role)).offline:
            clients[role] = (None, OFFLINE)
            continue
        # a menu's endpoint replaces the role's (no fallbacks); else the role's own settings
        ms = llm.for_agent(role).at(override) if override else llm.for_agent(role)
        own = bool(llm.agents.get(role) and llm.agents[role].model)
        key = f"llm.agents.{role}" if own else "llm"  # the setting a person would fix
        client = build_chat_client(ms, _report_model_event, settings_key=key)
        clients[role] = (client, ms.model if client is not None else OFFLINE)
    return clients


def role_endpoint(llm: LLMSettings, role: Role) -> Endpoint:
    """The endpoint `role` runs on as configured: the searcher builds its query in code unless a
    model is set for it explicitly (llm.agents.searcher.model), so it is 'offline' then."""
    agent = llm.agents.get(role)
    if role == "searcher" and not (agent and agent.model):
        return Endpoint(model=OFFLINE)
    return llm.for_agent(role).endpoint


def _check_input(user_id: str, message: str) -> str:
    if not user_id.strip() or len(user_id) > 200 or not user_id.isprintable():
        raise InputError("the user name must be 1-200 printable characters")
    text = message.strip()
    if not text:
        raise InputError("the message is empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InputError(
            f"the message is {len(text):,} characters long; the limit is {MAX_MESSAGE_CHARS:,}"
        )
    return text


class Recommender:
    def __init__(
        self,
        store: MemoryStore,
        llm: LLMSettings,
        team: TeamSettings,
        clients: RoleClients | None = None,
        comentions: CoMentionTable | None = None,
    ) -> None:
        self.store = store
        # The searcher's item-to-item table: by default the shipped cold-start one (films ReDial
        # dialogues name together); an evaluation passes its own, from dialogues it does not score.
        self.comentions = comentions if comentions is not None else shipped_table()
        self.llm = llm
        self.team_settings = team
        self.linker = EntityLinker.for_catalog(store.catalog)
        self.clients = clients if clients is not None else build_role_clients(llm)

    # memory --------------------------------------------------------------------------------------
    def profile(self, user_id: str) -> PreferenceProfile:
        """The long-term profile: what lasts beyond one request."""
        record = self.store.memories.get(user_id, profile_record_id(user_id))
        if record is None:
            return PreferenceProfile(user_id=user_id)
        return lasting_profile(PreferenceProfile.model_validate(record.data))

    def dialogue_state(self, user_id: str, session_id: str) -> DialogueState:
        """What this session has established: film stances, the request, the picks shown."""
        record = self.store.memories.get(user_id, state_record_id(user_id, session_id))
        if record is not None:
            return DialogueState.model_validate(record.data)
        state = DialogueState()  # a session from before states were kept: rebuilt from episodes
        for ep in self.episodes(user_id, session_id):
            picks = [ItemRef.model_validate(i) for i in ep.data.get("recommended", [])]
            if picks:
                state.last_picks = picks
                state.shown += picks
            state.turn = int(ep.data.get("turn", state.turn))
        return state

    def _save_state(self, user_id: str, session_id: str, state: DialogueState) -> None:
        self.store.memories.add(_state_record(user_id, session_id, state))

    async def add_assistant_turn(
        self, user_id: str, session_id: str, text: str, items: list[ItemRef]
    ) -> DialogueState:
        """An assistant message with no user message before it (a greeting, or a recommendation
        made elsewhere): recorded as an episode, and its items become the last picks."""
        _check_input(user_id, "assistant turn")
        state = await asyncio.to_thread(self.dialogue_state, user_id, session_id)
        state.turn += 1
        if items:
            state.last_picks = list(items)
            state.shown += [i for i in items if all(s.id != i.id for s in state.shown)]
        turn = DialogueTurn(
            speaker="assistant", text=text, act="RECOMMEND" if items else "CHAT", items=items
        )
        record = MemoryRecord(
            user_id=user_id,
            kind="episode",
            session_id=session_id,
            text=f"assistant: {text}"[:2000],
            data={
                "turn": state.turn,
                "turns": [turn.model_dump(mode="json")],
                "recommended": [i.model_dump() for i in items],
            },
        )
        await asyncio.to_thread(self.store.memories.add, record)
        await asyncio.to_thread(self._save_state, user_id, session_id, state)
        return state

    async def greet(self, user_id: str, session_id: str) -> list[TraceEvent]:
        """Opening a chat with a known name: the welcome-back greeting as a traced assistant
        turn (recorded, so the session's first message is not greeted twice); [] for someone
        new, a session already under way, or with team.welcome_back off."""
        _check_input(user_id, "greeting")
        if not self.team_settings.welcome_back:
            return []
        state = await asyncio.to_thread(self.dialogue_state, user_id, session_id)
        if state.turn:
            return []
        events: list[TraceEvent] = []
        tracer = TurnTracer(session_id, 1, events.append)
        step = tracer.step("responder", "welcoming a returning user", OFFLINE)
        lasting = await asyncio.to_thread(self.profile, user_id)
        started = time.perf_counter()
        welcome = await asyncio.to_thread(
            traced_welcome, self.store.memories, user_id, session_id, lasting, step
        )
        step.finish()
        if welcome is None:
            return []
        text = escape_html(welcome.text)
        await self.add_assistant_turn(user_id, session_id, text, [])
        events.append(
            tracer.event(
                TurnFinished,
                act="CHAT",
                reply=text,
                items=[],
                candidates=[],
                duration_ms=(time.perf_counter() - started) * 1000,
                **tracer.totals(),
            )
        )
        return events

    def episodes(self, user_id: str, session_id: str) -> list[MemoryRecord]:
        """The session's turns, oldest first."""
        return list(
            reversed(
                self.store.memories.list(user_id, ("episode",), limit=1000, session_id=session_id)
            )
        )

    def forget(self, user_id: str) -> int:
        """Deletes everything remembered of the user; their likes leave the co-like counts."""
        forget_likes(self.store, user_id)
        return self.store.memories.delete_user(user_id)

    async def warm_up(self) -> list[TraceEvent]:
        """Two offline turns for a throwaway user, then forgotten, and their events: what a
        process's first turns pay once (opening the memory collections, the first embeddings,
        lazy indexes, templates, first-use imports) is paid before anyone waits for it. No model
        is called, whatever is configured."""
        user = f"recteam-warm-up-{uuid.uuid4().hex[:12]}"  # nobody's name: nobody's memory
        offline: RoleClients = {role: (None, OFFLINE) for role in ROLES}
        events: list[TraceEvent] = []
        try:
            for message in WARM_UP_MESSAGES:
                events += [e async for e in self.run_turn(user, message, user, clients=offline)]
        finally:
            self.forget(user)
        return events

    # a turn --------------------------------------------------------------------------------------
    async def run_turn(
        self,
        user_id: str,
        message: str,
        session_id: str | None = None,
        clients: RoleClients | None = None,
        act: Act | None = None,
    ) -> AsyncIterator[TraceEvent]:
        """Runs one turn; `clients` overrides the model of some roles for this turn only;
        `act` makes the manager take that act (an evaluation asking for a recommendation)."""
        text = _check_input(user_id, message)
        session_id = session_id or uuid.uuid4().hex[:12]
        started = time.perf_counter()

        async def timed(read: Any, *args: Any) -> tuple[Any, float]:
            t0 = time.perf_counter()
            value = await asyncio.to_thread(read, *args)
            return value, (time.perf_counter() - t0) * 1000

        # Three reads that need nothing of each other: side by side.
        (episodes, episodes_ms), (state, state_ms), (lasting, lasting_ms) = await asyncio.gather(
            timed(self.episodes, user_id, session_id),
            timed(self.dialogue_state, user_id, session_id),
            timed(self.profile, user_id),
        )
        reads = (
            ("episode", f"session_id={session_id}", len(episodes), episodes_ms),
            ("dialogue", f"this session's state (turn {len(episodes)})", 1, state_ms),
            ("preference", "the long-term profile", 1, lasting_ms),
        )
        loaded = [
            MemoryLoad(kind, what, f"user_id={user_id}, {what}", n, ms)
            for kind, what, n, ms in reads
        ]
        dialogue: list[DialogueTurn] = []
        recommended: list[ItemRef] = []
        for ep in episodes:
            dialogue += [DialogueTurn.model_validate(t) for t in ep.data.get("turns", [])]
            recommended += [ItemRef.model_validate(i) for i in ep.data.get("recommended", [])]
        queue: asyncio.Queue[Any] = asyncio.Queue()
        tracer = TurnTracer(session_id, max(len(episodes), state.turn) + 1, queue.put_nowait)
        yield tracer.event(TurnStarted, user_id=user_id, message=text)
        ctx = TurnContext(
            session_id=session_id,
            user_id=user_id,
            turn=tracer.turn,
            message=text,
            store=self.store,
            linker=self.linker,
            settings=self.team_settings,
            tracer=tracer,
            dialogue=dialogue,
            profile_before=state.effective_profile(lasting),
            lasting_before=lasting,
            state_before=state,
            session_recommended=recommended,
            comentions=self.comentions,
            requested_act=act,
            loaded=loaded,
        )
        error: str | None = None
        roles = {**self.clients, **(clients or {})}
        # With a model reading the user, its reading decides whether the picks were turned down
        # (after the turn); the offline reader's only when no model reads the user.
        analyst_model = roles.get("user_analyst", (None, OFFLINE))[0] is not None
        try:
            if not analyst_model:
                await self._reflect_on_rejection(ctx, episodes)
            team = build_team(ctx, roles)
            run = asyncio.create_task(self._run_team(team, text, queue))
            while (event := await queue.get()) is not None:
                yield event
            await run
            if analyst_model and "user_analyst" not in ctx.fell_back:
                await self._reflect_on_model_rejection(ctx, episodes)
            if ctx.state is not None:
                taken = newly_taken(ctx.state_before, ctx.state)
                await remember_plans(tracer, self.store, user_id, session_id, episodes, taken)
        except RecteamError as exc:  # already a sentence naming the cause and the setting
            error = str(exc)
        except TimeoutError as exc:
            error = str(exc)
        except Exception as exc:  # a turn never crashes the session: the user gets a sentence
            error = f"an internal error stopped this turn ({type(exc).__name__}: {str(exc)[:200]})"
        while not queue.empty():
            event = queue.get_nowait()
            if event is not None:
                yield event
        # After an error the draft reply, if any, may be half-checked: say what went wrong instead.
        reply = (ctx.reply if error is None else None) or Reply(
            act="CHAT",
            text=f"Sorry, something went wrong on my side ({error or 'no reply was written'}). Please try again.",
        )
        # The episode and the dialogue state in one write: one embedding batch, one engine call.
        await asyncio.to_thread(
            self.store.memories.add_many, [_episode_record(ctx, reply), _turn_state(ctx, reply)]
        )
        driven = {r for r, (c, _) in roles.items() if c is not None}
        offline_only = bool(driven) and bool(ctx.fell_back) and driven <= set(ctx.fell_back)
        yield tracer.event(
            TurnFinished,
            act=reply.act,
            reply=reply.text,
            items=reply.items,
            candidates=[c.item for c in ctx.candidates],
            duration_ms=(time.perf_counter() - started) * 1000,
            error=error,
            fell_back=list(dict.fromkeys(ctx.fell_back)),
            offline_only=offline_only,
            **tracer.totals(),
        )

    async def feedback(
        self, user_id: str, session_id: str, item_id: str, liked: bool | Verdict
    ) -> list[TraceEvent]:
        """A like, a dislike or a "seen it" on a recommended film (`liked`: True or "liked",
        False or "disliked", "seen"): information-level reflection updates the profile (a disliked
        or seen film never comes back); a dislike of this session's pick also leaves a
        strategy-level lesson for the manager, a like of one stores its plan."""
        verdict: Verdict = liked if isinstance(liked, str) else "liked" if liked else "disliked"
        if verdict not in VERDICTS:
            raise InputError(f"feedback is one of {', '.join(VERDICTS)}, not {verdict!r}")
        liked = verdict == "liked"
        _check_input(user_id, "feedback")
        items = await asyncio.to_thread(self.store.catalog.get, [item_id])
        if not items:
            raise InputError(f"no film with id {item_id!r} in the catalog")
        ref = ItemRef(id=items[0].id, title=items[0].title, year=items[0].year)
        events: list[TraceEvent] = []
        episodes = await asyncio.to_thread(self.episodes, user_id, session_id)
        tracer = TurnTracer(session_id, len(episodes), events.append)
        before = await asyncio.to_thread(self.profile, user_id)
        state = await asyncio.to_thread(self.dialogue_state, user_id, session_id)
        u = Understanding.model_validate({f"{verdict}_items": [ref]})
        state, after = advance(state, before, u, source="button")
        await asyncio.to_thread(self._save_state, user_id, session_id, state)
        step = tracer.step("user_analyst", f"{verdict}: {ref.label}", OFFLINE)
        await save_profile(
            self.store,
            user_id,
            session_id,
            step,
            before,
            after,
            source="button",
            colike=self.team_settings.colike,
        )
        step.output(after)
        step.finish()
        recommended = {i["id"] for ep in episodes for i in ep.data.get("recommended", [])}
        if verdict == "disliked" and ref.id in recommended:
            await write_lesson(
                tracer,
                self.store,
                user_id,
                [ref],
                after,
                "disliked with the button",
                _situation_of(episodes, [ref]),
                session_id,
            )
        if liked and ref.id in recommended:
            await remember_plans(tracer, self.store, user_id, session_id, episodes, [ref])
        return events

    async def _run_team(self, team: Any, text: str, queue: asyncio.Queue[Any]) -> None:
        try:  # the end marker goes out whatever happens, or run_turn would wait forever
            timeout = self.team_settings.turn_timeout
            token = CancellationToken()
            # Model calls see the deadline and stop in time for the offline policy to answer.
            deadline = turn_deadline.set(time.monotonic() + timeout)
            try:
                run = asyncio.ensure_future(team.run(task=text, cancellation_token=token))
            finally:
                turn_deadline.reset(deadline)
            done, _ = await asyncio.wait({run}, timeout=timeout)
            if not done:
                # Stop the agents too: a step finishing late must not write memory or a reply.
                token.cancel()
                run.cancel()
                raise TimeoutError(
                    f"the turn took longer than {timeout:g} s and was stopped (team.turn_timeout)"
                )
            run.result()
        finally:
            queue.put_nowait(None)

    async def _reflect_on_rejection(self, ctx: TurnContext, episodes: list[MemoryRecord]) -> None:
        u = ctx.understand()
        if u.rejects_last and ctx.last_recommended:
            assert ctx.profile_before is not None
            await write_lesson(
                ctx.tracer,
                self.store,
                ctx.user_id,
                ctx.last_recommended,
                ctx.profile_before,
                "in the chat",
                _situation_of(episodes, ctx.last_recommended),
                ctx.session_id,
            )

    async def _reflect_on_model_rejection(
        self, ctx: TurnContext, episodes: list[MemoryRecord]
    ) -> None:
        """The lesson of a rejection, as the model user analyst read the message: the last picks
        it marked rejected or disliked this turn."""
        state = ctx.state
        if state is None or not ctx.last_recommended or ctx.profile_before is None:
            return
        before = ctx.state_before
        turned = [
            r
            for r in ctx.last_recommended
            if state.stance_of(r.id) in ("rejected", "disliked")
            and before.stance_of(r.id) not in ("rejected", "disliked")
        ]
        if turned:
            await write_lesson(
                ctx.tracer,
                self.store,
                ctx.user_id,
                turned,
                ctx.profile_before,
                "in the chat",
                _situation_of(episodes, turned),
                ctx.session_id,
            )


def _state_record(user_id: str, session_id: str, state: DialogueState) -> MemoryRecord:
    summary = ", ".join(f"{f.item.label} {f.stance}" for f in state.films[-8:])
    return MemoryRecord(
        id=state_record_id(user_id, session_id),
        user_id=user_id,
        kind="dialogue",
        session_id=session_id,
        text=f"turn {state.turn}: {summary or 'no films yet'}"[:2000],
        data=state.model_dump(mode="json"),
    )


def _turn_state(ctx: TurnContext, reply: Reply) -> MemoryRecord:
    """The dialogue state as this turn leaves it: the reader's state, the picks shown."""
    state = (ctx.state or ctx.state_before).model_copy(deep=True)
    state.turn = ctx.turn
    refs = [ItemRef(id=i.id, title=i.title, year=i.year) for i in reply.items]
    if refs:
        state.last_picks = refs
        state.shown += [r for r in refs if all(s.id != r.id for s in state.shown)]
    return _state_record(ctx.user_id, ctx.session_id, state)


def _situation_of(episodes: list[MemoryRecord], picks: list[ItemRef]) -> str:
    """The situation the turn that recommended `picks` answered (what the user had asked)."""
    ids = {p.id for p in picks}
    for ep in reversed(episodes):
        if any(r.get("id") in ids for r in ep.data.get("recommended", [])):
            return ep.situation or str(ep.data.get("message") or "")
    return ""


def _episode_record(ctx: TurnContext, reply: Reply) -> MemoryRecord:
    refs = [ItemRef(id=i.id, title=i.title, year=i.year) for i in reply.items]
    request = (ctx.state or ctx.state_before).request
    # Retrieved by what the user asked for, so a later similar request finds this turn.
    situation = ctx.recalled.situation if ctx.recalled else situation_text(ctx.message, request)
    turns = [
        DialogueTurn(speaker="user", text=ctx.message),
        DialogueTurn(speaker="assistant", text=reply.text, act=reply.act, items=refs),
    ]
    return MemoryRecord(
        user_id=ctx.user_id,
        kind="episode",
        session_id=ctx.session_id,
        # what a person sees in the memory panel: the exchange in short (the whole reply is in
        # data["turns"], which rebuild the dialogue)
        text=f"user: {ctx.message[:300]}\nassistant: {reply.text.splitlines()[0][:200] if reply.text else ''}",
        situation=situation,
        data={
            "turn": ctx.turn,
            "message": ctx.message,
            "act": reply.act,
            "request": request.model_dump(mode="json", exclude_defaults=True),
            "request_text": request_summary(request),
            "query": ctx.search_query or "",
            "turns": [t.model_dump(mode="json") for t in turns],
            "recommended": [r.model_dump() for r in refs],
        },
    )
