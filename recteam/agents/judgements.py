"""The item analyst's judgements of films, kept per user in Qdrant and reused.

A judgement (fit, pros, cons, what it rests on) holds for the profile it was made against: the
user's liked and disliked films, wishes, avoidances, genres and the request's subject. It is
stored under a key of that profile; a later turn or session with the same key reuses it, so a
model's judgement of a film is not paid for twice, and the offline analyst keeps a model's
judgement made earlier. One point per user holds them all (the latest KEPT films), so a long
history costs a bounded amount of store.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Literal

from recteam.agents.messages import ItemAnalysis, PreferenceProfile
from recteam.agents.tracer import StepTrace
from recteam.memory.store import MemoryStore
from recteam.memory.user_memory import MemoryRecord

__all__ = ["KEPT", "judgements_id", "load_judgements", "profile_key", "save_judgements"]

_NS = uuid.UUID("7a1e0c9d-3b54-4e2f-8d67-91c0f2a4b3e5")
# Judgements are found by id, never by meaning: one constant text is embedded (and cached), so
# keeping them costs no embedding time.
_EMBEDDED = "item judgement"
KEPT = 300  # films whose latest judgement is kept per user (the oldest go first)


def judgements_id(user_id: str) -> str:
    return str(uuid.uuid5(_NS, user_id))


def profile_key(profile: PreferenceProfile, topics: list[str]) -> str:
    """What a judgement depends on, hashed: the same key means the same judgement holds."""
    c = profile.constraints
    basis = {
        "likes": sorted(i.id for i in profile.likes),
        "dislikes": sorted(i.id for i in profile.dislikes),
        "wants": sorted(profile.wants),
        "avoids": sorted(profile.avoids),
        "genres": sorted({*profile.liked_genres, *c.genres}),
        "people": sorted({*profile.liked_people, *c.people}),
        "topics": sorted(t.lower() for t in topics),
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:16]


def _films(store: MemoryStore, user_id: str) -> dict[str, dict]:
    record = store.memories.get(user_id, judgements_id(user_id))
    return dict(record.data.get("films", {})) if record and record.kind == "judgement" else {}


def load_judgements(
    store: MemoryStore, user_id: str, item_ids: list[str], key: str, step: StepTrace
) -> dict[str, tuple[ItemAnalysis, str]]:
    """Stored judgements of `item_ids` made against profile `key`: item id -> (analysis,
    source), source being "model" or "offline"."""
    if not item_ids:
        return {}
    started = time.perf_counter()
    films = _films(store, user_id)
    held = [films[i] for i in item_ids if i in films]
    found = {
        j["analysis"]["item_id"]: (ItemAnalysis.model_validate(j["analysis"]), str(j["source"]))
        for j in held
        if j.get("key") == key
    }
    step.memory(
        "read",
        "judgement",
        f"{len(found)} of {len(item_ids)} film(s) judged before against this profile"
        + (f" ({len(held) - len(found)} against an older one)" if len(held) > len(found) else ""),
        collection=store.memories.name,
        filter=f"user_id={user_id}, the user's judgements point",
        points=1 if films else 0,
        ms=(time.perf_counter() - started) * 1000,
    )
    return found


def save_judgements(
    store: MemoryStore,
    user_id: str,
    session_id: str,
    analyses: list[tuple[ItemAnalysis, str]],
    key: str,
    source: Literal["model", "offline"],
    step: StepTrace,
) -> None:
    """Adds `analyses` (each with the film's label) to the user's judgements under `key`,
    keeping the latest KEPT films: the point stays the same size however long the user stays."""
    if not analyses:
        return
    started = time.perf_counter()
    films = _films(store, user_id)
    now = time.time()
    for a, label in analyses:
        films.pop(a.item_id, None)  # re-inserted last: the dict's order is the age order
        films[a.item_id] = {
            "analysis": a.model_dump(mode="json", exclude_defaults=True),
            "label": label,
            "key": key,
            "source": source,
            "at": now,
        }
    films = dict(list(films.items())[-KEPT:])
    latest = [j["label"] for j in list(films.values())[-3:]]
    store.memories.add(
        MemoryRecord(
            id=judgements_id(user_id),
            user_id=user_id,
            kind="judgement",
            session_id=session_id,
            text=f"judgements of {len(films)} film(s), latest: {', '.join(latest)}",
            situation=_EMBEDDED,
            data={"films": films},
        )
    )
    step.memory(
        "write",
        "judgement",
        f"{source} judgement(s) of {', '.join(label for _, label in analyses[:4])}",
        collection=store.memories.name,
        filter=f"user_id={user_id}",
        points=1,
        ms=(time.perf_counter() - started) * 1000,
    )
