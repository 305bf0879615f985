"""`recteam bench --cli`: what a person waits for from the command line, as whole processes.

- `recteam --help`;
- `recteam ask "Recommend a comedy from the 1990s" --user bench-cli --json` on the configured
  store (prepared first: the first start's ingest and the linker's first build are not counted);
- the same `ask` with no bytecode to read (PYTHONPYCACHEPREFIX at an empty folder, nothing
  written): every module compiled at every start, as in a fresh clone whose install did not compile
  (make install does) where Python writes no cache (PYTHONDONTWRITEBYTECODE, as in CI);
- `recteam serve` on a free port until its page answers (a restart: the store already prepared).

The memories the timed turns leave for the user `bench-cli` are deleted at the end.

Each is run `runs` times after one warm-up; the median and the range of wall seconds, the CPU
seconds and the process's peak memory (its own accounting, from wait4) are printed with the
machine's load average before and after, since on a shared machine the load moves the figures.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["ASK", "CASES", "CliFigure", "cli_figures", "no_bytecode_env", "report"]

ASK = "Recommend a comedy from the 1990s"
USER = "bench-cli"


@dataclass
class CliFigure:
    name: str
    command: str
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    load_before: str = ""
    load_after: str = ""

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall_s)


def _load() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "n/a"


def _recteam(*args: str) -> list[str]:
    return [sys.executable, "-m", "recteam", *args]


def _wait(proc: subprocess.Popen[bytes], started: float) -> tuple[float, float, float]:
    """(wall s, cpu s, peak MB) of a child that is ending."""
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0  # reaped here; Popen must not wait for it again
    wall = time.perf_counter() - started
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _run_once(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env} if env else None,
    )
    return _wait(proc, started)


def no_bytecode_env(empty: str) -> dict[str, str]:
    """Python reads bytecode only from `empty` (an empty folder) and writes none."""
    return {"PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_once(timeout: float = 120.0) -> tuple[float, float, float]:
    """Seconds from starting `recteam serve` until its page answers; then it is stopped."""
    port = _free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        _recteam("serve", "--port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ready = None
    try:
        while time.perf_counter() - started < timeout and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        ready = time.perf_counter() - started
                        break
            except OSError:
                time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.terminate()
    _, cpu, peak = _wait(proc, started) if proc.returncode is None else (0.0, 0.0, 0.0)
    if ready is None:
        raise RuntimeError("recteam serve did not answer (is the port free, the store usable?)")
    return ready, cpu, peak


CASES = ("--help", "ask --json", "ask, no .pyc", "serve ready")


def cli_figures(
    runs: int = 5,
    log: Callable[[str], None] = lambda _: None,
    only: Sequence[str] = CASES,
) -> list[CliFigure]:
    """The figures of the commands named in `only` (CASES: all)."""
    ask = _recteam("ask", ASK, "--user", USER, "--json")
    with tempfile.TemporaryDirectory(prefix="recteam-no-pyc-") as empty:
        cases: list[tuple[str, str, Callable[[], tuple[float, float, float]]]] = [
            ("--help", "recteam --help", lambda: _run_once(_recteam("--help"))),
            ("ask --json", f'recteam ask "{ASK}" --user {USER} --json', lambda: _run_once(ask)),
            (
                "ask, no .pyc",
                "PYTHONPYCACHEPREFIX=<empty folder> PYTHONDONTWRITEBYTECODE=1 the same ask",
                lambda: _run_once(ask, env=no_bytecode_env(empty)),
            ),
            ("serve ready", "recteam serve (until its page answers)", _serve_once),
        ]
        unknown = set(only) - {name for name, _, _ in cases}
        if unknown:
            raise ValueError(f"no such case: {sorted(unknown)}")
        figures = []
        for name, command, once in cases:
            if name not in only:
                continue
            log(f"{name}: warm-up")
            once()  # prepares the store and the cached linker on a first run; not counted
            fig = CliFigure(name, command, load_before=_load())
            for i in range(runs):
                log(f"{name}: run {i + 1} of {runs}")
                wall, cpu, peak = once()
                fig.wall_s.append(wall)
                fig.cpu_s.append(cpu)
                fig.peak_mb.append(peak)
            fig.load_after = _load()
            figures.append(fig)
    # What the timed turns remembered about the bench's user goes again.
    if any(name.startswith("ask") for name in only):
        _run_once(_recteam("memory", "delete", "--user", USER, "--all", "--yes"))
    return figures


def report(figures: Sequence[CliFigure]) -> list[str]:
    lines = [
        f"{'command':<12} {'wall s median':>13} {'(min-max)':>13} {'cpu s':>6} {'peak MB':>8}  load (1/5/15 min) before -> after"
    ]
    for f in figures:
        lines.append(
            f"{f.name:<12} {f.median_wall:>13.2f} {f'({min(f.wall_s):.2f}-{max(f.wall_s):.2f})':>13} "
            f"{statistics.median(f.cpu_s):>6.2f} {max(f.peak_mb):>8.0f}  {f.load_before} -> {f.load_after}"
        )
    lines.append(
        "(whole processes started with this Python; bytecode caching as in this environment: "
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})"
    )
    return lines
