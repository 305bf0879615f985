"""The browser chat: Gradio wiring only. What is shown comes from ui/render.py and
ui/memory_view.py; what happens comes from orchestration (Recommender); the files kept for a
person (trace and memory exports) from ui/user_files.py. One gr.State per tab holds that tab's
session, so tabs and users never see each other's dialogue.

Who is who: with logins (`signed_in`, see ui/auth.py) every handler acts for the signed-in user
(gr.Request.username), whatever name a client sends; without them, for the typed name."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from recteam.agents.messages import ROLES, RecommendedItem, Role
from recteam.agents.trace import (
    ModelNotice,
    ReplyChunk,
    StepFinished,
    StepStarted,
    TraceEvent,
    TurnFinished,
    TurnStarted,
    load_jsonl,
)
from recteam.errors import RecteamError
from recteam.orchestration.llm_settings import Endpoint
from recteam.orchestration.session import Recommender, build_role_clients, role_endpoint
from recteam.orchestration.settings import Settings
from recteam.orchestration.team import RoleClients
from recteam.ui.memory_panel import MemoryPanel
from recteam.ui.render import (
    CANDIDATE_HEADERS,
    CANDIDATE_WIDTHS,
    candidate_rows,
    profile_markdown,
    render_chat,
)
from recteam.ui.user_files import UserFiles

__all__ = ["CSS", "build_app"]

VISIBLE_CHANGES = (TurnStarted, StepStarted, StepFinished, ModelNotice)
STREAM_REDRAW_S = 0.15  # a streamed reply is redrawn at most this often, not per token

CSS = """
.rt-cards {display: flex; flex-wrap: wrap; gap: 10px;}
.rt-card {border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px;
          min-width: 180px; max-width: 260px; background: var(--background-fill-secondary);}
.rt-card-title {font-size: 1.05em; margin-bottom: 4px;}
.rt-year {color: var(--body-text-color-subdued);}
.rt-genre {display: inline-block; font-size: 0.8em; padding: 1px 7px; margin: 2px 4px 2px 0;
           border-radius: 9px; background: var(--color-accent-soft);}
