"""What the offline reader found in a message, as hints for an LLM role: the films it linked to
the catalog (with ids and years, and the stance it read), the constraints and the question. An
LLM role decides; the hints spare it guessing which "Heat" or which year the user meant."""

from __future__ import annotations

from typing import Any

__all__ = ["reader_hints"]

_FILM_FIELDS = {
    "liked_items": "liked",
    "disliked_items": "disliked",
    "seen_items": "seen",
    "accepted_items": "taken up",
    "excluded_items": "ruled out",
}


def reader_hints(u: Any) -> dict[str, Any]:
    """`u`: an offline Understanding. Only what it found; empty fields are left out."""
    films: dict[str, dict[str, Any]] = {}
    for ref in u.mentioned_items:
        films[ref.id] = {"id": ref.id, "title": ref.title, "year": ref.year, "read_as": []}
    for name, stance in _FILM_FIELDS.items():
        for ref in getattr(u, name):
            films.setdefault(
                ref.id, {"id": ref.id, "title": ref.title, "year": ref.year, "read_as": []}
            )
            films[ref.id]["read_as"].append(stance)
    if u.asked_about is not None:
        films.setdefault(
            u.asked_about.id,
            {
                "id": u.asked_about.id,
                "title": u.asked_about.title,
                "year": u.asked_about.year,
                "read_as": [],
            },
        )["read_as"].append(f"asked about ({u.question or 'plot'})")
    hints: dict[str, Any] = {
        "films": list(films.values()),
        "same_title_films": [r.label for r in u.ambiguous],
        "people": list(dict.fromkeys([*u.liked_people, *u.required_people, *u.mentioned_people])),
        "genres": u.genres,
        "exclude_genres": u.exclude_genres,
        "year_min": u.year_min,
        "year_max": u.year_max,
        "wants": u.wants,
        "avoids": u.avoids,
        "count": u.count,
        "turns_down_last_picks": u.rejects_last,
        "takes_up_last_picks": u.accepts_last,
    }
    return {k: v for k, v in hints.items() if v not in (None, [], False)}
