"""Prompts a small model can follow: the answer's shape as an outline, data without noise."""

from __future__ import annotations

import json

from recteam.agents.llm import compact, render_prompt, schema_outline
from recteam.agents.messages import Plan, PreferenceProfile
from recteam.agents.user_analyst import ProfileDelta


def test_the_outline_names_every_field_and_its_allowed_values_in_fewer_characters() -> None:
    for model in (Plan, ProfileDelta):
        outline = schema_outline(model)
        assert all(f'"{name}"' in outline for name in model.model_fields)
        assert len(outline) < len(json.dumps(model.model_json_schema())) * 0.7
    assert '"ASK" | "RECOMMEND" | "ANSWER" | "CHAT"' in schema_outline(Plan)


def test_data_for_a_model_has_no_empty_fields_and_no_timestamps() -> None:
    profile = PreferenceProfile(user_id="ana", liked_genres=["Drama"]).model_dump(mode="json")
    assert compact(profile) == {"user_id": "ana", "liked_genres": ["Drama"]}
    assert compact({"a": False, "b": 0, "c": None, "d": [{"e": ""}]}) == {
        "a": False,
        "b": 0,
        "d": [{}],
    }
    _, user = render_prompt(
        "manager",
        schema="{}",
        message="hi",
        dialogue=[],
        profile=profile,
        lessons=[],
        past_plans=[],
        mentioned_items=[],
        reader={},
    )
    assert "updated_at" not in user and "[]" not in user
