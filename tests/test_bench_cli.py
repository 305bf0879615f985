"""`recteam bench --cli` (recteam.evaluation.bench_cli): whole processes timed, the rows chosen,
and the no-bytecode row really reads and writes no bytecode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recteam.evaluation import bench_cli
from tests.conftest import FILMS


def test_no_bytecode_env_reads_and_writes_none(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code = (
        "import sys, json, email.mime.text\n"
        "print(json.dumps([sys.pycache_prefix, sys.dont_write_bytecode]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**bench_cli.no_bytecode_env(str(empty))},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [str(empty), True]
    assert not any(empty.iterdir())  # nothing compiled was kept


def test_help_row_and_report(tmp_path: Path) -> None:
    figures = bench_cli.cli_figures(runs=2, only=("--help",))
    assert [f.name for f in figures] == ["--help"]
    (fig,) = figures
    assert len(fig.wall_s) == len(fig.cpu_s) == len(fig.peak_mb) == 2
    assert all(w > 0 for w in fig.wall_s) and all(m > 10 for m in fig.peak_mb)
    lines = bench_cli.report(figures)
    assert lines[1].startswith("--help") and "->" in lines[1]
    with pytest.raises(ValueError, match="no such case"):
        bench_cli.cli_figures(runs=1, only=("ask",))


def test_ask_rows_on_a_small_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECTEAM_MEMORY__PATH", str(tmp_path / "store"))
    monkeypatch.setenv("RECTEAM_CATALOG__PATH", str(FILMS))
    figures = bench_cli.cli_figures(runs=1, only=("ask --json", "ask, no .pyc"))
    assert [f.name for f in figures] == ["ask --json", "ask, no .pyc"]
    # Every module compiled at start costs CPU: the uncompiled start is never the cheaper one by
    # much (equal when this environment has no bytecode either).
    assert figures[1].cpu_s[0] > 0.8 * figures[0].cpu_s[0]
    # the bench's own user is forgotten again
    done = subprocess.run(
        [sys.executable, "-m", "recteam", "memory", "export", "--user", bench_cli.USER],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "nothing is stored" in done.stderr, done.stdout
