"""A small batch (what a turn embeds) runs on one BLAS thread, from whichever thread embeds it;
bigger batches, and the process after, keep what BLAS had."""

from __future__ import annotations

import subprocess
import sys
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


def test_a_server_sets_one_thread_for_good_and_its_batches_take_no_lock() -> None:
    # In a process of its own: the setting lasts for the rest of the process.
    script = """
import threading
from threadpoolctl import threadpool_info
from recteam.memory import bert_numpy

bert_numpy.one_blas_thread_from_now_on()
held, release = threading.Event(), threading.Event()

def hold():  # another thread holds the lock the batches took before
    with bert_numpy._blas_lock:
        held.set()
        release.wait(10)

threading.Thread(target=hold, daemon=True).start()
held.wait(10)
entered = threading.Event()

def batch():
    with bert_numpy.one_blas_thread():
        entered.set()

threading.Thread(target=batch, daemon=True).start()
assert entered.wait(5), "a batch waited for the lock"
release.set()
threads = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
assert threads == {1}, threads
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
