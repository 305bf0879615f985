"""Trace events -> what the browser shows. Pure functions, no Gradio wiring and no state: the
chat (a turn as a collapsible group of agent steps, then the reply and a card per pick), the
profile panel and the candidate bus. Unit-tested on hand-built events."""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from gradio import ChatMessage
from gradio.components.chatbot import MetadataDict

from recteam.agents.dialogue_state import DialogueState
from recteam.agents.messages import PreferenceProfile, RecommendedItem
from recteam.agents.relevance import explain
from recteam.agents.trace import (
    MemoryAccess,
    ModelCalled,
    ModelNotice,
    ReplyChunk,
    StepFinished,
    StepOutput,
    StepStarted,
    StepThought,
    ToolCalled,
    ToolReturned,
    TraceEvent,
    TurnFinished,
    TurnStarted,
)

__all__ = [
    "CANDIDATE_HEADERS",
    "CANDIDATE_WIDTHS",
    "candidate_rows",
    "item_cards",
    "profile_markdown",
    "render_chat",
    "verdicts_of",
]

ICONS = {
    "manager": "🧭",
    "user_analyst": "🧑",
    "searcher": "🔎",
    "item_analyst": "🧪",
    "reflector": "🪞",
    "responder": "💬",
}
# What the candidate bus shows, narrow enough for the side column at 1440 px: the genres are on
# the cards, the reasons are the two largest signals in words.
CANDIDATE_HEADERS = ["#", "title", "year", "relevance", "why (top reasons)", "fit"]
CANDIDATE_WIDTHS: list[str | int] = ["5%", "21%", "11%", "21%", "31%", "11%"]


