"""The item analyst's judgements of films, kept per user in Qdrant and reused.

A judgement (fit, pros, cons, what it rests on) holds for the profile it was made against: the
user's liked and disliked films, wishes, avoidances, genres and the request's subject. It is
stored under a key of that profile; a later turn or session with the same key reuses it, so a
model's judgement of a film is not paid for twice, and the offline analyst keeps a model's
judgement made earlier. One point per user and film (a deterministic id), overwritten when the
film is judged again.
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

__all__ = ["judgement_id", "load_judgements", "profile_key", "save_judgements"]

_NS = uuid.UUID("7a1e0c9d-3b54-4e2f-8d67-91c0f2a4b3e5")
# Judgements are found by id, never by meaning: one constant text is embedded (and cached), so
# keeping them costs no embedding time.
_EMBEDDED = "item judgement"


def judgement_id(user_id: str, item_id: str) -> str:
    return str(uuid.uuid5(_NS, f"{user_id}\x00{item_id}"))


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


def load_judgements(
    store: MemoryStore, user_id: str, item_ids: list[str], key: str, step: StepTrace
) -> dict[str, tuple[ItemAnalysis, str]]:
    """Stored judgements of `item_ids` made against profile `key`: item id -> (analysis,
    source), source being "model" or "offline"."""
    if not item_ids:
        return {}
    mem = store.memories
    started = time.perf_counter()
    records = mem.get_many(user_id, [judgement_id(user_id, i) for i in item_ids])
    found = {
        r.data["analysis"]["item_id"]: (
            ItemAnalysis.model_validate(r.data["analysis"]),
            str(r.data.get("source", "offline")),
        )
        for r in records
        if r.kind == "judgement" and r.data.get("key") == key
    }
    held = len(records)
    step.memory(
        "read",
        "judgement",
        f"{len(found)} of {len(item_ids)} film(s) judged before against this profile"
        + (f" ({held - len(found)} against an older one)" if held > len(found) else ""),
        collection=mem.name,
        filter=f"user_id={user_id}, ids of {len(item_ids)} candidate(s)",
        points=held,
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
    """Keeps `analyses` (each with the film's label) as this user's judgements under `key`."""
    if not analyses:
        return
    mem = store.memories
    records = [
        MemoryRecord(
            id=judgement_id(user_id, a.item_id),
            user_id=user_id,
            kind="judgement",
            session_id=session_id,
            text=f"{label}: fit {a.fit:.2f}"
            + (f"; for: {'; '.join(a.pros[:2])}" if a.pros else "")
            + (f"; against: {'; '.join(a.cons[:2])}" if a.cons else ""),
            situation=_EMBEDDED,
            data={"analysis": a.model_dump(mode="json"), "key": key, "source": source},
        )
        for a, label in analyses
    ]
    started = time.perf_counter()
    mem.add_many(records)
    step.memory(
        "write",
        "judgement",
        f"{source} judgement(s) of {', '.join(label for _, label in analyses[:4])}",
        collection=mem.name,
        filter=f"user_id={user_id}",
        points=len(records),
        ms=(time.perf_counter() - started) * 1000,
    )
