"""The browser chat: Gradio wiring only. What is shown comes from ui/render.py and
ui/memory_view.py; what happens comes from orchestration (Recommender); the files kept for a
person (trace and memory exports) from ui/user_files.py. One gr.State per tab holds that tab's
session, so tabs and users never see each other's dialogue.

Who is who: with logins (`signed_in`, see ui/auth.py) every handler acts for the signed-in user
(gr.Request.username), whatever name a client sends; without them, for the typed name."""

from __future__ import annotations

import recteam.ui.gradio_pyi  # noqa: F401  # isort: skip (before gradio: it imports faster, see there)

import asyncio
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import MatplotlibBackendMananger, get_upload_folder

from recteam.agents.messages import ROLES, Role
from recteam.agents.trace import (
    StepFinished,
    StepStarted,
    TraceEvent,
    TurnFinished,
    TurnStarted,
    load_jsonl,
)
from recteam.errors import RecteamError
from recteam.orchestration.llm_settings import Endpoint
from recteam.orchestration.session import (
    VERDICTS,
    Recommender,
    Verdict,
    build_role_clients,
    role_endpoint,
)
from recteam.orchestration.settings import Settings
from recteam.orchestration.team import RoleClients
from recteam.ui.memory_panel import MemoryPanel
from recteam.ui.pacing import VISIBLE_CHANGES, batches, redraw_gap
from recteam.ui.render import (
    CANDIDATE_HEADERS,
    CANDIDATE_WIDTHS,
    candidate_rows,
    profile_markdown,
    render_chat,
    verdicts_of,
)
from recteam.ui.user_files import UserFiles

__all__ = ["PAGE_ASSETS", "build_app", "start_warm_up", "warm_up"]

# Download copies older than this are removed when the app starts: they served the tabs of an
# earlier run (a tab's state does not outlive its server); the originals stay in user-files.
STALE_COPY_S = 3600.0
REDRAW_GAP_S = 0.25  # a turn in progress is redrawn at most this often (ui/pacing.py)...
CALM_TURNS = 3  # ...while this many turns run at once; with more, each turn's redraws space out
ASSETS = Path(__file__).parent / "assets"
# What Blocks.launch takes besides the app: the page's style sheet and the cards' script.
PAGE_ASSETS: dict[str, Any] = {
    "css_paths": [ASSETS / "app.css"],
    "head_paths": [ASSETS / "head.html"],
}
# Replaying an exported trace: how fast, as a multiple of the recorded pace (0: a step per
# click; None: everything at once). A recorded pause longer than MAX_REPLAY_GAP_S is shortened.
REPLAY_SPEEDS: dict[str, float | None] = {
    "recorded pace": 1.0,
    "4× faster": 4.0,
    "¼ speed": 0.25,
    "one step per click": 0.0,
    "all at once": None,
}
MAX_REPLAY_GAP_S = 2.0
REPLAY_STOPS = (TurnStarted, StepFinished, TurnFinished)  # where a step-per-click replay halts

log = logging.getLogger("recteam.ui")

# Gradio's queue summarises its last GRADIO_ANALYTICS_MAX_EVENTS events (default 10,000) in a
# pandas DataFrame after every GRADIO_ANALYTICS_CACHE_FREQUENCY events (default 1): a cost that
# grows with the server's age, paid at the end of every event, for a monitoring page recteam
# does not open (12% of a busy server's time at a few hundred events). A short window, summarised
# now and then, keeps the page working for whoever turns it on. Read when the queue is made.
QUEUE_ANALYTICS = {"GRADIO_ANALYTICS_MAX_EVENTS": "500", "GRADIO_ANALYTICS_CACHE_FREQUENCY": "50"}


