"""The command line as a person runs it: a real process, real store, real embeddings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    assert done.returncode == 2
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
