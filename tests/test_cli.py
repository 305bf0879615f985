"""The command line as a person runs it: a real process, real store, real embeddings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from recteam.memory.user_memory import MemoryRecord
from recteam.ui import cli
from tests.conftest import FILMS


def recteam(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RECTEAM_")}
    full_env.update(
        {"RECTEAM_MEMORY__PATH": str(cwd / "store"), "RECTEAM_CATALOG__PATH": str(FILMS)}
    )
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "recteam", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_first_search_prepares_the_catalog_then_prints_json(tmp_path: Path) -> None:
    done = recteam(
        "search",
        "science fiction space",
        "--genre",
        "Science Fiction",
        "--year-min",
        "2010",
        "--like",
        "Gravity",
        "-k",
        "3",
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    # the first start's notice and progress go to stderr: stdout holds JSON only
    assert "First start: preparing the catalog" in done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 3
    assert all(set(r) == {"id", "title", "year", "genres", "score"} for r in rows)
    assert all(
        r["year"] >= 2010 and "Science Fiction" in r["genres"] and r["title"] != "Gravity"
        for r in rows
    )


def test_ingest_reports_bad_rows_and_a_summary(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("title,year\nMoon,2009\nOops,99999\n")
    done = recteam("ingest", str(bad), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "bad.csv:3: year" in done.stderr
    assert "Ingested 1 items (1 new, 0 updated)" in done.stdout and "items/s" in done.stdout


def test_a_wrong_setting_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    done = recteam("info", cwd=tmp_path, env={"RECTEAM_MEMORY__BACKEND": "qdrnt"})
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "memory.backend" in lines[0] and "Traceback" not in done.stderr


def test_unknown_title_is_a_plain_error(tmp_path: Path) -> None:
    done = recteam("search", "--like", "Jurasic Park", "--json", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert "no film titled 'Jurasic Park'" in done.stderr and "Traceback" not in done.stderr


def test_help_teaches_the_options(tmp_path: Path) -> None:
    done = recteam("search", "--help", cwd=tmp_path)
    assert done.returncode == 0
    for option in ("--genre", "--year-min", "--year-max", "--like", "--exclude", "--json", "-k"):
        assert option in done.stdout


def test_ask_json_continues_a_session_and_its_trace_replays(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    first = recteam(
        "ask",
        "I loved Heat. Something similar, nothing before 1990",
        "--user",
        "ana",
        "--json",
        "--session",
        "s1",
        "--trace-out",
        str(trace),
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout.splitlines()[-1])
    assert out["act"] == "RECOMMEND" and out["session"] == "s1" and out["items"]
    assert all(
        set(i) == {"id", "title", "year", "genres", "reason"} and i["year"] >= 1990
        for i in out["items"]
    )
    assert {t["agent"] for t in out["trace"]} == {
        "manager",
        "user_analyst",
        "item_analyst",
        "searcher",
        "reflector",
        "responder",
    }
    assert all("kind" in t for t in out["trace"])
    second = recteam(
        "ask", "more like that", "--user", "ana", "--json", "--session", "s1", cwd=tmp_path
    )
    again = json.loads(second.stdout.splitlines()[-1])
    assert again["act"] == "RECOMMEND"
    assert not {i["id"] for i in again["items"]} & {
        i["id"] for i in out["items"]
    }  # the session remembered
    shown = recteam("replay", str(trace), cwd=tmp_path)
    assert shown.returncode == 0 and "ana>" in shown.stdout and "search_catalog" in shown.stdout


def test_serve_on_a_busy_port_says_which_setting_to_change(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = recteam("serve", "--port", str(port), cwd=tmp_path)
    assert done.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr and "ui.port" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_changed_catalog_file_updates_the_store_once(tmp_path: Path) -> None:
    films = tmp_path / "films.jsonl"
    films.write_text(FILMS.read_text(encoding="utf-8"), encoding="utf-8")
    env = {"RECTEAM_CATALOG__PATH": str(films)}
    first = recteam("search", "Zzyzx", "--json", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "First start" in first.stderr
    # a new version of the file (as a new recteam ships a new catalog): one update, then none
    with open(films, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"title": "Zzyzx Road", "year": 2006, "genres": ["Thriller"]}) + "\n")
    second = recteam("search", "Zzyzx Road", "--json", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert "changed since this store was prepared" in second.stderr
    assert "Zzyzx Road" in second.stdout
    third = recteam("search", "Zzyzx Road", "--json", cwd=tmp_path, env=env)
    assert "changed since" not in third.stderr and "First start" not in third.stderr


# --json: stdout holds only JSON, or nothing when the command fails (cli.JSON_RULE).

Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """`recteam ARGS` in this process on a fresh store, stdout and stderr apart."""
    monkeypatch.setenv("RECTEAM_MEMORY__PATH", str(tmp_path / "store"))
    monkeypatch.setenv("RECTEAM_CATALOG__PATH", str(FILMS))
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        cli.close_store()
        cli.state.settings = None
        return runner.invoke(cli.app, list(args), env=env, input=input)

    yield invoke
    cli.close_store()
    cli.state.settings = None


def _json_only(done: Result) -> object:
    assert done.exit_code == 0, (done.stdout, done.stderr, done.exception)
    return json.loads(done.stdout)


def _nothing_on_stdout(done: Result, code: int, said: str) -> None:
    assert (done.exit_code, done.stdout) == (code, ""), (done.stdout, done.stderr, done.exception)
    assert said in done.stderr and "Traceback" not in done.stderr


def test_every_json_command_prints_json_alone_or_nothing_when_it_fails(run: Run) -> None:
    # the first start prepares the catalog: its notice and progress go to stderr
    done = run("search", "space adventure", "-k", "3", "--json")
    assert done.exit_code == 0, (done.stderr, done.exception)
    assert "First start: preparing the catalog" in done.stderr and "Ingested" in done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 3 and all(
        set(r) == {"id", "title", "year", "genres", "score"} for r in rows
    )
    assert run("search", "Zzyzx", "--genre", "Western", "--year-min", "2030", "--json").stdout == ""
    _nothing_on_stdout(run("search", "--like", "Jurasic Park", "--json"), 2, "no film titled")
    _nothing_on_stdout(run("search", "x", "--json", "--interactive"), 2, "do not go together")
    _nothing_on_stdout(
        run("search", "x", "--json", env={"RECTEAM_MEMORY__BACKEND": "qdrnt"}),
        2,
        "memory.backend",
    )

    _nothing_on_stdout(run("memory", "list", "--user", "ana", "--json"), 1, "nothing is stored")
    _nothing_on_stdout(run("memory", "export", "--user", "ana"), 1, "nothing is stored")
    cli.get_store().memories.add(MemoryRecord(user_id="ana", kind="feedback", text="liked Heat"))
    listed = _json_only(run("memory", "list", "--user", "ana", "--json"))
    assert isinstance(listed, list) and [r["text"] for r in listed] == ["liked Heat"]
    assert _json_only(run("memory", "list", "--user", "ana", "--kind", "plan", "--json")) == []
    exported = _json_only(run("memory", "export", "--user", "ana"))
    assert isinstance(exported, dict) and exported["count"] == 1
    _nothing_on_stdout(
        run("memory", "list", "--user", "ana", "--kind", "feelings", "--json"), 1, "feelings"
    )


def _json_commands(group: Any, prefix: str = "") -> dict[str, Any]:
    """Every command under `group` with a --json option, by its full name."""
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.update(_json_commands(command, f"{prefix}{name} "))
        elif any("--json" in getattr(p, "opts", ()) for p in command.params):
            found[f"{prefix}{name}"] = command
    return found


def test_the_json_commands_are_known_and_their_help_states_the_rule(run: Run) -> None:
    commands = _json_commands(typer.main.get_command(cli.app))
    # a new --json command belongs in the test above (or, in cli_chat/cli_eval, in their tests)
    assert set(commands) == {
        "search",
        "memory list",
        "ask",
        "eval redial",
        "eval redial-profile",
        "eval understanding",
    }
    assert "stdout stays empty" in run("--help").stdout
    for name in ("search", "memory list"):
        option = next(p for p in commands[name].params if "--json" in getattr(p, "opts", ()))
        assert "stdout stays empty" in (option.help or ""), name


def test_ingest_help_states_the_field_limit(run: Run) -> None:
    text = " ".join(run("ingest", "--help").stdout.split())
    assert "a field over 1,000,000 characters (the limit)" in text
    assert "--encoding" in text and "not UTF-8" in text


def test_the_search_prompt_survives_a_usage_error_and_help(run: Run) -> None:
    done = run("search", "-i", input="moon --bogus\n--help\nmartian -k 1\n\n")
    assert done.exit_code == 0, (done.stderr, done.exception)
    assert "error: No such option: --bogus" in done.stderr
    assert "--year-min" in done.stdout  # the help, then the prompt again
    assert "The Martian" in done.stdout.split("--year-min")[-1]


def test_ingest_prints_its_summary_alone_on_stdout_and_a_bad_file_with_no_bar(
    run: Run, tmp_path: Path
) -> None:
    folder = tmp_path / "films"
    folder.mkdir()
    (folder / "a.csv").write_text("title,year\nMoon,2009\nOops,99999\n")
    (folder / "b.csv").write_bytes("title,year\n[/x] Amélie,2001\n".encode("cp1252"))
    (folder / "notes.txt").write_text("my films")
    done = run("ingest", str(folder))
    assert done.exit_code == 0, (done.stderr, done.exception)
    assert done.stdout.startswith("Ingested 1 items (1 new, 0 updated) from 1 file(s)")
    assert "skipped 1 bad rows and 1 unreadable file(s)" in " ".join(done.stdout.split())
    assert len(done.stdout.strip().splitlines()) == 1  # the progress bar is on stderr
    err = " ".join(done.stderr.split())
    assert "Ingesting films" in err and f"{folder / 'a.csv'}:3: year" in err
    assert f"{folder / 'b.csv'}:2: not UTF-8 text" in err and "'[/x] Amélie,2001'" in err
    assert "not read (not .csv, .tsv, .jsonl or .json): notes.txt" in err
    alone = run("ingest", str(folder / "b.csv"))
    assert (alone.exit_code, alone.stdout) == (2, "")
    assert "Ingesting" not in alone.stderr and "--encoding cp1252" in alone.stderr
