"""Load on the running web app through its API: N sessions at once, each a different user.

    recteam serve &                      # or `make run`; any model setting
    uv run python -m recteam.evaluation.load_ui [--url http://127.0.0.1:7860]
        [--sessions 10] [--turns 3] [--timeout 120] [--pid APP_PID]

Starts nothing itself. Each session is a gradio_client Client of its own (a browser tab: its own
gr.State), driven from its own thread, with its own user name; it sends --turns messages one after
another, each waiting for the previous reply. Per turn it measures the time from sending to the
final reply and the side panels drawn after it (/send, then /panels, as the page does); to the
first streamed update that shows an agent's step (what a person first sees
happen); the turn's own duration as the app reports it (the rest of the turn time is queueing,
rendering and streaming); and the number of streamed updates. At the end every session's chat
must hold exactly its own messages, in order, and none of another session's (cross-talk).

Prints a small table: p50 / p95 / max of those, turns completed, throughput, cross-talk. Exit code
0 when every turn completed and no session saw another's text, 1 otherwise. Loopback addresses
only; every turn is bounded by --timeout and the whole run by sessions x turns x timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from recteam.agents.messages import ROLES

__all__ = ["main", "run_load"]

GENRES = [
    "crime",
    "comedy",
    "drama",
    "action",
    "horror",
    "romance",
    "science fiction",
    "thriller",
    "western",
    "animation",
]
FOLLOW_UPS = [
    "I want a {genre} film{tag}",
    "more {genre} films please{tag}",
    "any {genre} film from another decade{tag}",
    "something lighter, still {genre}{tag}",
]
POLL_S = (
    0.05  # each session's thread looks at its job this often (the client runs on this machine too)
)


@dataclass
class Turn:
    message: str
    ok: bool = False
    seconds: float = math.nan
    first_step_s: float = math.nan
    team_s: float = math.nan  # the turn's own duration, as the app reports it
    updates: int = 0
    error: str = ""


@dataclass
class Session:
    user: str
    messages: list[str]
    turns: list[Turn] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def session_messages(index: int, turns: int) -> list[str]:
    """Distinct sentences per session, so a session's text found in another's chat is cross-talk."""
    genre = GENRES[index % len(GENRES)]
    tag = f" (take {index // len(GENRES) + 1})" if index >= len(GENRES) else ""
    return [
        FOLLOW_UPS[t % len(FOLLOW_UPS)].format(genre=genre, tag=tag)
        + (f" ({t // len(FOLLOW_UPS) + 1})" if t >= len(FOLLOW_UPS) else "")
        for t in range(turns)
    ]


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _shows_a_step(output: Any) -> bool:
    """True when a streamed update's chat holds an agent's step (a thought titled by its agent)."""
    history = output[0] if isinstance(output, (list, tuple)) and output else []
    for message in history if isinstance(history, list) else []:
        title = str(((message or {}).get("metadata") or {}).get("title") or "")
        if any(role in title for role in ROLES):
            return True
    return False


def _team_seconds(history: list[dict[str, Any]]) -> float:
    """The last turn's duration from its group message (a thought with a duration and no parent)."""
    for message in reversed(history):
        meta = message.get("metadata") or {}
        if meta.get("duration") is not None and not meta.get("parent_id"):
            return float(meta["duration"])
    return math.nan


def _run_turn(client: Any, session: Session, message: str, timeout_s: float) -> Turn:
    turn = Turn(message)
    start = time.perf_counter()
    deadline = start + timeout_s
    job = client.submit(message, session.user, api_name="/send")
    seen = 0
    while not job.done():
        outputs = job.outputs()
        if math.isnan(turn.first_step_s) and any(_shows_a_step(o) for o in outputs[seen:]):
            turn.first_step_s = time.perf_counter() - start
        seen = len(outputs)
        if time.perf_counter() > deadline:
            job.cancel()
            turn.error = f"no reply within {timeout_s:.0f} s"
            return turn
        time.sleep(POLL_S)
    try:
        final = job.result(timeout=max(1.0, deadline - time.perf_counter()))
    except Exception as exc:  # the turn failed on the server: record it, go on with the others
        turn.error = f"{type(exc).__name__}: {str(exc)[:200]}"
        return turn
    try:  # what the page does next: the side panels, once the turn is over
        client.predict(session.user, api_name="/panels")
    except Exception as exc:
        turn.error = f"the panels failed: {type(exc).__name__}: {str(exc)[:200]}"
        return turn
    turn.seconds = time.perf_counter() - start
    if math.isnan(turn.first_step_s) and _shows_a_step(final):
        turn.first_step_s = turn.seconds  # came all at once, with the reply
    session.history = list(final[0])
    turn.team_s = _team_seconds(session.history)
    turn.updates = len(job.outputs())
    turn.ok = bool(session.history) and session.history[-1].get("role") == "assistant"
    if not turn.ok:
        turn.error = "the final update has no reply"
    return turn


def _run_session(url: str, session: Session, timeout_s: float, start: threading.Barrier) -> None:
    from gradio_client import Client  # imported here: `--help` stays fast

    try:
        client = Client(url, verbose=False)
    except Exception as exc:
        session.turns = [Turn(m, error=f"cannot connect: {exc}") for m in session.messages]
        start.abort()
        return
    with contextlib.suppress(threading.BrokenBarrierError):  # a session could not connect
        start.wait(timeout=timeout_s)  # every session sends its first message at the same time
    for message in session.messages:
        turn = _run_turn(client, session, message, timeout_s)
        session.turns.append(turn)
        if not turn.ok:
            break
    session.turns += [Turn(m, error="not sent") for m in session.messages[len(session.turns) :]]


