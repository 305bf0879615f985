"""The LLM benchmark's harness on two turns: the stub answers every role over real HTTP and the
figures add up (the benchmark itself is `python -m recteam.evaluation.bench_llm`, not a test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recteam.evaluation.bench_llm import KEY_ENV, report, run_llm_bench
from recteam.memory.ingest import ingest_path
from recteam.memory.settings import MemorySettings
from recteam.memory.store import open_store
from tests.conftest import FILMS


async def test_two_bench_turns_through_the_stub_server(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "stub-key")
    with open_store(MemorySettings(backend="embedded", path=tmp_path / "store"), embedder) as s:
        ingest_path(s, FILMS)
        result = await run_llm_bench(s, turns=2, warmup=0)
    assert len(result.samples) == 2
    for turn in result.samples:
        assert turn.act == "RECOMMEND"
        assert turn.llm_calls == turn.litellm_calls == 5 and turn.critical_calls == 4
        assert set(turn.tokens) == {
            "manager",
            "user_analyst",
            "item_analyst",
            "reflector",
            "responder",
        }
        assert 0 < turn.litellm_ms <= turn.litellm_sum_ms and turn.litellm_ms < turn.wall_ms
    assert report(result)[-1].startswith("targets: critical path <= 4 calls ok, <= 7 in all ok")