@dataclass
class TabSession:
    """What one browser tab knows: its session id, its trace, its model choices, and an
    exported trace it is replaying."""

    session_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    events: list[TraceEvent] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)  # role -> model chosen in this tab
    trace: Path | None = None  # this session's trace file, written at the end of each turn
    offered: Path | None = None  # its download copy in Gradio's cache, replaced at each turn
    # The chat of the finished turns, each drawn once when it ends (all again only when a verdict
    # changes a card): a streamed update re-draws the turn in progress only.
    drawn: list[gr.ChatMessage] = field(default_factory=list)
    drawn_upto: int = 0  # the events `drawn` shows
    drawn_verdicts: tuple[tuple[str, str], ...] = ()  # the verdicts its cards show
    finished_upto: int = 0  # events up to the last TurnFinished
    # The memory panel is filled when opened and kept fresh while open: a returning person's
    # memory runs to a thousand rows, re-sent after every turn to a closed panel otherwise.
    memory_open: bool = False
    replay: list[TraceEvent] = field(default_factory=list)  # an export being replayed, if any
    replay_stops: list[int] = field(default_factory=list)  # its events shown at each step
    replay_at: int = 0


def replay_stops(events: list[TraceEvent]) -> list[int]:
    """How many of `events` a step-per-click replay shows at each click: up to a turn's start
    (the user's message), each agent step's end, the turn's end; the last click shows all."""
    stops = [i + 1 for i, e in enumerate(events) if isinstance(e, REPLAY_STOPS)]
    return stops if stops and stops[-1] == len(events) else [*stops, len(events)]


def _step_said(events: list[TraceEvent]) -> str:
    """The last event shown, in words, for the replay's status line."""
    last = events[-1] if events else None
    if isinstance(last, StepFinished):
        started = [e for e in events if isinstance(e, StepStarted) and e.step_id == last.step_id]
        return f"{last.agent} · {started[0].title if started else 'a step'}"
    if isinstance(last, TurnStarted):
        return f"turn {last.turn}: the user's message"
    if isinstance(last, TurnFinished):
        return f"turn {last.turn}: the reply"
    return ""


def _role_endpoint(settings: Settings, role: Role) -> Endpoint:
    return role_endpoint(settings.llm, role)


def _model_choices(settings: Settings) -> dict[str, Endpoint]:
    """Menu label -> endpoint: 'offline', each role's own, then ui.models (a bare string there
    is the model at its provider's own server, never a role's)."""
    entries = [Endpoint(model="offline"), *(_role_endpoint(settings, r) for r in ROLES)]
    entries += [m if isinstance(m, Endpoint) else Endpoint(model=m) for m in settings.ui.models]
    return {e.label: e for e in entries}


def browser_secret(folder: Path) -> str:
    """The key the browser-kept name is encrypted with: made once per store, owner-only."""
    path = folder / "ui-browser-secret"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def warm_up(rec: Recommender, settings: Settings) -> float:
    """What the first person after a start would wait for, done before anyone does; returns
    the seconds it took. Gradio enters MatplotlibBackendMananger around every event, and the
    first entry imports matplotlib (a second or more, on the server's event loop, in front of
    every tab's events); the team's first turns open the memory collections and fill caches
    (`Recommender.warm_up`: offline, for a throwaway user, then forgotten); then the chat and
    the candidate bus are drawn once."""
    started = time.perf_counter()
    with MatplotlibBackendMananger():
        pass
    events = asyncio.run(rec.warm_up())
    render_chat(events, posters=settings.ui.posters)
    candidate_rows(events)
    return time.perf_counter() - started


def start_warm_up(rec: Recommender, settings: Settings) -> threading.Thread:
    """`warm_up` in a thread of its own, once the app is serving: the page answers at once, and
    a person's first turn meanwhile only shares the machine with it. A failure is logged, not
    raised: the first turns are then slower, nothing else."""

    def run() -> None:
        try:
            log.info("warm-up done in %.1f s", warm_up(rec, settings))
        except Exception:  # a warm-up is an optimisation: it never stops the app
            log.exception("warm-up failed; the first turns will be slower")

    thread = threading.Thread(target=run, name="recteam-warm-up", daemon=True)
    thread.start()
    return thread