def cross_talk(sessions: Sequence[Session]) -> list[str]:
    """Every problem found: a session whose chat lacks its own messages, has them out of order, or
    shows another session's message."""
    problems = []
    for s in sessions:
        if not s.history:
            continue
        said = [_text(m) for m in s.history if m.get("role") == "user"]
        sent = [t.message for t in s.turns if t.ok]
        if said != sent:
            problems.append(f"{s.user}: its chat shows {said!r}, it sent {sent!r}")
        everything = "\n".join(_text(m) for m in s.history)
        for other in sessions:
            if other is not s:
                problems += [
                    f"{s.user}'s chat shows {other.user}'s message {m!r}"
                    for m in other.messages
                    if m in everything
                ]
    return problems


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise SystemExit(
        f"load_ui: {url} is not a loopback address; this script only loads a local app"
    )


def run_load(
    url: str,
    sessions: int,
    turns: int,
    timeout_s: float,
    on_start: Callable[[], None] | None = None,
) -> tuple[list[Session], float]:
    """Runs the sessions; returns them and the wall time from the moment every session is
    connected and sends its first message (`on_start` is called then: a caller's CPU reading)
    to the last reply. Connecting is left out: a gradio_client fetches the app's whole config,
    which costs the app more than a turn, and a person's page does that once, not per turn."""
    check_loopback(url)
    for key in ("NO_PROXY", "no_proxy"):  # a proxy set for the outside world must not get these
        os.environ[key] = ",".join(filter(None, [os.environ.get(key), "127.0.0.1", "localhost"]))
    run = uuid.uuid4().hex[:6]
    plan = [
        Session(user=f"load-{run}-{i + 1:02d}", messages=session_messages(i, turns))
        for i in range(sessions)
    ]
    started = [time.perf_counter()]  # replaced when every session is connected

    def go() -> None:
        started[0] = time.perf_counter()
        if on_start is not None:
            on_start()

    barrier = threading.Barrier(sessions, action=go)
    with ThreadPoolExecutor(max_workers=sessions, thread_name_prefix="session") as pool:
        futures = [pool.submit(_run_session, url, s, timeout_s, barrier) for s in plan]
        for f in futures:
            f.result(timeout=timeout_s * (turns + 1) + 30)
    return plan, time.perf_counter() - started[0]


def report(url: str, sessions: list[Session], wall_s: float) -> bool:
    turns = [t for s in sessions for t in s.turns]
    done = [t for t in turns if t.ok]
    problems = cross_talk(sessions)
    rows = [
        ("turn time (s)", [t.seconds for t in done]),
        ("first agent step (s)", [t.first_step_s for t in done]),
        ("team's own time (s)", [t.team_s for t in done]),
        ("updates per turn", [float(t.updates) for t in done]),
    ]
    n_turns = len(sessions[0].messages) if sessions else 0
    print(f"{len(sessions)} sessions x {n_turns} turns against {url}, {wall_s:.1f} s in all")
    print(f"{'':22} {'p50':>7} {'p95':>7} {'max':>7}")
    for name, values in rows:
        print(
            f"{name:22} {percentile(values, 50):7.2f} {percentile(values, 95):7.2f}"
            f" {percentile(values, 100):7.2f}"
        )
    print(f"{'turns completed':22} {f'{len(done)}/{len(turns)}':>7}")
    print(f"{'throughput':22} {len(done) / wall_s if wall_s else 0:7.2f} turns/s")
    print(f"{'cross-talk':22} {'none' if not problems else len(problems):>7}")
    for t in turns:
        if not t.ok:
            print(f"  failed: {t.message!r}: {t.error}")
    for problem in problems:
        print(f"  cross-talk: {problem}")
    return len(done) == len(turns) and not problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recteam.evaluation.load_ui", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--url", default="http://127.0.0.1:7860", help="the running app")
    parser.add_argument("--sessions", type=int, default=10, help="sessions (users) at once")
    parser.add_argument("--turns", type=int, default=3, help="messages per session")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per turn")
    parser.add_argument(
        "--pid",
        type=int,
        help="the app's process id (this machine): prints the CPU time it spent per turn",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= 200 or not 1 <= args.turns <= 50 or args.timeout <= 0:
        parser.error("--sessions must be 1-200, --turns 1-50 and --timeout positive")
    cpu: list[float] = []  # the app's CPU when the sessions start sending, not connecting
    load = os.getloadavg()[0]
    sessions, wall_s = run_load(
        args.url,
        args.sessions,
        args.turns,
        args.timeout,
        on_start=(lambda: cpu.append(process_cpu_s(args.pid))) if args.pid else None,
    )
    ok = report(args.url, sessions, wall_s)
    print(f"{'machine load':22} {load:7.1f} -> {os.getloadavg()[0]:.1f}")
    if args.pid and cpu:
        turns = sum(t.ok for s in sessions for t in s.turns) or 1
        spent = process_cpu_s(args.pid) - cpu[0]
        print(f"{'app CPU per turn':22} {spent / turns:7.3f} s ({spent:.1f} s in all)")
    return 0 if ok else 1


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds process `pid` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    sys.exit(main())
