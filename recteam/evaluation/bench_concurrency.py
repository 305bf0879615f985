"""Do turns that wait for a model wait side by side, or one behind another?

    uv run python -m recteam.evaluation.bench_concurrency [--users 10] [--delay 1.0] [--no-web]

Every LLM role is served by a local OpenAI-compatible stub (behind litellm's real HTTP path) that
takes --delay seconds per call, as a slow network model would. On the full shipped catalog it runs
one turn alone, then --users turns of different users at once, first inside the process
(Recommender.run_turn) and then through the web app's API: the stub, `recteam serve` and the
sessions (one gradio_client each, /send then /panels as the page does) each in a process of their
own, as in a deployment.

Prints the wall time of the one turn, of all turns at once, and their ratio: about 1 when the
turns wait for the network concurrently, about --users when they queue; and the CPU a turn took
while they ran (ten turns share one core's worth of Python: their CPU is what the ratio pays for
above 1). Not a timed test: the
figures are for the notes, with the machine's load printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recteam.agents.messages import ROLES
from recteam.agents.settings import TeamSettings
from recteam.agents.trace import TurnFinished
from recteam.evaluation.bench_llm import KEY_ENV, stub_settings
from recteam.evaluation.bench_turn import instant_answer, percentile, shipped_store
from recteam.evaluation.bench_web import serving, stop
from recteam.evaluation.load_ui import process_cpu_s, report, run_load
from recteam.evaluation.stub_server import MODEL_PREFIX, StubLLMServer
from recteam.orchestration.session import Recommender

__all__ = ["main"]

MESSAGES = ["I want a crime film from the 90s", "something funny with Jim Carrey"]


def _slow(delay: float) -> Any:
    def answer(role: str, data: dict[str, Any]) -> dict[str, Any]:
        time.sleep(delay)  # the stub's handler thread waits, as a remote model would
        return instant_answer(role, data)

    return answer


async def _turn(rec: Recommender, user: str, message: str) -> tuple[float, TurnFinished]:
    started = time.perf_counter()
    events = [e async for e in rec.run_turn(user, message, f"{user}-s")]
    done = next(e for e in reversed(events) if isinstance(e, TurnFinished))
    return time.perf_counter() - started, done


async def _in_process(rec: Recommender, users: int) -> tuple[float, float, list[float], float]:
    """(one turn alone, all turns at once, each of those, this process's CPU seconds a turn
    while they ran: the stub's threads included, it is a few ms a call)."""
    await _turn(rec, "warmup", MESSAGES[0])  # litellm's first client, the tokenizer
    alone, done = await _turn(rec, "alone", MESSAGES[0])
    if done.offline_only or done.error:
        raise SystemExit(f"the stub did not answer the turn: {done.error or done.fell_back}")
    started, cpu = time.perf_counter(), time.process_time()
    many = await asyncio.gather(
        *(_turn(rec, f"user-{i}", MESSAGES[i % len(MESSAGES)]) for i in range(users))
    )
    spent = (time.process_time() - cpu) / users
    return alone, time.perf_counter() - started, [seconds for seconds, _ in many], spent


def _web(users: int, delay: float) -> tuple[float, float, float]:
    """(one session's turn, all sessions' turns at once, the app's CPU seconds a turn while
    they ran) through the web app: the
    stub, the app (`recteam serve`) and the sessions (gradio_client) each in a process of their
    own, as in a deployment. The app prepares its own store on its first start."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        stub = subprocess.Popen(
            [sys.executable, "-m", "recteam.evaluation.stub_server", "--delay", str(delay)],
            stdout=subprocess.PIPE,
            text=True,
        )
        stack.callback(stop, stub)
        api_base = (stub.stdout.readline() if stub.stdout else "").strip()
        # Every LLM role at the stub, under a name that tells it which role asks (as bench_llm).
        roles = "".join(
            f'[llm.agents.{role}]\nmodel = "openai/{MODEL_PREFIX}{role}"\n'
            for role in ROLES
            if role != "searcher"
        )
        config = (
            f'[llm]\nmodel = "openai/{MODEL_PREFIX}default"\napi_base = "{api_base}"\n'
            f'api_key_env = "{KEY_ENV}"\n{roles}[team]\ncolike = false\n'
        )
        url, pid = stack.enter_context(serving(Path(tmp), config, {KEY_ENV: "stub-key"}))
        run_load(url, sessions=1, turns=1, timeout_s=120)  # warm-up
        one, _ = run_load(url, sessions=1, turns=1, timeout_s=120)
        cpu: list[float] = []  # from the first message sent (connecting is not a turn's cost)
        many, wall = run_load(
            url,
            sessions=users,
            turns=1,
            timeout_s=120,
            on_start=lambda: cpu.append(process_cpu_s(pid)),
        )
        spent = (process_cpu_s(pid) - cpu[0]) / users
        report(url, many, wall)
        return one[0].turns[0].seconds, wall, spent


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10, help="turns at once, one user each")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds the stub takes per call")
    parser.add_argument("--no-web", action="store_true", help="in-process turns only")
    args = parser.parse_args(argv)
    os.environ.setdefault(KEY_ENV, "stub-key")  # a placeholder the stub never reads
    load = os.getloadavg()[0]
    with shipped_store() as store, StubLLMServer(_slow(args.delay)) as stub:
        rec = Recommender(store, stub_settings(stub.api_base), TeamSettings(colike=False))
        calls = stub.requests
        alone, wall, each, cpu = asyncio.run(_in_process(rec, args.users))
        per_turn = (stub.requests - calls) / (args.users + 2)
        print(
            f"stub: {args.delay:g} s per model call, {per_turn:.1f} calls per turn; "
            f"load {load:.1f} -> {os.getloadavg()[0]:.1f}"
        )
        print(f"in process: one turn alone {alone:.2f} s")
        print(
            f"in process: {args.users} turns at once {wall:.2f} s in all "
            f"(each p50 {percentile(each, 50):.2f} s, p95 {percentile(each, 95):.2f} s); "
            f"ratio {wall / alone:.2f} (1 = side by side, {args.users} = one behind another); "
            f"CPU {cpu:.3f} s a turn"
        )
    if not args.no_web:
        one, web_wall, web_cpu = _web(args.users, args.delay)
        print(f"web: one turn alone {one:.2f} s")
        print(
            f"web: {args.users} sessions' turns at once {web_wall:.2f} s in all; "
            f"ratio {web_wall / one:.2f}; the app's CPU {web_cpu:.3f} s a turn"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
