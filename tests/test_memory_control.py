"""Memory a person controls: `recteam memory list|export|delete` on a real store in a real
process, the private files kept per user (traces, exports, their download copies) and forget-me
removing them, and the web app's memory panel through its API."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from recteam.memory.settings import MemorySettings
from recteam.memory.store import open_store
from recteam.memory.user_memory import MemoryRecord
from recteam.ui.user_files import UserFiles, user_key

if TYPE_CHECKING:
    from tests.ui_server import LiveApp

pytest_plugins = ["tests.ui_server"]

T0 = 1_699_963_200.0  # 14 Nov 2023, 12:00 UTC (the 14th in every time zone): shown as a date


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class _Event:
    """Stands in for a trace event: what UserFiles.write_trace writes is model_dump_json()."""

    def __init__(self, n: int) -> None:
        self.n = n

    def model_dump_json(self) -> str:
        return json.dumps({"type": "test", "n": self.n})


# the files kept per user -------------------------------------------------------------------------
def test_a_trace_is_written_0600_in_a_0700_folder_of_its_user(tmp_path: Path) -> None:
    files = UserFiles.at(tmp_path / "memory", cache=tmp_path / "cache")
    path = files.write_trace("Ana Lima", "s1", [_Event(1), _Event(2)])  # type: ignore[list-item]

    assert path.parent == tmp_path / "memory" / "user-files" / user_key("Ana Lima")
    assert path.name == "recteam-trace-s1.jsonl"
    assert [json.loads(line)["n"] for line in path.read_text().splitlines()] == [1, 2]
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700 and _mode(path.parent.parent) == 0o700
    assert not list(path.parent.glob(".*.tmp")), "the temporary file was left behind"


def test_user_folders_are_apart_and_a_name_cannot_leave_the_root(tmp_path: Path) -> None:
    files = UserFiles.at(tmp_path / "memory")
    assert user_key("Ana") != user_key("ana")
    for name in ("../../etc", "/tmp/x", "..", "a/b\\c"):
        folder = files.user_dir(name)
        assert folder.parent == files.root and ".." not in folder.name and "/" not in folder.name


def test_an_offered_copy_replaces_the_last_one_and_forget_removes_only_that_users_files(
    tmp_path: Path,
) -> None:
    files = UserFiles.at(tmp_path / "memory", cache=tmp_path / "cache")
    ana = files.write_trace("ana", "s-ana", [_Event(1)])  # type: ignore[list-item]
    first = files.offer(ana)
    files.write_trace("ana", "s-ana", [_Event(1), _Event(2)])  # type: ignore[list-item]
    second = files.offer(ana)
    export = files.offer(files.write_memory_export("ana", {"records": []}))
    ben = files.offer(files.write_trace("ben", "s-ben", [_Event(3)]))  # type: ignore[list-item]

    assert not first.exists() and not first.parent.exists(), "the older copy was kept"
    assert second.read_text().count("\n") == 2 and _mode(second) == 0o600
    assert _mode(second.parent) == 0o700 and second.parent.parent == tmp_path / "cache"
    # Gradio's own copies (a folder named by a hash) of the same files are found as well
    gradio_copy = tmp_path / "cache" / ("ab" * 32) / ana.name
    gradio_copy.parent.mkdir()
    gradio_copy.write_text("{}")

    removed = files.forget("ana")

    assert removed == 5  # the trace, the memory export, and three copies
    assert not files.user_dir("ana").exists()
    assert not second.exists() and not export.exists() and not gradio_copy.exists()
    assert ben.exists() and files.files("ben") == [
        files.user_dir("ben") / "recteam-trace-s-ben.jsonl"
    ]


def test_a_copy_the_caller_kept_is_replaced_without_looking_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = UserFiles.at(tmp_path / "memory", cache=tmp_path / "cache")
    trace = files.write_trace("ana", "s-ana", [_Event(1)])  # type: ignore[list-item]
    first = files.offer(trace)
    looked: list[object] = []
    monkeypatch.setattr(files, "cached_copies", lambda names: looked.append(names) or [])

    second = files.offer(trace, replacing=first)

    assert looked == [] and not first.exists() and not first.parent.exists()
    assert second.read_text() == trace.read_text() and _mode(second) == 0o600
    # the copy is what the trace was when offered: a later turn's trace does not change it
    files.write_trace("ana", "s-ana", [_Event(1), _Event(2)])  # type: ignore[list-item]
    assert second.read_text().count("\n") == 1 and trace.read_text().count("\n") == 2
    # a path that is not a copy of this file (another name, or outside the caches) is left
    # alone, and the caches are looked through as without it
    elsewhere = tmp_path / "recteam-0123" / trace.name
    elsewhere.parent.mkdir()
    elsewhere.write_text("mine")
    files.offer(trace, replacing=elsewhere)
    assert elsewhere.read_text() == "mine" and len(looked) == 1


def test_the_sweep_removes_old_copies_only(tmp_path: Path) -> None:
    files = UserFiles.at(tmp_path / "memory", cache=tmp_path / "cache")
    trace = files.write_trace("ana", "s-ana", [_Event(1)])  # type: ignore[list-item]
    old = files.offer(trace)
    new = files.offer(files.write_memory_export("ana", {"records": []}))
    hour_ago = time.time() - 3700
    os.utime(old.parent, (hour_ago, hour_ago))
    upload = tmp_path / "cache" / ("cd" * 32) / "upload.jsonl"  # Gradio's own: not ours to sweep
    upload.parent.mkdir()
    upload.write_text("{}")
    os.utime(upload.parent, (hour_ago, hour_ago))

    assert files.sweep(older_than_s=3600) == 1

    assert not old.parent.exists() and new.exists() and upload.exists() and trace.exists()


# the command line ---------------------------------------------------------------------------------
def recteam(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTEAM_")}
    env.update(RECTEAM_MEMORY__PATH=str(cwd / "store"), GRADIO_TEMP_DIR=str(cwd / "gradio"))
    return subprocess.run(
        [sys.executable, "-m", "recteam", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def remembered(tmp_path: Path, embedder) -> dict[str, list[MemoryRecord]]:
    """A store at tmp_path/store holding four records of ana's and two of ben's."""
    records = {
        "ana": [
            MemoryRecord(user_id="ana", kind="preference", text="likes Heat (1995)", created_at=T0),
            MemoryRecord(
                user_id="ana",
                kind="feedback",
                text="disliked Fargo (1996)",
                data={"item": "fargo-1996", "liked": False},
                session_id="s1",
                created_at=T0 + 60,
            ),
            MemoryRecord(
                user_id="ana", kind="episode", text="user: a crime film", created_at=T0 + 120
            ),
            MemoryRecord(
                user_id="ana", kind="feedback", text="liked Heat (1995)", created_at=T0 + 180
            ),
        ],
        "ben": [
            MemoryRecord(user_id="ben", kind="preference", text="likes Up (2009)", created_at=T0),
            MemoryRecord(
                user_id="ben", kind="feedback", text="liked Up (2009)", created_at=T0 + 30
            ),
        ],
    }
    store = open_store(MemorySettings(backend="embedded", path=tmp_path / "store"), embedder)
    try:
        store.memories.add_many([*records["ana"], *records["ben"]])
    finally:
        store.close()
    return records


def _listed(user: str, cwd: Path) -> list[dict[str, Any]]:
    done = recteam("memory", "list", "--user", user, "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))  # stdout is JSON and nothing else


def test_list_shows_the_users_records_newest_first(
    tmp_path: Path, remembered: dict[str, list[MemoryRecord]]
) -> None:
    rows = _listed("ana", tmp_path)
    assert [r["id"] for r in rows] == [r.id for r in reversed(remembered["ana"])]
    assert set(rows[0]) == {"id", "kind", "text", "data", "session_id", "created_at"}
    assert rows[2]["data"] == {"item": "fargo-1996", "liked": False}
    assert rows[2]["session_id"] == "s1" and rows[2]["created_at"] == "2023-11-14T12:01:00+00:00"

    table = recteam("memory", "list", "--user", "ana", "--kind", "feedback", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "liked Heat (1995)" in table.stdout and "disliked Fargo (1996)" in table.stdout
    assert "likes Heat" not in table.stdout and "Up (2009)" not in table.stdout
    assert remembered["ana"][1].id[:8] in table.stdout and "14 Nov 2023" in table.stdout


def test_an_unknown_user_or_kind_is_one_sentence_and_exit_code_1(
    tmp_path: Path, remembered: dict[str, list[MemoryRecord]]
) -> None:
    for args, said in (
        (("list", "--user", "nobody"), "nothing is stored about user 'nobody'"),
        (("export", "--user", "nobody"), "nothing is stored about user 'nobody'"),
        (("delete", "--user", "nobody", "--all", "--yes"), "nothing is stored about user"),
        (("list", "--user", "ana", "--kind", "feelings"), "'feelings' is not a kind of memory"),
        (("list", "--user", "nobody", "--kind", "plan"), "nothing is stored about user 'nobody'"),
    ):
        done = recteam("memory", *args, cwd=tmp_path)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and said in lines[0] and "Traceback" not in done.stderr, lines


def test_export_writes_every_record_to_a_private_file(
    tmp_path: Path, remembered: dict[str, list[MemoryRecord]]
) -> None:
    out = tmp_path / "ana.json"
    done = recteam("memory", "export", "--user", "ana", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    assert document["user"] == "ana" and document["count"] == 4
    assert {r["id"] for r in document["records"]} == {r.id for r in remembered["ana"]}
    assert {r["text"] for r in document["records"]} >= {"disliked Fargo (1996)"}
    assert _mode(out) == 0o600

    to_stdout = recteam("memory", "export", "--user", "ben", cwd=tmp_path)
    assert json.loads(to_stdout.stdout)["count"] == 2


def test_delete_by_id_deletes_only_the_users_own_record(
    tmp_path: Path, remembered: dict[str, list[MemoryRecord]]
) -> None:
    fargo, ben_up = remembered["ana"][1], remembered["ben"][1]
    done = recteam("memory", "delete", "--user", "ana", "--id", fargo.id[:8], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Deleted 1 record(s)" in done.stdout
    assert fargo.id not in {r["id"] for r in _listed("ana", tmp_path)}
    assert len(_listed("ana", tmp_path)) == 3

    # ben's id given as ana's: refused, and nothing deleted (not even ana's own id beside it)
    refused = recteam(
        "memory",
        "delete",
        "--user",
        "ana",
        "--id",
        remembered["ana"][0].id,
        "--id",
        ben_up.id,
        cwd=tmp_path,
    )
    assert refused.returncode == 1
    assert f"user 'ana' has no record with id '{ben_up.id}'" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(_listed("ana", tmp_path)) == 3
    assert [r["id"] for r in _listed("ben", tmp_path)] == [ben_up.id, remembered["ben"][0].id]


def test_delete_all_asks_then_removes_records_traces_and_their_copies(
    tmp_path: Path, remembered: dict[str, list[MemoryRecord]]
) -> None:
    files = UserFiles.at(tmp_path / "store", cache=tmp_path / "gradio")
    trace = files.write_trace("ana", "s1", [_Event(1)])  # type: ignore[list-item]
    copy = files.offer(trace)
    ben_trace = files.offer(files.write_trace("ben", "s2", [_Event(2)]))  # type: ignore[list-item]

    declined = recteam("memory", "delete", "--user", "ana", "--all", cwd=tmp_path, stdin="n\n")
    assert declined.returncode == 1 and "nothing was deleted" in declined.stderr
    assert len(_listed("ana", tmp_path)) == 4 and trace.exists() and copy.exists()

    done = recteam("memory", "delete", "--user", "ana", "--all", cwd=tmp_path, stdin="y\n")
    assert done.returncode == 0, done.stderr
    assert "Deleted 4 record(s) and 2 file(s)" in done.stdout
    assert not trace.exists() and not copy.exists() and not files.user_dir("ana").exists()
    gone = recteam("memory", "list", "--user", "ana", cwd=tmp_path)
    assert gone.returncode == 1 and "nothing is stored about user 'ana'" in gone.stderr
    assert len(_listed("ben", tmp_path)) == 2 and ben_trace.exists()


def test_help_teaches_with_examples(tmp_path: Path) -> None:
    done = recteam("memory", "--help", cwd=tmp_path)
    assert done.returncode == 0
    for word in ("list", "export", "delete", "recteam memory delete --user ana --all"):
        assert word in done.stdout
    delete = recteam("memory", "delete", "--help", cwd=tmp_path)
    for option in ("--id", "--all", "--yes", "Examples:"):
        assert option in delete.stdout


# the web app --------------------------------------------------------------------------------------
def _memory(client: Client, user: str) -> list[tuple[str, str]]:
    """(label, id) of every entry the memory panel lists for `user`."""
    result = client.predict(user, api_name="/memory")
    return [tuple(choice) for choice in result[2]["choices"]]


def test_the_web_panel_lists_deletes_exports_and_forget_me_removes_the_files(
    live_app: LiveApp, app_output: None, tmp_path: Path
) -> None:
    workdir = live_app.log.parent
    user = "memory-panel-user"
    client = Client(live_app, verbose=False, download_files=str(tmp_path))
    for message in ("I want a crime film from the 90s", "more like that"):
        client.predict(message, user, api_name="/send")
        client.predict(user, api_name="/panels")  # as the page does after each turn

    entries = _memory(client, user)
    kinds = [label.split(" · ")[1] for label, _ in entries]
    assert {"episode", "dialogue"} <= set(kinds), kinds
    assert kinds.count("episode") == 2

    # the trace the app exported: the user's own private folder, and one copy to download
    folder = workdir / "memory" / "user-files" / user_key(user)
    traces = list(folder.glob("recteam-trace-*.jsonl"))
    assert len(traces) == 1 and _mode(traces[0]) == 0o600 and _mode(folder) == 0o700
    copies = list((workdir / "gradio").glob(f"*/{traces[0].name}"))
    assert len(copies) == 1 and copies[0].read_text() == traces[0].read_text()

    # delete one entry; another user's id is refused (the menu offers only the caller's own)
    other = Client(live_app, verbose=False, download_files=str(tmp_path))
    other.predict("something funny with Jim Carrey", "memory-panel-other", api_name="/send")
    theirs = _memory(other, "memory-panel-other")
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict(theirs[0][1], user, api_name="/memory_delete")
    assert _memory(other, "memory-panel-other") == theirs
    client.predict(entries[0][1], user, api_name="/memory_delete")
    assert [i for _, i in _memory(client, user)] == [i for _, i in entries[1:]]

    # export all: a JSON document of every remaining entry
    exported = client.predict(user, api_name="/memory_export")
    document = json.loads(Path(exported["value"]).read_text())
    assert document["user"] == user
    assert [r["id"] for r in document["records"]] == [i for _, i in entries[1:]]
    assert len(list((workdir / "gradio").glob(f"*/recteam-memory-{user_key(user)}.json"))) == 1

    # forget me: memory points, the user's files and every cached copy are gone
    client.predict(user, api_name="/forget")
    assert _memory(client, user) == []
    assert not folder.exists()
    assert not list((workdir / "gradio").glob(f"*/{traces[0].name}"))
    assert not list((workdir / "gradio").glob(f"*/recteam-memory-{user_key(user)}.json"))
    assert _memory(other, "memory-panel-other") == theirs  # the other user keeps theirs
