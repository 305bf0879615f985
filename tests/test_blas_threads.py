"""A small batch (what a turn embeds) runs on one BLAS thread, from whichever thread embeds it;
bigger batches, and the process after, keep what BLAS had."""

from __future__ import annotations

import threading

import numpy as np
from threadpoolctl import threadpool_info

from recteam.memory import bert_numpy
from recteam.memory.bert_numpy import ONE_THREAD_ROWS, one_blas_thread


def _blas_threads() -> set[int]:
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def test_one_thread_inside_and_restored_after() -> None:
    before = _blas_threads()
    with one_blas_thread():
        assert _blas_threads() == {1}
        with one_blas_thread():  # nested in the same thread
            assert _blas_threads() == {1}
        assert _blas_threads() == {1}
    assert _blas_threads() == before


def test_every_thread_gets_the_limit() -> None:
    before, seen = _blas_threads(), []

    def work() -> None:
        for _ in range(20):
            with one_blas_thread():
                seen.append(_blas_threads())

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [{1}] * 60
    assert _blas_threads() == before


def test_small_batches_are_limited_big_ones_not(embedder, monkeypatch) -> None:
    seen: list[set[int]] = []
    forward = bert_numpy.BertSentenceEncoder._forward

    def spy(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        seen.append(_blas_threads())
        return forward(self, ids, mask)

    monkeypatch.setattr(bert_numpy.BertSentenceEncoder, "_forward", spy)
    before = _blas_threads()
    small = embedder.encoder.encode(["a comedy from the 1990s"])
    big = embedder.encoder.encode(["a comedy from the 1990s"] * (ONE_THREAD_ROWS + 1))
    assert seen == [{1}, before]
    np.testing.assert_allclose(small[0], big[0], atol=1e-5)