def _short(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


RAW_CHARS = 1_500  # of a payload's raw JSON in the page (the trace export has all of it)
FENCE = "`" * 3


def _label(value: Any) -> str:
    """One element of a payload list in a few words: a film's title and year, else short."""
    if isinstance(value, dict):
        inner = value.get("item")
        item: dict[str, Any] = inner if isinstance(inner, dict) else value
        if "title" in item:
            year = f" ({item['year']})" if item.get("year") else ""
            return _safe(f"{item['title']}{year}")
        if "item_id" in value:
            fit = f" {value['fit']:.2f}" if isinstance(value.get("fit"), int | float) else ""
            return _safe(f"{value['item_id']}{fit}")
    return _safe(_short(value, 60))


def _brief(value: Any) -> str:
    if isinstance(value, list):
        shown = ", ".join(_label(v) for v in value[:4])
        return f"{len(value)}: {shown}" + (", …" if len(value) > 4 else "")
    if isinstance(value, dict):
        return _code(_short(value, 160))
    return _safe(_short(value, 200))


def _fields(value: Any) -> str:
    """A structured payload as a short key: value list, with the raw JSON folded under it."""
    if not isinstance(value, dict):
        return _code(_short(value, 300))
    rows = [
        f"- **{_safe(str(k))}**: {_brief(v)}"
        for k, v in value.items()
        if v not in (None, "", [], {})
    ]
    raw = json.dumps(value, ensure_ascii=False, indent=1, default=str)
    return "\n".join(rows[:10]) + "\n\n" + _folded("raw JSON", raw, "json")


def _folded(summary: str, text: str, lang: str = "") -> str:
    """`text` verbatim under a click-to-open summary, capped: every streamed update re-sends
    the chat, so it stays light (the trace export has all of it)."""
    if len(text) > RAW_CHARS:
        text = text[:RAW_CHARS] + "\n… (the rest is in the trace export)"
    text = text.replace(FENCE, "'''")
    return f"<details><summary>{summary}</summary>\n\n{FENCE}{lang}\n{text}\n{FENCE}\n\n</details>"


def _prompt(call: ModelCalled) -> str:
    """A model call's prompt: its last message in a line, every message (role: content) and
    the model's raw answer folded under it."""
    last = call.messages[-1]["content"] if call.messages else ""
    sent = "\n\n".join(f"[{m.get('role', '?')}]\n{m.get('content', '')}" for m in call.messages)
    return (
        f"✉️ prompt (last message): {_code(_short(last, 300))}\n\n"
        + _folded(f"the whole prompt ({len(call.messages)} messages)", sent)
        + "\n"
        + _folded("the model's answer", call.reply)
    )


class _Same:
    """An event as a cache key by identity: a trace's events are not changed once emitted,
    and the chat redraws the same objects at every update of a turn."""

    __slots__ = ("event",)

    def __init__(self, event: TraceEvent) -> None:
        self.event = event

    def __hash__(self) -> int:
        return id(self.event)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.event is self.event


# The cache holds the events it has lines for, so an id is not reused while it is cached.
@functools.lru_cache(maxsize=8192)
def _lines_of(key: _Same) -> tuple[str, ...]:
    """What a step's message shows for one event (ModelCalled: its prompt folded, and so on)."""
    event = key.event
    if isinstance(event, StepThought):
        return (f"💭 {_safe(event.content)}",)
    if isinstance(event, ToolCalled):
        return (f"🛠️ **{event.tool}**\n{_fields(event.arguments)}",)
    if isinstance(event, ToolReturned):
        return (f"↩️ {event.duration_ms:.0f} ms: {_code(_short(event.result, 300))}",)
    if isinstance(event, MemoryAccess):
        where = f" ({_safe(event.where())})" if event.where() else ""
        return (f"🗂️ memory {event.op} · {event.kind}: {_safe(event.summary)}{where}",)
    if isinstance(event, ModelNotice):
        return (f"⚠️ **{event.kind}**: {_safe(event.detail)}",)
    if isinstance(event, ModelCalled):
        head = (
            f"📨 **{_safe(event.model)}** · {event.prompt_tokens}+{event.completion_tokens} "
            f"tokens · {event.latency_ms:.0f} ms"
            + (
                f" · {event.failed_attempts} failed attempt(s) first"
                if event.failed_attempts
                else ""
            )
        )
        reasoning = (f"🧠 {_safe(_short(event.reasoning, 600))}",) if event.reasoning else ()
        return (head, *reasoning, _prompt(event))
    if isinstance(event, StepOutput):
        return (f"📤 **{event.payload_type}**\n{_fields(event.payload)}",)
    return ()


class _Step:
    def __init__(self, started: StepStarted) -> None:
        self.started = started
        self.lines: list[str] = []
        self.fallbacks: list[ModelNotice] = []
        self.finished: StepFinished | None = None

    def add(self, event: TraceEvent) -> None:
        self.lines += _lines_of(_Same(event))
        if isinstance(event, ModelNotice) and event.kind == "offline_fallback":
            self.fallbacks.append(event)
        elif isinstance(event, StepFinished):
            self.finished = event

    def message(self, parent: str) -> ChatMessage:
        s, f = self.started, self.finished
        log = s.model if s.model != "offline" else "offline policy"
        if f is not None and f.llm_calls:
            log += f" · {f.prompt_tokens}+{f.completion_tokens} tokens · ${f.cost:.4f}"
        if f is not None and f.status == "failed":
            log += " · failed"
        metadata: MetadataDict = {
            "title": f"{ICONS.get(s.agent, '•')} {s.agent} · {s.title}",
            "id": s.step_id,
            "parent_id": parent,
            "status": "done" if f else "pending",
            "log": log,
        }
        if f is not None:
            metadata["duration"] = round(f.duration_ms / 1000, 3)
        return ChatMessage(
            role="assistant", content="\n\n".join(self.lines) or "…", metadata=metadata
        )


_FEEDBACK = re.compile(r"^(liked|disliked|seen): (.+)$")
# What a card's buttons say, and the line the chat keeps after one is pressed.
CARD_ACTIONS = (("liked", "👍 Like"), ("disliked", "👎 Not for me"), ("seen", "👁 Seen it"))
_SAID = {
    "liked": "👍 You liked **{film}**: the next picks will lean towards it.",
    "disliked": "👎 You disliked **{film}**: it won't come back.",
    "seen": "👁 You've seen **{film}**: it won't be suggested again.",
}
_VERDICT = {
    "liked": "👍 You liked it",
    "disliked": "👎 Not for you: it won't come back",
    "seen": "👁 Seen: it won't be suggested again",
}


def _feedback_of(started: StepStarted) -> tuple[str, str] | None:
    """(verdict, film label) of a card button's or the API's feedback step, else None."""
    m = _FEEDBACK.match(started.title) if started.agent == "user_analyst" else None
    return (m.group(1), m.group(2)) if m else None


def _feedback_line(started: StepStarted) -> str:
    """'👎 You disliked Ocean's Twelve (2004): it won't come back.' for a button's step."""
    said = _feedback_of(started)
    return _SAID[said[0]].format(film=_safe(said[1])) if said else ""


def _safe(text: str) -> str:
    """Text a person, the catalog or a model wrote (the user's message, the reply, thoughts,
    notices): markdown stays, HTML does not render, and a markdown image becomes a link, so
    neither '<img src=...>' nor '![x](http://...)' makes the browser fetch anything."""
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("![", "[")


def _film_label(item: RecommendedItem) -> str:
    return f"{item.title} ({item.year})" if item.year else item.title


def item_cards(
    items: Sequence[RecommendedItem],
    verdicts: dict[str, str] | None = None,
    posters: bool = True,
) -> str:
    """A card per pick: the poster (when the catalog has one and `posters` is on), title, year,
    genres, why it fits, and buttons to like it, dislike it or say it was seen; a film already
    judged (`verdicts`: label -> verdict) shows what was said instead. HTML; every value escaped.
    A button's value is "verdict:item id": the page's script (ui/app.py) sends it to the team."""
    verdicts = verdicts or {}
    cards = []
    for item in items:
        genres = "".join(f'<span class="rt-genre">{html.escape(g)}</span>' for g in item.genres[:4])
        poster = item.poster if posters else None
        # Loaded by the browser from the catalog's host, told nothing of the page it is on.
        image = (
            f'<img class="rt-poster" src="{html.escape(poster)}" alt="" loading="lazy" '
            'referrerpolicy="no-referrer">'
            if poster
            else ""
        )
        said = verdicts.get(_film_label(item))
        if said:
            acts = f'<div class="rt-verdict">{_VERDICT[said]}</div>'
        else:
            acts = "".join(
                f'<button class="rt-act rt-{verdict}" value="{html.escape(f"{verdict}:{item.id}")}">'
                f"{text}</button>"
                for verdict, text in CARD_ACTIONS
            )
            acts = f'<div class="rt-acts">{acts}</div>'
        cards.append(
            f'<div class="rt-card">{image}<div class="rt-card-body">'
            f'<div class="rt-card-title"><b>{html.escape(item.title)}</b>'
            f' <span class="rt-year">({item.year or "?"})</span></div>'
            f'<div class="rt-genres">{genres}</div>'
            f'<div class="rt-why">{html.escape(item.reason)}</div>{acts}</div></div>'
        )
    return f'<div class="rt-cards">{"".join(cards)}</div>'


def _reply_text(done: TurnFinished, fallbacks: Sequence[ModelNotice]) -> str:
    text = _safe(done.reply)
    if done.items:
        # The cards show each pick; drop the reply's own bullet list of them.
        text = "\n".join(line for line in text.splitlines() if not line.startswith("- **"))
    # A model that failed is said in the reply too, not only inside a collapsed step.
    for notice in fallbacks:
        text += f"\n\n⚠️ {notice.agent}: {_safe(notice.detail)}"
    if done.offline_only:
        text += "\n\n⚠️ Every configured model failed this turn: the offline policy answered alone."
    if done.error:
        text += f"\n\n⚠️ {done.error}"
    return text


def verdicts_of(events: Iterable[TraceEvent]) -> dict[str, str]:
    """Film label -> what was last said of it with a button ("liked", "disliked", "seen")."""
    return {
        judged[1]: judged[0]
        for e in events
        if isinstance(e, StepStarted) and (judged := _feedback_of(e))
    }


def render_chat(
    events: Iterable[TraceEvent],
    posters: bool = True,
    verdicts: dict[str, str] | None = None,
) -> list[ChatMessage]:
    """Every turn in `events`: the user's message, a group of agent steps, the reply and its
    cards (`posters`: with the catalog's poster thumbnails). A card shows the verdict given to
    its film (`verdicts`; by default those given in `events`, before or after the card)."""
    events = list(events)
    verdicts = verdicts_of(events) if verdicts is None else verdicts
    messages: list[ChatMessage] = []
    steps: dict[str, _Step] = {}
    group: ChatMessage | None = None
    group_steps: list[_Step] = []
    streamed: list[str] = []  # the reply so far, while the responder's model writes it

    said: list[str] = []  # a visible line after a feedback group: what the 👍/👎 did

    def close_group(done: TurnFinished | None) -> None:
        nonlocal group
        if group is None:
            return
        messages.extend(s.message(str(group.metadata["id"])) for s in group_steps)
        messages.extend(ChatMessage(role="assistant", content=line) for line in said)
        said.clear()
        if done is not None:
            tokens = done.prompt_tokens + done.completion_tokens
            calls = (
                f" · {done.llm_calls} LLM calls · {tokens:,} tokens · ${done.cost:.4f}"
                if done.llm_calls
                else " · offline, no LLM calls"
            )
            group.metadata.update(
                {
                    "status": "done",
                    "duration": round(done.duration_ms / 1000, 3),
                    "log": f"{done.act}{calls}",
                }
            )
        group = None
        group_steps.clear()

    for event in events:
        if isinstance(event, ReplyChunk):
            streamed.append(event.text)
        elif isinstance(event, TurnStarted):
            close_group(None)
            streamed.clear()
            messages.append(ChatMessage(role="user", content=_safe(event.message)))
            group = ChatMessage(
                role="assistant",
                content="",
                metadata={
                    "title": "🤝 The team at work",
                    "id": f"turn-{event.session_id}-{event.turn}",
                    "status": "pending",
                },
            )
            messages.append(group)
        elif isinstance(event, StepStarted):
            if group is None:  # feedback outside a turn: a group of its own
                group = ChatMessage(
                    role="assistant",
                    content="",
                    metadata={
                        # a greeting on opening the chat, or a 👍/👎 between turns
                        "title": "👋 Welcome back"
                        if event.agent == "responder"
                        else "📝 Feedback noted",
                        "id": f"fb-{event.step_id}",
                        "status": "done",
                    },
                )
                messages.append(group)
            if line := _feedback_line(event):  # one line per button pressed, in order
                said.append(line)
            steps[event.step_id] = _Step(event)
            group_steps.append(steps[event.step_id])
        elif isinstance(event, TurnFinished):
            streamed.clear()  # the final reply replaces what was streamed, repaired or not
            fallbacks = [n for st in group_steps for n in st.fallbacks]
            close_group(event)
            messages.append(ChatMessage(role="assistant", content=_reply_text(event, fallbacks)))
            if event.items:
                messages.append(
                    ChatMessage(
                        role="assistant", content=item_cards(event.items, verdicts, posters)
                    )
                )
        elif (step_id := getattr(event, "step_id", None)) in steps:
            steps[step_id].add(event)
    close_group(None)
    if streamed:
        messages.append(ChatMessage(role="assistant", content=_safe("".join(streamed)) + " ▌"))
    return messages


def candidate_rows(events: Iterable[TraceEvent]) -> list[list[Any]]:
    """The latest candidate bus, with the item analyst's fit where it judged the item."""
    bus: list[dict[str, Any]] = []
    fit: dict[str, float] = {}
    for event in events:
        if isinstance(event, StepOutput) and event.payload_type == "CandidateBus":
            bus, fit = event.payload.get("candidates", []), {}
        elif isinstance(event, StepOutput) and event.payload_type == "ItemAnalyses":
            fit = {a["item_id"]: a["fit"] for a in event.payload.get("analyses", [])}
    return [
        [
            c["rank"],
            c["item"]["title"],
            c["item"].get("year"),
            round(c.get("score", 0.0), 3),
            explain(c.get("signals", {}), 2),
            round(fit[c["item"]["id"]], 2) if c["item"]["id"] in fit else "",
        ]
        for c in bus
    ]


def profile_markdown(profile: PreferenceProfile, state: DialogueState | None = None) -> str:
    """What the team remembers for good (the profile), then what this conversation asks for now
    (the dialogue state's request), which a new direction replaces."""
    c = profile.constraints
    rows = [
        ("👍 likes", ", ".join(i.label for i in profile.likes)),
        ("👎 dislikes", ", ".join(i.label for i in profile.dislikes)),
        ("🍿 chose to watch", ", ".join(i.label for i in profile.chosen)),
        ("🎭 genres you like", ", ".join(dict.fromkeys(g.lower() for g in profile.liked_genres))),
        ("🚫 genres ruled out", ", ".join(c.exclude_genres)),
        ("✨ wants", ", ".join(profile.wants)),
        ("🙅 avoids", ", ".join(profile.avoids)),
        ("⭐ people liked", ", ".join(dict.fromkeys(profile.liked_people))),
        ("👀 seen / ruled out", ", ".join(i.label for i in c.exclude_items)),
    ]
    if state is not None:
        r = state.request
        years = f"{r.year_min or '…'} – {r.year_max or '…'}" if r.year_min or r.year_max else ""
        rows += [
            ("🎯 now: genres", ", ".join(r.genres)),
            ("🎯 now: like", ", ".join(i.label for i in r.like)),
            ("🎯 now: years", years),
            ("🎯 now: with", ", ".join(r.people)),
            ("🎯 now: wants", ", ".join([*r.wants, *r.topics])),
            ("🎯 now: avoids", ", ".join([*r.avoids, *(f"no {g}" for g in r.exclude_genres)])),
        ]
    shown = [f"**{k}**: {html.escape(v)}" for k, v in rows if v]
    return "\n\n".join(shown) if shown else "_Nothing known yet: tell the team what you like._"
