"""An exported trace read back: a bad line is named, with what is wrong in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from recteam.agents.trace import TurnStarted, dump_jsonl, load_jsonl


def test_a_good_export_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    dump_jsonl([TurnStarted(session_id="s", turn=1, seq=0, ts=0, user_id="u", message="hi")], path)
    assert [e.message for e in load_jsonl(path)] == ["hi"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("hello", "line 2: it is not JSON"),
        ('{"type": "boom"}', "line 2: its type 'boom' is no trace event (expected one of:"),
        ('{"type": "turn_started", "session_id": "s"}', "line 2: in a turn_started event, turn:"),
        ("[1, 2]", "line 2: it is not a JSON object"),
    ],
)
def test_a_bad_line_is_named_in_words(tmp_path: Path, line: str, said: str) -> None:
    path = tmp_path / "t.jsonl"
    good = TurnStarted(session_id="s", turn=1, seq=0, ts=0, user_id="u", message="hi")
    path.write_text(good.model_dump_json() + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        list(load_jsonl(path))
    assert str(caught.value).startswith(said) and "tagged-union" not in str(caught.value)
