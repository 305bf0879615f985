"""The web app as a person meets it: `python -m recteam serve` in a subprocess, offline policy, a
fresh memory folder and the 62-film fixture catalog (ingested on its first start).

Test files that need it say `pytest_plugins = ["tests.ui_server"]` and take the session-scoped
`live_app` fixture: the app's base URL, e.g. "http://127.0.0.1:41234/" (a str, with the app's log
as `.log`). It is started once per pytest run, on a free loopback port, and stopped with all its
children at the end. The `app_output` fixture adds what the app printed during a test to that
test's report, shown when it fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["LiveApp", "app_output", "live_app", "start_app", "stop_app"]

FILMS = Path(__file__).parent / "fixtures" / "films.jsonl"
START_TIMEOUT_S = 120.0


class LiveApp(str):
    """The running app's URL, with its log file."""

    log: Path

    def __new__(cls, url: str, log: Path) -> LiveApp:
        app = super().__new__(cls, url)
        app.log = log
        return app

    def output_since(self, offset: int) -> str:
        with self.log.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(log: Path, lines: int = 40) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_app(workdir: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Starts the app with its memory under `workdir` and waits until it serves its page.
    Returns the process, its URL and its log file; fails the test with the log's tail if it
    exits or does not answer within START_TIMEOUT_S."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/"
    log = workdir / "serve.log"
    # Nothing from the developer's settings: no RECTEAM_* variables; the working directory (where
    # recteam.toml and .env are looked for) is the empty workdir.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTEAM_")}
    env.update(
        RECTEAM_MEMORY__PATH=str(workdir / "memory"),
        RECTEAM_CATALOG__PATH=str(FILMS),
        RECTEAM_LLM__MODEL="offline",
        XDG_DATA_HOME=str(workdir / "xdg"),
        GRADIO_TEMP_DIR=str(workdir / "gradio"),  # uploads and downloads stay in the workdir
        TMPDIR=str(workdir),
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    command = [sys.executable, "-m", "recteam", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop_app ends its children too
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers(url):
        if process.poll() is not None:
            pytest.fail(
                f"the app exited with code {process.returncode} before serving {url}:\n{_tail(log)}",
                pytrace=False,
            )
        if time.monotonic() > deadline:
            stop_app(process)
            pytest.fail(
                f"the app did not answer at {url} within {START_TIMEOUT_S:.0f} s:\n{_tail(log)}",
                pytrace=False,
            )
        time.sleep(0.25)
    return process, url, log


def stop_app(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM to the app's process group, SIGKILL if it is still there after `grace_s`."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace_s)
    except ProcessLookupError:
        pass


def _port_taken(log: Path) -> bool:
    """The app stopped because another process took its port after free_port() found it free."""
    return "Cannot find empty port" in _tail(log) or "address already in use" in _tail(log)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The running web app's base URL (shared by every test of the run)."""
    for attempt in range(3):
        workdir = tmp_path_factory.mktemp("live-app")
        try:
            process, url, log = start_app(workdir)
            break
        except pytest.fail.Exception:
            if attempt == 2 or not _port_taken(workdir / "serve.log"):
                raise
    try:
        yield LiveApp(url, log)
    finally:
        stop_app(process)


@pytest.fixture
def app_output(live_app: LiveApp, request: pytest.FixtureRequest) -> Iterator[None]:
    """Puts what the app printed during the test in the test's report ("Captured app output")."""
    offset = live_app.log.stat().st_size
    yield
    request.node.add_report_section("call", "app output", live_app.output_since(offset))