.rt-why {font-size: 0.9em; margin-top: 6px;}
.pick {align-items: center;}
"""

log = logging.getLogger("recteam.ui")


@dataclass
class TabSession:
    """What one browser tab knows: its session id, its trace, its picks, its model choices."""

    session_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    events: list[TraceEvent] = field(default_factory=list)
    picks: list[RecommendedItem] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)  # role -> model chosen in this tab


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


def build_app(rec: Recommender, settings: Settings, signed_in: bool = False) -> gr.Blocks:
    """The web app. `signed_in`: the app is launched with logins (Gradio's `auth`), and a
    person is their login, not the name field."""
    clients_cache: dict[tuple[str, str], RoleClients] = {}
    choices = _model_choices(settings)
    # Downloads are copied into the cache Gradio serves from (GRADIO_TEMP_DIR), as Blocks do.
    files = UserFiles.at(settings.memory.path, cache=Path(get_upload_folder()))
    memory = MemoryPanel(rec.store.memories, files)

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

    def export_file(tab: TabSession, user: str) -> str | None:
        if not tab.events:
            return None
        return str(files.offer(files.write_trace(user, tab.session_id, tab.events)))

    def panels(tab: TabSession, user: str) -> tuple[str, list[list[Any]]]:
        state = rec.dialogue_state(user, tab.session_id)
        return profile_markdown(rec.profile(user), state), candidate_rows(tab.events)

    async def send(
        message: str, user: str, tab: TabSession | None, request: gr.Request
    ) -> AsyncIterator[tuple[Any, ...]]:
        tab = tab or TabSession()
        user = who(user, request, default="")
        skip_memory = memory.skip()
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
            yield (
                [*render_chat(tab.events), notice],
                message,
                *(gr.skip(),) * 2,
                tab,
                *(gr.skip(),) * 2,
                *skip_memory,
            )
            return
        start = len(tab.events)
        drawn = 0.0
        try:
            async for event in rec.run_turn(
                user, message, tab.session_id, clients=clients_for(tab)
            ):
                tab.events.append(event)
                if isinstance(event, TurnFinished):
                    tab.picks = list(event.items) or tab.picks
                    profile, rows = panels(tab, user)
                    yield (
                        render_chat(tab.events),
                        "",
                        profile,
                        rows,
                        tab,
                        tab.picks,
                        export_file(tab, user),
                        *await asyncio.to_thread(memory.view, user),
                    )
                elif isinstance(event, VISIBLE_CHANGES) or (
                    isinstance(event, ReplyChunk) and time.monotonic() - drawn >= STREAM_REDRAW_S
                ):
                    drawn = time.monotonic()
                    # A redraw per step start and end (not per thought or tool call): the page
                    # shows progress without re-sending the whole chat two dozen times a turn.
                    yield (
                        render_chat(tab.events),
                        "",
                        gr.skip(),
                        gr.skip(),
                        tab,
                        gr.skip(),
                        gr.skip(),
                        *skip_memory,
                    )
        except RecteamError as exc:  # bad input, an unreachable model or store: a plain sentence
            del tab.events[start:]
            gr.Warning(str(exc))
            history = render_chat(tab.events) + [
                gr.ChatMessage(role="user", content=message),
                gr.ChatMessage(role="assistant", content=f"⚠️ {exc}"),
            ]
            yield history, message, gr.skip(), gr.skip(), tab, gr.skip(), gr.skip(), *skip_memory

    async def feedback(
        item_id: str, liked: bool, user: str, tab: TabSession | None, request: gr.Request
    ) -> tuple[Any, ...]:
        tab = tab or TabSession()
        user = who(user, request)
        try:
            tab.events += await rec.feedback(user, tab.session_id, item_id, liked)
        except RecteamError as exc:
            gr.Warning(str(exc))
        tab.picks = [p for p in tab.picks if p.id != item_id] if not liked else tab.picks
        profile, _ = panels(tab, user)
        return (
            render_chat(tab.events),
            profile,
            tab,
            tab.picks,
            export_file(tab, user),
            *memory.view(user),
        )

    def forget(user: str, tab: TabSession | None, request: gr.Request) -> tuple[Any, ...]:
        tab = tab or TabSession()
        user = who(user, request)
        n, removed = rec.forget(user), files.forget(user)
        kept = f" and {removed} file(s) (trace and memory exports)" if removed else ""
        gr.Info(f"Deleted {n} memories{kept} of {user!r}.")
        fresh = TabSession(models=tab.models)
        profile, rows = panels(fresh, user)
        return (
            [],
            profile,
            rows,
            fresh,
            [],
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
        return render_chat(tab.events), tab

    def profile_of(user: str, tab: TabSession | None) -> str:
        state = rec.dialogue_state(user, tab.session_id) if tab else None
        return profile_markdown(rec.profile(user), state)

    def show_memory(user: str, tab: TabSession | None, request: gr.Request) -> tuple[Any, ...]:
        user = who(user, request)
        return profile_of(user, tab), *memory.view(user)

    def replay(path: str | None, tab: TabSession | None) -> tuple[Any, ...]:
        if not path:
            return gr.skip(), gr.skip(), gr.skip()
        try:
            events = list(load_jsonl(Path(path)))
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            name = Path(path).name
            log.info("web: replay of %s refused: %s", name, exc)
            gr.Warning(f"{name} is not a recteam trace export: {str(exc)[:300]}.")
            return gr.skip(), gr.skip(), None
        finally:
            files.discard_upload(Path(path))  # read once: no copy of it stays on the server
        gr.Info(f"Replaying {len(events)} events from the export.")
        return render_chat(events), candidate_rows(events), None

    def set_model(role: str):
        def handler(model: str, tab: TabSession | None) -> TabSession:
            tab = tab or TabSession()
            tab.models[role] = model
            return tab

        return handler

    with gr.Blocks(title="recteam", analytics_enabled=False) as demo:
        tab_state = gr.State(None)  # a TabSession, created on the tab's first action
        picks_state = gr.State([])
        gr.Markdown(
            "## 🎬 recteam · a team of agents finds your next film\nOpen any step to see what that agent read, thought, called and returned."
        )
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(
                    elem_id="chat",
                    height=620,
                    label="Chat",
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
                with gr.Column(elem_id="picks"):

                    @gr.render(inputs=[picks_state, tab_state])
                    def render_picks(picks: list[RecommendedItem], tab: TabSession | None) -> None:
                        if not picks:
                            gr.Markdown(
                                "_Your picks will appear here, with 👍 / 👎 to tell the team._"
                            )
                            return
                        gr.Markdown("**Your picks**: tell the team what you think")
                        for pick in picks:
                            with gr.Row(elem_classes="pick"):
                                gr.Markdown(
                                    f"**{pick.title}** ({pick.year}) · {', '.join(pick.genres[:3])}"
                                )
                                up = gr.Button(
                                    "👍", elem_classes="like", size="sm", scale=0, min_width=50
                                )
                                down = gr.Button(
                                    "👎", elem_classes="dislike", size="sm", scale=0, min_width=50
                                )
                                for button, liked in ((up, True), (down, False)):
                                    button.click(
                                        feedback,
                                        inputs=[
                                            gr.State(pick.id),
                                            gr.State(liked),
                                            user,
                                            tab_state,
                                        ],
                                        outputs=feedback_outputs,
                                    )

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
                        "Download this session's trace (JSON lines)", elem_id="export", value=None
                    )
                    replay_file = gr.File(
                        label="Open an exported trace to replay it",
                        elem_id="replay-file",
                        file_types=[".jsonl"],
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
        feedback_outputs = [chat, profile, tab_state, picks_state, export, *memory_outputs]
        outputs = [chat, message, profile, candidates, tab_state, picks_state, export]
        outputs += memory_outputs
        limit = settings.ui.concurrency
        send_btn.click(
            send,
            inputs=[message, user, tab_state],
            outputs=outputs,
            api_name="send",
            concurrency_limit=limit,
        )
        message.submit(
            send,
            inputs=[message, user, tab_state],
            outputs=outputs,
            api_visibility="private",
            concurrency_limit=limit,
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
                picks_state,
                export,
                confirm_row,
                *memory_outputs,
                memory.file,
            ],
            api_name="forget",
        )
        replay_file.upload(
            replay, inputs=[replay_file, tab_state], outputs=[chat, candidates, replay_file]
        )
        user.change(
            show_memory,
            inputs=[user, tab_state],
            outputs=[profile, *memory_outputs],
            api_visibility="private",
        )
        memory.wire(user, tab_state, profile, who, profile_of)

        # The name is kept in the browser (encrypted with this store's own secret, so it
        # survives a server restart): a reload or a return visit is the same person.
        kept_name = gr.BrowserState(
            "", storage_key="recteam-name", secret=browser_secret(settings.memory.path)
        )

        def on_load(saved: str | None, request: gr.Request) -> tuple[Any, ...]:
            default = (saved or "").strip()[:200] or f"guest-{uuid.uuid4().hex[:6]}"
            name = who(None, request, default=default)
            return name, name, profile_markdown(rec.profile(name)), *memory.view(name)

        # A known name (typed, or the login) is greeted when the tab opens or the name is entered.
        greet_io: dict[str, Any] = {"inputs": [user, tab_state], "outputs": [chat, tab_state]}
        demo.load(
            on_load, inputs=[kept_name], outputs=[user, kept_name, profile, *memory_outputs]
        ).then(welcome, **greet_io, api_visibility="private")
        for entered in (user.submit, user.blur):
            entered(welcome, **greet_io, api_visibility="private").then(
                lambda name: (name or "").strip(),
                inputs=user,
                outputs=kept_name,
                api_visibility="private",
            )

        # A plain API for scripts (gradio_client): one feedback call without the picks panel,
        # and the caller's memory as the panel shows it.
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
