"""What users liked together: item-to-item co-like counts, aggregated across users.

When a user likes a film (in a message or with 👍), the pair count between it and each film that
user liked before (the MAX_EARLIER most recent they do not now dislike) goes up by one in
`{prefix}-colikes`: one point per film (its catalog point id)
with payload {"item", "likes": users who liked it, "partners": [ids], "counts": [n]}. No user id,
session or text is stored, so nothing read from it names a person; a pair's count is how many
people liked both. Each user adds a pair at most once: a film counts as newly liked only if none
of the user's own feedback points already holds a like of it (restating a like, or 👍 on a film
the user already liked, adds nothing).

The searcher reads the rows of the films named in the conversation and fuses them with the
shipped cold-start table (data/redial_comentions.json.gz, films ReDial dialogues named
together): `fused` adds each co-like as LIKED_BOTH, on the scale where a dialogue whose seeker
liked both films counts 2 (scripts/build_colike_table.py). team.colike = false turns collection
and use off; the evaluations and benchmarks that create synthetic users turn it off.

A row keeps its MAX_PARTNERS strongest partners. Writes are read-modify-write under a lock per
store, which serialises them within a process (one embedded store has one process); several
processes writing to one Qdrant server may lose an increment when two users like the same film
at the same instant (Qdrant has no atomic increment).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from recteam.memory.backend import CollectionSpec, PointData, VectorBackend
from recteam.memory.cooccurrence import CoMentionTable
from recteam.memory.items import point_id
from recteam.memory.store import MemoryStore
from recteam.memory.user_memory import UserMemory

__all__ = [
    "LIKED_BOTH",
    "CoLikeRead",
    "CoLikeStore",
    "CoLikeWrite",
    "colike_store",
    "fused",
    "liked_before",
    "record_likes",
    "shipped_table",
]

LIKED_BOTH = 2  # a co-like on the shipped table's scale (a dialogue whose seeker liked both)
MAX_PARTNERS = 500  # partners a film's row keeps, strongest first
MAX_EARLIER = 50  # a new like is paired with the user's most recent earlier likes
SHIPPED = "redial_comentions.json.gz"


@cache
def shipped_table() -> CoMentionTable:
    """The cold-start table shipped in recteam/data (read once per process; read-only)."""
    with resources.as_file(resources.files("recteam.data").joinpath(SHIPPED)) as path:
        return CoMentionTable.load_compact(Path(path))


@dataclass(frozen=True)
class CoLikeRead:
    """What one read of the co-like rows did, for the trace."""

    collection: str
    asked: int
    points: int
    ms: float


@dataclass(frozen=True)
class CoLikeWrite:
    """What one co-like update did, for the trace: films newly liked (restated likes left out),
    earlier likes they were paired with, points written."""

    collection: str
    new: int
    earlier: int
    points: int
    ms: float


class CoLikeStore:
    def __init__(
        self,
        backend: VectorBackend,
        prefix: str,
        lock: threading.Lock | None = None,
        create: bool = True,
    ) -> None:
        self.backend = backend
        self.name = f"{prefix}-colikes"
        self._lock = lock or threading.Lock()
        if create and self.name not in backend.list_collections():
            # The embedded engine wants a vector slot; no point ever fills it.
            backend.create_collection(self.name, CollectionSpec(dense={}, sparse=("unused",)))

    def read(self, item_ids: Iterable[str]) -> tuple[CoMentionTable, CoLikeRead]:
        """The rows of `item_ids` (those anyone liked with another film) as a table."""
        started = time.perf_counter()
        ids = list(dict.fromkeys(item_ids))
        points = self.backend.retrieve(self.name, [point_id(i) for i in ids])
        table = CoMentionTable()
        for p in points:
            item = str(p.payload["item"])
            table.mentions[item] = int(p.payload.get("likes", 0))
            table.pairs[item] = Counter(
                dict(zip(p.payload.get("partners", []), p.payload.get("counts", []), strict=True))
            )
        ms = (time.perf_counter() - started) * 1000
        return table, CoLikeRead(self.name, len(ids), len(points), ms)

    def add(self, new: Sequence[str], earlier: Sequence[str]) -> int:
        """Counts one user's newly liked films `new`: each once as liked, each pair of them, and
        each with every film of `earlier` (films the same user liked before; each pair once).
        Returns how many points were written."""
        new = list(dict.fromkeys(new))
        earlier = [i for i in dict.fromkeys(earlier) if i not in new]
        if not new:
            return 0
        with self._lock:
            table, _ = self.read([*new, *earlier])
            touched: set[str] = set(new)
            for n, a in enumerate(new):
                table.mentions[a] += 1
                for b in [*earlier, *new[:n]]:
                    table.pairs[a][b] += 1
                    table.pairs[b][a] += 1
                    touched.add(b)
            self.backend.upsert(self.name, [self._point(i, table) for i in sorted(touched)])
        return len(touched)

    def _point(self, item: str, table: CoMentionTable) -> PointData:
        strongest = sorted(table.pairs[item].items(), key=lambda kv: (-kv[1], kv[0]))
        strongest = strongest[:MAX_PARTNERS]
        return PointData(
            id=point_id(item),
            payload={
                "item": item,
                "likes": table.mentions[item],
                "partners": [k for k, _ in strongest],
                "counts": [n for _, n in strongest],
            },
        )

    def count(self) -> int:
        return self.backend.count(self.name)


# One write lock per open backend (held weakly: a closed store's goes with it), so that every
# writer of the process takes the same one.
_LOCKS: weakref.WeakKeyDictionary[VectorBackend, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


def colike_store(store: MemoryStore) -> CoLikeStore:
    """The co-like collection beside `store`'s memories (created on the backend's first use)."""
    prefix = store.memories.name.removesuffix("-memories")
    with _LOCKS_LOCK:  # held while the first use creates the collection
        lock = _LOCKS.get(store.backend)
        if lock is not None:
            return CoLikeStore(store.backend, prefix, lock, create=False)
        lock = _LOCKS[store.backend] = threading.Lock()
        return CoLikeStore(store.backend, prefix, lock)


def fused(static: CoMentionTable | None, live: CoMentionTable) -> CoMentionTable:
    """The shipped (or a caller's) table plus live co-like rows, each co-like as LIKED_BOTH."""
    return (static or CoMentionTable()).plus(live, pair_weight=LIKED_BOTH)


def liked_before(memories: UserMemory, user_id: str) -> list[str]:
    """The films this user's own feedback points hold as liked, most recent first: the ledger
    that keeps a restated like from counting twice."""
    records = memories.all(user_id, ("feedback",))
    liked = [
        str(r.data["item"]["id"])
        for r in records
        if r.data.get("liked") and isinstance(r.data.get("item"), dict)
    ]
    return list(dict.fromkeys(liked))


def record_likes(
    store: MemoryStore, user_id: str, liked: Sequence[str], disliked: Iterable[str] = ()
) -> CoLikeWrite:
    """Adds the co-likes of `liked` (films the user likes as of now that their last profile did
    not hold) to the aggregate. A film the user's feedback points already hold as liked is no new
    like; it is paired with their earlier likes, the ones they do not now dislike. Call it before
    the feedback points of this update are written."""
    started = time.perf_counter()
    colikes = colike_store(store)
    before = liked_before(store.memories, user_id)
    known = set(before)
    new = [i for i in dict.fromkeys(liked) if i not in known]
    down = set(disliked)
    earlier = [i for i in before if i not in down][:MAX_EARLIER]
    points = colikes.add(new, earlier) if new else 0
    ms = (time.perf_counter() - started) * 1000
    return CoLikeWrite(colikes.name, len(new), len(earlier) if new else 0, points, ms)
