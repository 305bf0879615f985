"""The web app under several people at once, run as a deployment runs it.

    uv run python -m recteam.evaluation.bench_web [--sessions 10] [--turns 3]

`recteam serve` runs in a process of its own on a temporary store (it prepares the shipped
catalog on its first start, about a minute), offline policy; --sessions gradio_client sessions
(load_ui: one thread each, /send then /panels as the page does) send --turns messages each. Prints
load_ui's table (turn time, first agent step, the team's own time, streamed updates: p50 / p95 /
max), the app's CPU time per turn and the machine's load before and after. Not a timed test.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from recteam.evaluation.load_ui import process_cpu_s, report, run_load

__all__ = ["main", "serving"]


@contextlib.contextmanager
def serving(
    folder: Path, config: str = "", env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """`recteam serve` with its memory under `folder` and `config` as its recteam.toml, on a
    free loopback port; yields (url, process id) once its page answers, and stops it after."""
    (folder / "recteam.toml").write_text(config)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RECTEAM_")}
    clean.update({"RECTEAM_MEMORY__PATH": str(folder / "memory"), **(env or {})})
    app = subprocess.Popen(
        [sys.executable, "-m", "recteam", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        env=clean,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for(url, app)
        yield url, app.pid
    finally:
        stop(app)


def _wait_for(url: str, app: subprocess.Popen[bytes], timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise SystemExit(f"the app exited with code {app.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the app did not answer at {url} within {timeout_s:.0f} s")


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10, help="people at once")
    parser.add_argument("--turns", type=int, default=3, help="messages each")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, serving(Path(tmp)) as (url, pid):
        run_load(url, sessions=2, turns=1, timeout_s=120)  # warm-up: first turns fill caches
        load = os.getloadavg()[0]
        cpu: list[float] = []  # from the first message sent (connecting is not a turn's cost)
        sessions, wall = run_load(
            url,
            args.sessions,
            args.turns,
            timeout_s=120,
            on_start=lambda: cpu.append(process_cpu_s(pid)),
        )
        ok = report(url, sessions, wall)
        turns = sum(t.ok for s in sessions for t in s.turns) or 1
        spent = process_cpu_s(pid) - cpu[0]
        print(f"{'machine load':22} {load:7.1f} -> {os.getloadavg()[0]:.1f}")
        print(f"{'app CPU per turn':22} {spent / turns:7.3f} s ({spent:.1f} s in all)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
