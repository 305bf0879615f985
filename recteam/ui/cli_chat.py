"""`recteam chat` and `recteam ask`: the team in the terminal."""

from __future__ import annotations

import contextlib
import gc
import html
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from recteam.errors import RecteamError
from recteam.ui.cli import (
    app,
    console,
    ensure_catalog,
    err_console,
    fail,
    get_settings,
    get_store,
    json_help,
)

if TYPE_CHECKING:  # the trace models (pydantic) and the team load when a command runs
    from recteam.agents.trace import TraceEvent, TurnFinished
    from recteam.orchestration.session import Recommender

__all__: list[str] = []


@contextlib.contextmanager
def start_up() -> Iterator[None]:
    """Around a command's start: the modules, the store, the catalog index, the linker (and the
    web app) are a few hundred thousand objects that live as long as the process, and start-up
    leaves little garbage (~3,400 objects in cycles after an `ask`'s start); the cyclic collector
    scanned that growing heap again and again: 0.14-0.24 s of collections in one `ask`, 0.03 s
    with this. So it is off while the command starts; then what start-up made is frozen
    (gc.freeze: never scanned again, by later collections either; start-up's few cycles stay)
    and collection resumes for the command's own work."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def _recommender(model: str | None) -> Recommender:
    # Imported here: the team pulls in AutoGen, which `recteam search` does not need.
    from recteam.orchestration.session import Recommender, build_role_clients

    settings = get_settings()
    llm = settings.llm.every_role(model) if model else settings.llm
    store = get_store()
    ensure_catalog(store)
    with err_console.status("Loading the catalog index…"):  # progress: stderr, not the output
        return Recommender(store, llm, settings.team, build_role_clients(llm))


def _print_reply(done: TurnFinished, streamed: str = "") -> None:
    """The reply, unless it was streamed as it was written and stayed the same."""
    from recteam.ui.trace_text import turn_footer

    console.print()
    if not streamed or " ".join(html.unescape(done.reply).split()) != " ".join(streamed.split()):
        if streamed:
            console.print("[dim](revised)[/]")
        console.print(done.reply, markup=False, highlight=False)
    if done.error:
        err_console.print(f"[red]error:[/] {done.error}")
    if done.offline_only:
        err_console.print(
            "[yellow]warning:[/] every configured model failed this turn, so the offline policy "
            f"answered alone ({', '.join(done.fell_back)}); `recteam models check` says why"
        )
    console.print(turn_footer(done))


async def _turn(
    rec: Recommender, user: str, message: str, session: str, verbose: bool, live: bool
) -> list[TraceEvent]:
    from recteam.agents.trace import ReplyChunk, TurnFinished
    from recteam.ui.trace_text import event_line

    events: list[TraceEvent] = []
    streamed: list[str] = []
    async for event in rec.run_turn(user, message, session):
        events.append(event)
        if live and isinstance(event, ReplyChunk):
            if not streamed:
                console.print()
            streamed.append(event.text)
            console.print(event.text, end="", markup=False, highlight=False, soft_wrap=True)
            continue
        if live and (line := event_line(event, verbose)):
            if streamed:
                console.print()
            console.print(line, highlight=False)
        if live and isinstance(event, TurnFinished):
            _print_reply(event, "".join(streamed))
    return events


ModelOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional on 3.11
    typer.Option(
        "--model",
        "-m",
        help="LLM for every agent this run: any litellm model string, or 'offline'.",
    ),
]
UserOpt = Annotated[
    str,
    typer.Option(
        "--user", "-u", help="Who is chatting: memory (profile, feedback) is kept per user."
    ),
]
SessionOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--session",
        "-s",
        help="Continue this session's dialogue (its id is printed on every turn).",
    ),
]
TraceOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--trace-out", help="Write every trace event of this run to FILE as JSON lines."),
]


@app.command()
def chat(
    user: UserOpt = "me",
    model: ModelOpt = None,
    session: SessionOpt = None,
    trace_out: TraceOpt = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Show every agent's thoughts, tool calls and memory access."
        ),
    ] = False,
) -> None:
    """Chat with the team in the terminal; each agent's step is shown as it finishes.

    Type /quit to leave, /trace to toggle the detailed trace, /profile to see what the team
    remembers of you, /forget to delete it.
    """
    import asyncio

    from recteam.agents.trace import dump_jsonl

    with start_up():
        rec = _recommender(model)
    session_id = session or uuid.uuid4().hex[:12]
    console.print(
        f"[bold]recteam[/] - session {session_id}, user {user!r}. Tell me what you'd like to watch."
    )
    log: list[TraceEvent] = []
    try:
        while True:
            try:
                message = console.input("[bold green]you>[/] ").strip()
            except (EOFError, KeyboardInterrupt):
                console.print()
                break
            if not message:
                continue
            if message in ("/quit", "/exit"):
                break
            if message == "/trace":
                verbose = not verbose
                console.print(f"detailed trace {'on' if verbose else 'off'}")
                continue
            if message == "/profile":
                console.print_json(rec.profile(user).model_dump_json())
                continue
            if message == "/forget":
                console.print(f"Deleted {rec.forget(user)} memories of {user!r}.")
                continue
            try:
                log += asyncio.run(_turn(rec, user, message, session_id, verbose, live=True))
            except RecteamError as exc:
                err_console.print(f"[red]error:[/] {exc}")
    finally:
        if trace_out:
            n = dump_jsonl(log, trace_out)
            console.print(f"Wrote {n} trace events to {trace_out}.")


@app.command()
def ask(
    message: Annotated[str, typer.Argument(help="What you say to the team.")],
    user: UserOpt = "me",
    session: SessionOpt = None,
    model: ModelOpt = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help(
                'One JSON object: {"act", "reply", "items", "trace", "session", "fell_back", '
                '"offline_only"}.'
            ),
        ),
    ] = False,
    trace_out: TraceOpt = None,
) -> None:
    """Run one turn without a prompt. Pass --session to continue a dialogue across calls.

    Exit code 0 when the team answered; 3 when every configured model failed and the offline
    policy answered alone (the reply is still printed, "offline_only" is true); 1 when the turn
    failed (nothing on stdout, the reason on stderr); 2 for a setting or input to fix."""
    import asyncio

    from recteam.agents.trace import TurnFinished, dump_jsonl
    from recteam.ui.trace_text import event_summary

    with start_up():
        rec = _recommender(model)
    session_id = session or uuid.uuid4().hex[:12]
    events = asyncio.run(_turn(rec, user, message, session_id, verbose=False, live=not as_json))
    done = next(e for e in reversed(events) if isinstance(e, TurnFinished))
    if trace_out:
        dump_jsonl(events, trace_out)
    if done.error:  # no answer: stdout stays empty, the reason is on stderr
        raise fail(f"the turn failed: {done.error}") if as_json else typer.Exit(1)
    if as_json:
        out = {
            "act": done.act,
            "reply": done.reply,
            "items": [
                i.model_dump(include={"id", "title", "year", "genres", "reason"})
                for i in done.items
            ],
            "trace": [event_summary(e) for e in events if getattr(e, "agent", None)],
            "session": session_id,
            "fell_back": done.fell_back,
            "offline_only": done.offline_only,
        }
        print(json.dumps(out, ensure_ascii=False))
        if done.offline_only:
            err_console.print(
                "[yellow]warning:[/] every configured model failed this turn, so the offline "
                "policy answered alone; `recteam models check` says why"
            )
    else:
        console.print(f"[dim]session {session_id} (continue with --session {session_id})[/]")
    if done.offline_only:
        raise typer.Exit(3)


@app.command()
def replay(
    path: Annotated[Path, typer.Argument(help="A trace exported with --trace-out (JSON lines).")],
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Show every thought, tool call and memory access."),
    ] = True,
) -> None:
    """Show an exported session again, turn by turn, as it was traced."""
    from recteam.agents.trace import TurnFinished, TurnStarted, load_jsonl
    from recteam.ui.trace_text import event_line

    if not path.exists():
        raise RecteamError(f"{path}: no such file")
    try:
        events = list(load_jsonl(path))
    except ValueError as exc:
        raise RecteamError(
            f"{path} is not a recteam trace export ({str(exc).splitlines()[0]})"
        ) from None
    for event in events:
        if isinstance(event, TurnStarted):
            console.print(f"\n[bold green]{event.user_id}>[/] {event.message}", highlight=False)
        elif isinstance(event, TurnFinished):
            _print_reply(event)
        elif line := event_line(event, verbose):
            console.print(line, highlight=False)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: ui.host).")
    ] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default: ui.port, 7860).")] = None,  # noqa: UP045
    model: ModelOpt = None,
) -> None:
    """Start the browser chat (what `make run` does): live agent traces, your profile, the
    candidate bus, like/dislike, per-agent models, trace export and replay."""
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local app
    import socket

    from recteam.ui.auth import load_logins, require_logins_off_loopback
    from recteam.ui.user_files import CACHE_ENV, default_ui_cache, private_dir

    settings = get_settings()
    host, port = host or settings.ui.host, port or settings.ui.port
    auth = settings.ui.auth.get_secret_value() if settings.ui.auth else None
    logins = load_logins(settings.ui.auth_file, auth)
    require_logins_off_loopback(host, logins)  # a name typed by anyone is no identity
    with socket.socket() as probe:  # say so before loading anything, not in a traceback after
        if probe.connect_ex((host, port)) == 0:
            raise RecteamError(
                f"port {port} on {host} is already in use; stop what runs there, or set ui.port (or --port)"
            )
    # Gradio's uploads and the downloads it serves: a private folder, not the shared temp folder.
    if not os.environ.get(CACHE_ENV):
        os.environ[CACHE_ENV] = str(private_dir(default_ui_cache(settings.memory.path)))

    with start_up():
        from recteam.memory.bert_numpy import one_blas_thread_from_now_on
        from recteam.ui.app import PAGE_ASSETS, build_app, start_warm_up

        rec = _recommender(model)  # a first start's catalog ingest, on every BLAS thread
        one_blas_thread_from_now_on()  # from here on, many small batches at once (bert_numpy)
        demo = build_app(rec, settings, signed_in=bool(logins))
        demo.queue(default_concurrency_limit=settings.ui.concurrency)
    console.print(
        f"recteam is ready: open http://{host}:{port} in your browser"
        + (f" and sign in ({len(logins.users)} login(s))." if logins else ".")
    )
    demo.launch(
        server_name=host,
        server_port=port,
        **PAGE_ASSETS,
        show_error=False,
        quiet=False,
        share=False,
        # Gradio's login route awaits a coroutine function; its annotation names sync ones only.
        auth=logins.check if logins else None,  # type: ignore[arg-type]
        auth_message="Sign in: recteam remembers each person by their login." if logins else None,
        prevent_thread_lock=True,  # serving now; the warm-up runs beside it, then we wait
    )
    # What the first person's first turn would pay (Gradio's first event imports matplotlib on
    # the event loop; the memory collections open; caches fill): paid now, in the background.
    start_warm_up(rec, settings)
    demo.block_thread()
