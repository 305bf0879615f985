"""`recteam bench --quick`: the figures behind its tables, and the PNG when matplotlib is there."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recteam.agents.messages import ROLES
from recteam.evaluation import bench
from recteam.ui.cli import app


def test_quick_bench_prints_tables_and_saves_figures(tmp_path: Path) -> None:
    # The command end to end, on the quick sizes (a few seconds).
    done = CliRunner().invoke(
        app, ["bench", "--quick", "--queries", "6", "--turns", "3", "--out", str(tmp_path)]
    )
    assert done.exit_code == 0, done.output
    for title in ("Search latency", "Turn latency", "LLM use", "Memory growth"):
        assert title in done.output
    figures = json.loads((tmp_path / "bench.json").read_text())
    assert [p["size"] for p in figures["search"]] == [300, 1000]
    for point in figures["search"]:
        assert point["n"] == 6 and 0 < point["p50_ms"] <= point["p95_ms"]
    assert figures["turn_catalog_size"] == 1000
    offline, scripted = figures["offline"], figures["scripted"]
    assert offline["turns"] == scripted["turns"] == 3
    assert set(offline["agent_ms_per_turn"]) == set(ROLES)
    assert offline["llm_calls_per_turn"] == 0 and offline["prompt_tokens_per_turn"] == 0
    assert scripted["llm_calls_per_turn"] > 0 and scripted["prompt_tokens_per_turn"] > 0
    assert scripted["recommend_calls_max"] >= scripted["recommend_calls_critical_max"] > 0
    growth = figures["growth"]
    assert [g["turn"] for g in growth] == [0, 1, 2, 3]
    assert growth[0]["points"] == 0 and growth[-1]["points"] > 0
    assert all(a["points"] <= b["points"] for a, b in pairwise(growth))
    assert all(g["bytes"] > 0 for g in growth)
    png = tmp_path / "bench.png"
    if bench.matplotlib_available():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"plot: {png}" in done.output.replace("\n", "")
    else:
        assert not png.exists() and "matplotlib is not installed" in done.output


def test_plot_without_matplotlib_returns_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "matplotlib_available", lambda: False)
    stats = bench.bench_turn.TurnStats(
        turns=1,
        p50_ms=1.0,
        p95_ms=1.0,
        mean_ms=1.0,
        agent_ms_per_turn={},
        agent_ms_per_step={},
        agent_steps={},
        llm_calls_per_turn=0,
        prompt_tokens_per_turn=0,
        completion_tokens_per_turn=0,
    )
    result = bench.BenchResult([], 1, stats, stats)
    assert bench.plot(result, Path("never.png")) is None
