"""cli_chat.start_up: the cyclic collector is off while ask, chat and serve start, what start-up
made is frozen after, collection resumes; a first start's ingest still collects."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recteam.ui import cli
from recteam.ui.cli_chat import start_up
from tests.conftest import FILMS


@pytest.fixture
def no_freeze(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """gc.freeze recorded, not done: this test process's heap is not frozen for the others."""
    calls: list[int] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append(1))
    return calls


def test_off_inside_on_after_and_frozen(no_freeze: list[int]) -> None:
    assert gc.isenabled()
    with start_up():
        assert not gc.isenabled()
    assert gc.isenabled() and no_freeze == [1]
    with pytest.raises(RuntimeError), start_up():
        raise RuntimeError("a start that fails")
    assert gc.isenabled() and no_freeze == [1, 1]


def test_a_caller_that_had_it_off_keeps_it_off(no_freeze: list[int]) -> None:
    gc.disable()
    try:
        with start_up():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_first_start_ingests_with_the_collector_on(
    no_freeze: list[int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import recteam.memory.ingest as ingest

    seen: list[bool] = []
    real = ingest.ingest_path

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "ingest_path", spy)
    monkeypatch.setenv("RECTEAM_MEMORY__PATH", str(tmp_path / "store"))
    monkeypatch.setenv("RECTEAM_CATALOG__PATH", str(FILMS))
    monkeypatch.setattr(cli, "state", cli._State())
    try:
        with start_up():
            cli.ensure_catalog(cli.get_store())
            assert not gc.isenabled()  # off again once the ingest is done
        assert seen == [True]
        assert cli.get_store().catalog.count() > 0
    finally:
        cli.close_store()


def test_what_start_up_made_is_frozen() -> None:
    """In a process of its own (a frozen heap stays frozen)."""
    code = textwrap.dedent(
        """
        import gc
        from recteam.ui.cli_chat import start_up
        before = gc.get_freeze_count()
        with start_up():
            made = [[i] for i in range(5000)]
        print(gc.get_freeze_count() - before >= 5000, gc.isenabled())
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
