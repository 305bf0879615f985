"""Per-user long-term memory, shared by every agent: preferences, feedback, episodes,
reflections and plans, each a point with the user id as tenant key. One user's points are never
returned for another: every read and delete is filtered by user_id inside the engine."""

from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from recteam.memory.backend import (
    CollectionSpec,
    HasIds,
    HybridQuery,
    Match,
    PointData,
    Retriever,
    VectorBackend,
    Where,
)
from recteam.memory.embeddings import CachedEmbedder
from recteam.memory.kinds import MEMORY_KINDS, MemoryKind

__all__ = ["MEMORY_KINDS", "MemoryKind", "MemoryRecord", "UserMemory"]

DENSE = "text"


class MemoryRecord(BaseModel):
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    user_id: str = Field(min_length=1, max_length=200)
    kind: MemoryKind
    text: str
    data: dict[str, Any] = Field(default_factory=dict)
    session_id: str | None = None
    created_at: float = Field(default_factory=time.time)
    score: float | None = None
    # What the record is retrieved by, when that is not its text: the situation it came from
    # (what the user asked for), so a later similar request finds it. Embedded instead of text.
    situation: str | None = None


class UserMemory:
    def __init__(self, backend: VectorBackend, embedder: CachedEmbedder, prefix: str) -> None:
        self.backend = backend
        self.embedder = embedder
        self.name = f"{prefix}-memories"
        spec = CollectionSpec(
            dense={DENSE: embedder.dim},
            keyword_fields=("user_id", "kind", "session_id"),
            float_fields=("created_at",),
            tenant_field="user_id",
        )
        if self.name not in backend.list_collections():
            backend.create_collection(self.name, spec)

    def _where(
        self,
        user_id: str,
        kinds: tuple[str, ...] | list[str] = (),
        session_id: str | None = None,
        not_session: str | None = None,
    ) -> Where:
        must: tuple = (Match("user_id", (user_id,)),)
        if kinds:
            must += (Match("kind", tuple(kinds)),)
        if session_id is not None:
            must += (Match("session_id", (session_id,)),)
        must_not = (Match("session_id", (not_session,)),) if not_session is not None else ()
        return Where(must=must, must_not=must_not)

    def get(self, user_id: str, record_id: str) -> MemoryRecord | None:
        """One record by id, only if it belongs to `user_id`."""
        points = self.backend.retrieve(self.name, [record_id])
        if not points or points[0].payload.get("user_id") != user_id:
            return None
        return MemoryRecord.model_validate({**points[0].payload, "id": points[0].id})

    def get_many(self, user_id: str, record_ids: Sequence[str]) -> builtins.list[MemoryRecord]:
        """The records with these ids that belong to `user_id` (one engine call)."""
        points = self.backend.retrieve(self.name, list(record_ids)) if record_ids else []
        return [
            MemoryRecord.model_validate({**p.payload, "id": p.id})
            for p in points
            if p.payload.get("user_id") == user_id
        ]

    def add(self, record: MemoryRecord) -> MemoryRecord:
        return self.add_many([record])[0]

    def add_many(self, records: Sequence[MemoryRecord]) -> list[MemoryRecord]:
        """Writes several records with one embedding batch and one engine call."""
        if not records:
            return []
        vectors = self._vectors(records)
        points = [
            PointData(id=r.id, payload=r.model_dump(exclude={"id", "score"}), dense={DENSE: v})
            for r, v in zip(records, vectors, strict=True)
        ]
        self.backend.upsert(self.name, points)
        return list(records)

    def _vectors(self, records: Sequence[MemoryRecord]) -> np.ndarray:
        """What each record is retrieved by, embedded (one batch)."""
        return self.embedder.embed([r.situation or r.text or r.kind for r in records])

    def query(
        self, user_id: str, text: str, kinds: tuple[str, ...] = (), limit: int = 10
    ) -> list[MemoryRecord]:
        """The user's memories closest in meaning to `text`."""
        return self.nearest(user_id, self.embedder.embed_query(text), kinds, limit)

    def nearest(
        self,
        user_id: str,
        vector: np.ndarray,
        kinds: tuple[str, ...] = (),
        limit: int = 10,
        min_score: float | None = None,
        not_session: str | None = None,
    ) -> list[MemoryRecord]:
        """The user's memories nearest to an embedded situation (cosine, best first), optionally
        only those at least `min_score` close and not from session `not_session`."""
        hits = self.backend.query(
            self.name,
            HybridQuery(
                retrievers=(Retriever("dense", DENSE, dense=vector),),
                where=self._where(user_id, kinds, not_session=not_session),
                limit=limit,
            ),
        )
        return [
            MemoryRecord.model_validate({**h.payload, "id": h.id, "score": h.score})
            for h in hits
            if min_score is None or h.score >= min_score
        ]

    def list(
        self,
        user_id: str,
        kinds: tuple[str, ...] = (),
        limit: int = 100,
        session_id: str | None = None,
        not_session: str | None = None,
    ) -> list[MemoryRecord]:
        """The user's memories (of one session, or of all but one, if given), newest first."""
        where = self._where(user_id, kinds, session_id, not_session)
        hits = self.backend.filter_only(self.name, where, limit=limit, order_by="created_at")
        return [MemoryRecord.model_validate({**h.payload, "id": h.id}) for h in hits]

    def all(self, user_id: str, kinds: tuple[str, ...] = ()) -> builtins.list[MemoryRecord]:
        """Every record of the user (all pages), newest first: what a person may see and export."""
        records: builtins.list[MemoryRecord] = []
        offset: str | None = None
        while True:
            points, offset = self.backend.scroll(
                self.name, self._where(user_id, kinds), limit=512, offset=offset
            )
            records += [MemoryRecord.model_validate({**p.payload, "id": p.id}) for p in points]
            if offset is None:
                break
        return sorted(records, key=lambda r: -r.created_at)

    def delete_records(self, user_id: str, record_ids: Sequence[str]) -> int:
        """Deletes the given records if they are the user's (another user's ids are ignored);
        returns how many were deleted."""
        ids = tuple(
            p.id
            for p in self.backend.retrieve(self.name, list(record_ids))
            if p.payload.get("user_id") == user_id
        )
        if ids:
            self.backend.delete(self.name, self._where(user_id).and_(Where(must=(HasIds(ids),))))
            self.backend.flush()
        return len(ids)

    def count(self, user_id: str) -> int:
        return self.backend.count(self.name, self._where(user_id))

    def delete_user(self, user_id: str) -> int:
        """Deletes every point of the user; returns how many there were."""
        where = self._where(user_id)
        n = self.backend.count(self.name, where)
        if n:
            self.backend.delete(self.name, where)
            self.backend.flush()
        return n