def build_app(rec: Recommender, settings: Settings, signed_in: bool = False) -> gr.Blocks:
    """The web app. `signed_in`: the app is launched with logins (Gradio's `auth`), and a
    person is their login, not the name field."""
    for name, value in QUEUE_ANALYTICS.items():
        os.environ.setdefault(name, value)  # a deployment's own setting wins
    clients_cache: dict[tuple[str, str], RoleClients] = {}
    choices = _model_choices(settings)
    running = [0]  # turns streaming now, in every tab (one event loop: no lock needed)

    def gap() -> float:
        return redraw_gap(REDRAW_GAP_S, running[0], CALM_TURNS)

    # Downloads are copied into the cache Gradio serves from (GRADIO_TEMP_DIR), as Blocks do.
    files = UserFiles.at(settings.memory.path, cache=Path(get_upload_folder()))
    files.sweep(older_than_s=STALE_COPY_S)
    memory = MemoryPanel(rec.store.memories, files)

    def chat_of(events: list[TraceEvent]) -> list[gr.ChatMessage]:
        # ui.posters off: no card asks the browser for a remote image.
        return render_chat(events, posters=settings.ui.posters)

    def live_chat(tab: TabSession) -> list[gr.ChatMessage]:
        """The tab's chat: the finished turns as drawn before, then what came since."""
        verdicts = verdicts_of(tab.events)
        shown = tuple(sorted(verdicts.items()))
        if shown != tab.drawn_verdicts or tab.finished_upto < tab.drawn_upto:
            tab.drawn, tab.drawn_upto = [], 0  # a card changed, or events went: all again
        if tab.finished_upto > tab.drawn_upto:
            # Turns end with their group closed, so the new ones draw on their own, as they
            # would after the earlier ones (tests/test_render.py checks it).
            new = tab.events[tab.drawn_upto : tab.finished_upto]
            tab.drawn = tab.drawn + render_chat(new, posters=settings.ui.posters, verdicts=verdicts)
            tab.drawn_upto, tab.drawn_verdicts = tab.finished_upto, shown
        since = tab.events[tab.finished_upto :]
        return tab.drawn + render_chat(since, posters=settings.ui.posters, verdicts=verdicts)

    def clients_for(tab: TabSession) -> RoleClients:
        chosen = {
            r: label
            for r, label in tab.models.items()
            if label != _role_endpoint(settings, r).label  # type: ignore[arg-type]
        }
        out: RoleClients = {}
        for role, label in chosen.items():
            key = (role, label)
            if key not in clients_cache:
                endpoint = choices[label]
                clients_cache[key] = build_role_clients(settings.llm, {role: endpoint})  # type: ignore[dict-item]
            out[role] = clients_cache[key][role]  # type: ignore[index]
        return out

    def who(typed: str | None, request: gr.Request | None, default: str = "guest") -> str:
        """The user a call acts for: the login when there are logins, else the typed name."""
        if signed_in:
            login = getattr(request, "username", None)
            if not login:
                raise gr.Error("Sign in first: this app knows people by their login.")
            return str(login)
        return (typed or "").strip() or default

    def save_trace(tab: TabSession, user: str) -> None:
        """The session's trace file, rewritten after every turn and button: nothing is lost."""
        if tab.events:
            tab.trace = files.write_trace(user, tab.session_id, tab.events)

    def export_file(tab: TabSession) -> str | None:
        if not (tab.trace and tab.trace.exists()):
            return None
        tab.offered = files.offer(tab.trace, replacing=tab.offered)
        return str(tab.offered)

    def panels(tab: TabSession, user: str) -> tuple[str, list[list[Any]]]:
        state = rec.dialogue_state(user, tab.session_id)
        return profile_markdown(rec.profile(user), state), candidate_rows(tab.events)

    async def send(
        message: str, user: str, tab: TabSession | None, request: gr.Request
    ) -> AsyncIterator[tuple[Any, ...]]:
        """A turn, streamed: (chat, message box, tab) per visible change. The side panels are
        drawn once the turn is over (`after_turn`), not re-sent with every update."""
        tab = tab or TabSession()
        user = who(user, request, default="")
        mistake = (
            "Type a message first."
            if not message.strip()
            else "Enter your name first (in the box on the right): the team keeps its memory per name."
            if not user
            else None
        )
        if mistake:
            # A user's slip is a notice where they look, with what they typed kept; one log line.
            log.info("web: a turn was not run: %s", mistake)
            gr.Warning(mistake)
            notice = gr.ChatMessage(role="assistant", content=f"⚠️ {mistake}")
            yield [*live_chat(tab), notice], message, tab
            return
        start = len(tab.events)
        running[0] += 1
        try:
            turn = rec.run_turn(user, message, tab.session_id, clients=clients_for(tab))
            async for batch in batches(turn, gap):
                tab.events += batch
                if isinstance(batch[-1], TurnFinished):
                    tab.finished_upto = len(tab.events)
                    await asyncio.to_thread(save_trace, tab, user)
                yield live_chat(tab), "", tab
        except RecteamError as exc:  # bad input, an unreachable model or store: a plain sentence
            del tab.events[start:]
            tab.finished_upto = min(tab.finished_upto, start)
            gr.Warning(str(exc))
            history = live_chat(tab) + [
                gr.ChatMessage(role="user", content=message),
                gr.ChatMessage(role="assistant", content=f"⚠️ {exc}"),
            ]
            yield history, message, tab
        finally:  # also when the page goes away mid-turn (the generator is closed)
            running[0] -= 1

    def after_turn(user: str, tab: TabSession | None, request: gr.Request) -> tuple[Any, ...]:
        """The side panels once a turn is over: profile, candidate bus, trace download, memory."""
        tab = tab or TabSession()
        user = who(user, request, default="")
        if not user:
            return (gr.skip(),) * (3 + len(memory.outputs))
        profile, rows = panels(tab, user)
        return profile, rows, export_file(tab), *memory_view(user, tab)

    async def judge(
        item_id: str,
        verdict: bool | Verdict,
        user: str,
        tab: TabSession | None,
        request: gr.Request,
    ) -> tuple[Any, ...]:
        """A 👍, 👎 or "seen it" on a film: recorded, then the chat says so in a line."""
        tab = tab or TabSession()
        user = who(user, request)
        try:
            tab.events += await rec.feedback(user, tab.session_id, item_id, verdict)
        except RecteamError as exc:
            gr.Warning(str(exc))
        await asyncio.to_thread(save_trace, tab, user)
        profile, _ = panels(tab, user)
        return (
            live_chat(tab),
            profile,
            tab,
            export_file(tab),
            *memory_view(user, tab),
        )

    async def feedback(
        item_id: str, liked: bool, user: str, tab: TabSession | None, request: gr.Request
    ) -> tuple[Any, ...]:
        return await judge(item_id, liked, user, tab, request)

    async def on_card(
        action: str, user: str, tab: TabSession | None, request: gr.Request
    ) -> tuple[Any, ...]:
        """A card's button: `action` is "verdict:item id" (see render.item_cards)."""
        verdict, _, item_id = (action or "").partition(":")
        if verdict not in VERDICTS or not item_id:
            log.info("web: a card button sent %r, which is no feedback", action[:80])
            return (gr.skip(),) * (4 + len(memory.outputs))
        return await judge(item_id, verdict, user, tab, request)  # type: ignore[arg-type]

    def forget(user: str, tab: TabSession | None, request: gr.Request) -> tuple[Any, ...]:
        tab = tab or TabSession()
        user = who(user, request)
        n, removed = rec.forget(user), files.forget(user)
        kept = f" and {removed} file(s) (trace and memory exports)" if removed else ""
        gr.Info(f"Deleted {n} memories{kept} of {user!r}.")
        fresh = TabSession(models=tab.models, memory_open=tab.memory_open)  # what the page shows
        profile, rows = panels(fresh, user)
        return (
            [],
            profile,
            rows,
            fresh,
            None,
            gr.update(visible=False),
            *memory.view(user),
            memory.no_file(),
        )

    async def welcome(typed: str, tab: TabSession | None, request: gr.Request) -> tuple[Any, ...]:
        """A name the team remembers, entered in a fresh tab: the welcome-back greeting."""
        tab = tab or TabSession()
        user = who(typed, request, default="")
        if not user or tab.events:
            return gr.skip(), tab
        try:
            events = await rec.greet(user, tab.session_id)
        except RecteamError:
            return gr.skip(), tab
        if not events:
            return gr.skip(), tab
        tab.events += events
        return live_chat(tab), tab

    def memory_view(user: str, tab: TabSession | None) -> tuple[Any, ...]:
        """The memory panel's rows when it is open; else left as it is (drawn when opened)."""
        return memory.view(user) if tab is not None and tab.memory_open else memory.skip()

    def memory_opened(typed: str, tab: TabSession | None, request: gr.Request) -> tuple[Any, ...]:
        tab = tab or TabSession()
        tab.memory_open = True
        return *memory.view(who(typed, request)), tab

    def memory_closed(tab: TabSession | None) -> TabSession:
        tab = tab or TabSession()
        tab.memory_open = False
        return tab

    def profile_of(user: str, tab: TabSession | None) -> str:
        state = rec.dialogue_state(user, tab.session_id) if tab else None
        return profile_markdown(rec.profile(user), state)

    def show_memory(user: str, tab: TabSession | None, request: gr.Request) -> tuple[Any, ...]:
        user = who(user, request)
        return profile_of(user, tab), *memory.view(user)

    def name_changed(user: str, tab: TabSession | None, request: gr.Request) -> tuple[Any, ...]:
        user = who(user, request)
        return profile_of(user, tab), *memory_view(user, tab)

    async def replay(
        path: str | None, speed: str, tab: TabSession | None
    ) -> AsyncIterator[tuple[Any, ...]]:
        """An exported trace, shown in the chat at its recorded pace (or faster), a step per
        click, or all at once. Yields (chat, candidates, file box, next button, status, tab)."""
        tab = tab or TabSession()
        if not path:
            yield (gr.skip(),) * 5 + (tab,)
            return
        try:
            events = list(load_jsonl(Path(path)))
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            name = Path(path).name
            log.info("web: replay of %s refused: %s", name, exc)
            gr.Warning(f"{name} is not a recteam trace export: {str(exc)[:300]}.")
            yield gr.skip(), gr.skip(), None, gr.skip(), gr.skip(), tab
            return
        finally:
            files.discard_upload(Path(path))  # read once: no copy of it stays on the server
        tab.replay, tab.replay_stops, tab.replay_at = events, replay_stops(events), 0
        pace = REPLAY_SPEEDS.get(speed, 1.0)
        if pace == 0.0:  # a step per click: the first stop now, the next one per "Next step"
            yield *replay_step(tab), tab
            return
        if pace is not None:
            previous = events[0].ts if events else 0.0
            for i, event in enumerate(events[:-1]):
                if not isinstance(event, VISIBLE_CHANGES):
                    continue
                # The recorded time since the last change shown; a long pause is shortened.
                gap = min(MAX_REPLAY_GAP_S, max(0.0, event.ts - previous) / pace)
                previous = event.ts
                if gap > 0:
                    await asyncio.sleep(gap)
                shown = events[: i + 1]
                status = f"Replaying {i + 1} of {len(events)} events: {_step_said(shown)}"
                yield chat_of(shown), candidate_rows(shown), None, gr.skip(), status, tab
        done = f"Replayed {len(events)} events from the export."
        yield chat_of(events), candidate_rows(events), None, gr.update(visible=False), done, tab

    def replay_step(tab: TabSession) -> tuple[Any, ...]:
        """The replay's next stop: (chat, candidates, file box, next button, status)."""
        stops = tab.replay_stops
        upto = stops[min(tab.replay_at, len(stops) - 1)] if stops else 0
        shown = tab.replay[:upto]
        more = tab.replay_at + 1 < len(stops)
        tab.replay_at += 1
        status = f"Step {min(tab.replay_at, len(stops))} of {len(stops)}: {_step_said(shown)}"
        return (
            chat_of(shown),
            candidate_rows(shown),
            None,
            gr.update(visible=more),
            status if more else f"{status}. The end of the export.",
        )

    def next_step(tab: TabSession | None) -> tuple[Any, ...]:
        if tab is None or not tab.replay:
            return (gr.skip(),) * 3 + (gr.update(visible=False), gr.skip(), tab)
        return *replay_step(tab), tab

    def set_model(role: str):
        def handler(model: str, tab: TabSession | None) -> TabSession:
            tab = tab or TabSession()
            tab.models[role] = model
            return tab

        return handler

    with gr.Blocks(title="recteam", analytics_enabled=False) as demo:
        tab_state = gr.State(None)  # a TabSession, created on the tab's first action
        gr.Markdown(
            "## 🎬 recteam · a team of agents finds your next film\nOpen any step to see what "
            "that agent read, thought, called and returned; tell the team what you think of a "
            "pick with the buttons on its card."
        )
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(
                    elem_id="chat",
                    height=620,
                    label="Chat",
                    show_label=False,  # the page's heading says what it is; a label overlaps it
                    feedback_options=None,
                    buttons=["copy"],
                )
                with gr.Row():
                    message = gr.Textbox(
                        elem_id="message",
                        show_label=False,
                        scale=5,
                        autofocus=True,
                        placeholder="e.g. something like Arrival but lighter, nothing before 2000, no horror",
                    )
                    send_btn = gr.Button("Send", elem_id="send", variant="primary", scale=1)
                # A card's button fills this box and presses this button (assets/head.html).
                card_action = gr.Textbox(elem_id="card-action", visible="hidden")
                card_go = gr.Button("card", elem_id="card-go", visible="hidden")

            with gr.Column(scale=2):
                user = gr.Textbox(
                    label="Signed in as" if signed_in else "Your name (memory is kept per name)",
                    elem_id="user",
                    interactive=not signed_in,
                )
                with gr.Accordion("Your taste, as the team understands it", open=True):
                    profile = gr.Markdown(elem_id="profile")
                memory.build()
                with gr.Accordion("Candidate bus", open=False):
                    candidates = gr.Dataframe(
                        headers=CANDIDATE_HEADERS,
                        column_widths=CANDIDATE_WIDTHS,
                        datatype=["number", "str", "number", "number", "str", "number"],
                        elem_id="candidates",
                        interactive=False,
                        wrap=True,
                        max_height=520,
                    )
                with gr.Accordion("Models per agent (this tab only)", open=False):
                    gr.Markdown(
                        "More models for these menus: `[ui] models` in recteam.toml, e.g. "
                        '`models = ["openai/gpt-4o-mini", {model = "ollama/llama3.1", '
                        'api_base = "http://localhost:11434"}]`; `recteam models check` '
                        "tries each one."
                    )
                    for role in ROLES:
                        dropdown = gr.Dropdown(
                            choices=list(choices),
                            value=_role_endpoint(settings, role).label,
                            label=role,
                            elem_id=f"model-{role}",
                            allow_custom_value=False,
                        )
                        dropdown.change(
                            set_model(role), inputs=[dropdown, tab_state], outputs=tab_state
                        )
                with gr.Accordion("Trace export and replay", open=False):
                    export = gr.DownloadButton(
                        "Download this session's trace (JSON lines)",
                        elem_id="export",
                        value=None,
                        size="sm",
                    )
                    replay_speed = gr.Radio(
                        list(REPLAY_SPEEDS),
                        value="recorded pace",
                        label="Replay speed",
                        elem_id="replay-speed",
                    )
                    replay_file = gr.File(
                        label="Open an exported trace to replay it",
                        elem_id="replay-file",
                        file_types=[".jsonl"],
                        height=120,
                    )
                    with gr.Row():
                        replay_status = gr.Markdown(elem_id="replay-status")
                        next_btn = gr.Button(
                            "Next step ▶",
                            elem_id="replay-next",
                            size="sm",
                            visible=False,
                            scale=0,
                        )
                forget_btn = gr.Button("Forget me", elem_id="forget", variant="stop", size="sm")
                with gr.Row(visible=False) as confirm_row:
                    confirm_btn = gr.Button(
                        "Yes, delete everything the team remembers of me, and my exported files",
                        elem_id="forget-confirm",
                        variant="stop",
                        size="sm",
                    )
                    cancel_btn = gr.Button(
                        "Cancel: keep it", elem_id="forget-cancel", variant="secondary", size="sm"
                    )

        memory_outputs = memory.outputs
        feedback_outputs = [chat, profile, tab_state, export, *memory_outputs]
        limit = settings.ui.concurrency
        # A turn streams the chat only; the panels follow once, when it is over. A script on the
        # API calls /send, then /panels for what the side column shows.
        panel_outputs = [profile, candidates, export, *memory_outputs]
        sent: dict[str, Any] = {
            "inputs": [message, user, tab_state],
            "outputs": [chat, message, tab_state],
        }
        after: dict[str, Any] = {"inputs": [user, tab_state], "outputs": panel_outputs}
        send_btn.click(send, **sent, api_name="send", concurrency_limit=limit).then(
            after_turn, **after, api_name="panels"
        )
        message.submit(send, **sent, api_visibility="private", concurrency_limit=limit).then(
            after_turn, **after, api_visibility="private"
        )
        card_go.click(
            on_card,
            inputs=[card_action, user, tab_state],
            outputs=feedback_outputs,
            api_visibility="private",
        )
        forget_btn.click(lambda: gr.update(visible=True), outputs=confirm_row)
        cancel_btn.click(lambda: gr.update(visible=False), outputs=confirm_row)
        confirm_btn.click(
            forget,
            inputs=[user, tab_state],
            outputs=[
                chat,
                profile,
                candidates,
                tab_state,
                export,
                confirm_row,
                *memory_outputs,
                memory.file,
            ],
            api_name="forget",
        )
        replay_outputs = [chat, candidates, replay_file, next_btn, replay_status, tab_state]
        replay_file.upload(
            replay,
            inputs=[replay_file, replay_speed, tab_state],
            outputs=replay_outputs,
            api_visibility="private",
        )
        next_btn.click(
            next_step, inputs=[tab_state], outputs=replay_outputs, api_visibility="private"
        )
        user.change(
            name_changed,
            inputs=[user, tab_state],
            outputs=[profile, *memory_outputs],
            api_visibility="private",
        )
        memory.wire(user, tab_state, profile, who, profile_of)
        memory.accordion.expand(
            memory_opened,
            inputs=[user, tab_state],
            outputs=[*memory_outputs, tab_state],
            api_visibility="private",
        )
        memory.accordion.collapse(
            memory_closed, inputs=[tab_state], outputs=[tab_state], api_visibility="private"
        )

        # The name is kept in the browser (encrypted with this store's own secret, so it
        # survives a server restart): a reload or a return visit is the same person.
        kept_name = gr.BrowserState(
            "", storage_key="recteam-name", secret=browser_secret(settings.memory.path)
        )

        def on_load(saved: str | None, request: gr.Request) -> tuple[Any, ...]:
            default = (saved or "").strip()[:200] or f"guest-{uuid.uuid4().hex[:6]}"
            name = who(None, request, default=default)
            return name, name, profile_markdown(rec.profile(name))

        # A known name (typed, or the login) is greeted when the tab opens or the name is entered.
        greet_io: dict[str, Any] = {"inputs": [user, tab_state], "outputs": [chat, tab_state]}
        # The memory panel starts closed, and is filled when opened: not part of the load.
        demo.load(on_load, inputs=[kept_name], outputs=[user, kept_name, profile]).then(
            welcome, **greet_io, api_visibility="private"
        )
        for entered in (user.submit, user.blur):
            entered(welcome, **greet_io, api_visibility="private").then(
                lambda name: (name or "").strip(),
                inputs=user,
                outputs=kept_name,
                api_visibility="private",
            )

        # A plain API for scripts (gradio_client): one feedback call without the cards, and the
        # caller's memory as the panel shows it.
        api_item, api_liked = gr.Textbox(visible=False), gr.Checkbox(visible=False)
        gr.Button(visible=False).click(
            feedback,
            inputs=[api_item, api_liked, user, tab_state],
            outputs=feedback_outputs,
            api_name="feedback",
        )
        gr.Button(visible=False).click(
            show_memory,
            inputs=[user, tab_state],
            outputs=[profile, *memory_outputs],
            api_name="memory",
        )
    return demo
