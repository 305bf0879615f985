"""Who is who in the web app: on a loopback address a typed name is identity; on any other
address `recteam serve` refuses to start without logins, and with logins every API call acts for
the signed-in user, whatever user name a client sends."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client

from recteam.errors import ConfigError
from recteam.orchestration.settings import load_settings
from recteam.ui.auth import hash_password, is_loopback, load_logins, require_logins_off_loopback
from recteam.ui.user_files import user_key

FILMS = Path(__file__).parent / "fixtures" / "films.jsonl"
START_TIMEOUT_S = 120.0


# logins -------------------------------------------------------------------------------------------
def test_logins_from_a_file_and_the_environment(tmp_path: Path) -> None:
    auth_file = tmp_path / "logins"
    auth_file.write_text(f"# people\nana:{hash_password('s3cret')}\n\n  ben:plain pw  \n")
    logins = load_logins(auth_file, "cy:pw-cy, dee:pw:with:colons")

    assert sorted(logins.users) == ["ana", "ben", "cy", "dee"]
    assert logins.users["ana"].startswith("scrypt$131072$8$1$")  # a hash, not the password

    async def checks() -> list[bool]:
        return [
            await logins.check("ana", "s3cret"),
            await logins.check("ana", "S3cret"),
            await logins.check("ben", "plain pw"),
            await logins.check("cy", "pw-cy"),
            await logins.check("dee", "pw:with:colons"),
            await logins.check("eve", "pw-cy"),
        ]

    assert asyncio.run(checks()) == [True, False, True, True, True, False]


def test_a_bad_login_line_names_the_file_and_line(tmp_path: Path) -> None:
    auth_file = tmp_path / "logins"
    auth_file.write_text("ana:pw\nben\n")
    with pytest.raises(
        ConfigError, match=r"ui.auth_file .*logins:2: a login must be 'user:password'"
    ):
        load_logins(auth_file, None)
    auth_file.write_text("ana:scrypt$1$oops\n")
    with pytest.raises(ConfigError, match=r"logins:1: the password hash is not 'scrypt"):
        load_logins(auth_file, None)
    with pytest.raises(ConfigError, match="user 'ana' is given twice"):
        load_logins(None, "ana:a,ana:b")
    with pytest.raises(ConfigError, match=r"ui.auth_file: cannot read .*nowhere"):
        load_logins(tmp_path / "nowhere", None)


def test_the_logins_setting_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECTEAM_UI__AUTH", "ana:hunter2")
    settings = load_settings()
    assert settings.ui.auth is not None and settings.ui.auth.get_secret_value() == "ana:hunter2"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.ui)


def test_only_loopback_addresses_go_without_logins() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert is_loopback(host), host
        require_logins_off_loopback(host, load_logins(None, None))
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.org", ""):
        assert not is_loopback(host), host
        require_logins_off_loopback(host, load_logins(None, "ana:pw"))  # allowed with logins
    with pytest.raises(Exception, match="ui.auth_file"):
        require_logins_off_loopback("0.0.0.0", load_logins(None, None))


# serve --------------------------------------------------------------------------------------------
def _env(workdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTEAM_")}
    env.update(
        RECTEAM_MEMORY__PATH=str(workdir / "memory"),
        RECTEAM_CATALOG__PATH=str(FILMS),
        RECTEAM_LLM__MODEL="offline",
        XDG_DATA_HOME=str(workdir / "xdg"),
        GRADIO_TEMP_DIR=str(workdir / "gradio"),
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


def test_serve_off_loopback_without_logins_is_refused(tmp_path: Path) -> None:
    for args, extra in (
        (["--host", "0.0.0.0"], {}),
        ([], {"RECTEAM_UI__HOST": "192.0.2.10"}),  # from the settings, not only --host
    ):
        done = subprocess.run(
            [sys.executable, "-m", "recteam", "serve", *args, "--port", "7"],
            cwd=tmp_path,
            env=_env(tmp_path, **extra),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert "which other machines can reach" in lines[0]
        assert "ui.auth_file" in lines[0] and "ui.host" in lines[0]
        assert not (tmp_path / "memory").exists(), "it loaded the store before refusing"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _login_page_answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The app on every interface (0.0.0.0), allowed because it has logins: ana from a file
    (hashed), ben from the environment. Reached here through 127.0.0.1 only."""
    workdir = tmp_path_factory.mktemp("signed-app")
    (workdir / "logins").write_text(f"ana:{hash_password('pw-ana')}\n")
    port = _free_port()
    env = _env(
        workdir, RECTEAM_UI__AUTH_FILE=str(workdir / "logins"), RECTEAM_UI__AUTH="ben:pw-ben"
    )
    log = workdir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "recteam", "serve", "--host", "0.0.0.0", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not _login_page_answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the app did not start:\n{log.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.25)
        yield url, workdir
    finally:
        from tests.ui_server import stop_app

        stop_app(process)


def _memory_kinds(client: Client, user: str = "whoever") -> list[str]:
    """The kinds of the entries the memory panel lists for the caller."""
    choices = client.predict(user, api_name="/memory")[2]["choices"]
    return [label.split(" · ")[1] for label, _ in choices]


def test_without_the_right_password_there_is_no_app(signed_app: tuple[str, Path]) -> None:
    url, _ = signed_app
    with pytest.raises(Exception, match="(?i)incorrect credentials|401|login"):
        Client(url, auth=("ana", "wrong"), verbose=False)
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a bare Exception here
        Client(url, verbose=False).predict("hello", "ana", api_name="/send")


def test_api_calls_act_for_the_signed_in_user_whatever_name_is_sent(
    signed_app: tuple[str, Path], tmp_path: Path
) -> None:
    url, workdir = signed_app
    ana = Client(url, auth=("ana", "pw-ana"), verbose=False, download_files=str(tmp_path))
    ben = Client(url, auth=("ben", "pw-ben"), verbose=False, download_files=str(tmp_path))

    ben.predict("I want a crime film from the 90s", "ben", api_name="/send")
    bens = _memory_kinds(ben, "ben")
    assert "episode" in bens

    # ana says she is ben: the turn is remembered as ana's, ben's memory is unchanged
    ana.predict("something funny with Jim Carrey", "ben", api_name="/send")
    assert "episode" in _memory_kinds(ana, "ben")
    assert _memory_kinds(ben, "ben") == bens
    ana_files = workdir / "memory" / "user-files"
    assert list((ana_files / user_key("ana")).glob("recteam-trace-*.jsonl"))
    assert len(list((ana_files / user_key("ben")).glob("recteam-trace-*.jsonl"))) == 1

    # ana's export as "ben" is ana's; ana's forget-me as "ben" forgets ana, not ben
    exported = ana.predict("ben", api_name="/memory_export")
    assert Path(exported["value"]).name == f"recteam-memory-{user_key('ana')}.json"
    ana.predict("ben", api_name="/forget")
    assert _memory_kinds(ana, "ben") == []
    assert not (ana_files / user_key("ana")).exists()
    assert _memory_kinds(ben) == bens
    assert (ana_files / user_key("ben")).exists()
