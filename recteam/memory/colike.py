"""What users liked together: item-to-item co-like counts, aggregated across users.

When a user likes a film (in a message or with 👍), the pair count between it and each film that
user liked before (the MAX_EARLIER most recent they do not now dislike) goes up by one in
`{prefix}-colikes`, which holds two kinds of point: one per film, {"item", "likes": how many
people liked it}, and one per pair of films, {"films": [a, b], "n": how many people liked both}.
No user id, session or text is stored, so nothing read from it names a person. Each user adds a
pair at most once: a film counts as newly liked only if none of the user's own feedback points
already holds a like of it (restating a like, or 👍 on a film the user already liked, adds
nothing).

A point per pair, not a row of partners per film: a like then writes one small point per pair
(about 100 bytes) instead of rewriting the partner list of every film it pairs with, which the
embedded engine's append-only payload storage kept as garbage. 1,000 synthetic users liking 20
films each (141,000 pairs): 78 MB and 0.47 ms a write this way, 599 MB and 7.8 ms with lists.

The searcher reads the films named in the conversation (their points by id, and their MAX_READ
strongest pairs by a keyword filter) and fuses them with the shipped cold-start table
(data/redial_comentions.json.gz, films ReDial dialogues named together): `fused` adds each
co-like as LIKED_BOTH, on the scale where a dialogue whose seeker liked both films counts 2
(scripts/build_colike_table.py). team.colike = false turns collection and use off; the
evaluations and benchmarks that create synthetic users turn it off.

Writes are read-modify-write under a lock per store, which serialises them within a process (one
embedded store has one process); several processes writing to one Qdrant server may lose an
increment when two users like the same film at the same instant (Qdrant has no atomic increment).
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from recteam.memory.backend import CollectionSpec, Match, PointData, VectorBackend, Where
from recteam.memory.cooccurrence import CoMentionTable
from recteam.memory.store import MemoryStore
from recteam.memory.user_memory import UserMemory

__all__ = [
    "LIKED_BOTH",
    "CoLikeRead",
    "CoLikeStore",
    "CoLikeWrite",
    "colike_store",
    "forget_likes",
    "fused",
    "liked_before",
    "record_likes",
    "shipped_table",
]

LIKED_BOTH = 2  # a co-like on the shipped table's scale (a dialogue whose seeker liked both)
MAX_READ = 500  # pairs one search reads, strongest first (it uses at most 150 partners)
MAX_EARLIER = 50  # a new like is paired with the user's most recent earlier likes
SHIPPED = "redial_comentions.json.gz"
_NS = uuid.UUID("3f6b1d0e-9c2a-4e57-b8d4-71a0c5e92f16")
# The embedded engine wants a vector slot; no point ever fills it.
SPEC = CollectionSpec(
    dense={}, sparse=("unused",), keyword_fields=("films",), integer_fields=("n",)
)


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
            backend.create_collection(self.name, SPEC)

    def read(
        self, item_ids: Iterable[str], min_people: int = 1
    ) -> tuple[CoMentionTable, CoLikeRead]:
        """The rows of `item_ids` as a table: each film's likes, and its MAX_READ strongest
        pairs (over all of `item_ids`) that at least `min_people` people liked: a pair only one
        person liked would tell another user what that person likes."""
        started = time.perf_counter()
        ids = list(dict.fromkeys(item_ids))
        table = CoMentionTable()
        if not ids:
            return table, CoLikeRead(self.name, 0, 0, 0.0)
        films = self.backend.retrieve(self.name, [_film_id(i) for i in ids])
        for p in films:
            table.mentions[str(p.payload["item"])] = int(p.payload["likes"])
        wanted = set(ids)
        pairs = self.backend.filter_only(
            self.name, Where(must=(Match("films", tuple(ids)),)), MAX_READ, order_by="n"
        )
        pairs = [h for h in pairs if int(h.payload["n"]) >= min_people]
        for h in pairs:
            a, b = (str(x) for x in h.payload["films"])
            n = int(h.payload["n"])
            if a in wanted:
                table.pairs[a][b] = n
            if b in wanted:
                table.pairs[b][a] = n
        ms = (time.perf_counter() - started) * 1000
        return table, CoLikeRead(self.name, len(ids), len(films) + len(pairs), ms)

    def add(self, new: Sequence[str], earlier: Sequence[str]) -> int:
        """Counts one user's newly liked films `new`: each once as liked, each pair of them, and
        each with every film of `earlier` (films the same user liked before; each pair once).
        Returns how many points were written."""
        new = list(dict.fromkeys(new))
        earlier = [i for i in dict.fromkeys(earlier) if i not in new]
        if not new:
            return 0
        pairs = {_pair(a, b) for n, a in enumerate(new) for b in [*earlier, *new[:n]]}
        ids = [*(_film_id(a) for a in new), *(_pair_id(*ab) for ab in sorted(pairs))]
        with self._lock:
            stored = {p.id: p.payload for p in self.backend.retrieve(self.name, ids)}
            points = [
                PointData(
                    _film_id(a),
                    {"item": a, "likes": int(stored.get(_film_id(a), {}).get("likes", 0)) + 1},
                )
                for a in new
            ]
            points += [
                PointData(
                    _pair_id(a, b),
                    {"films": [a, b], "n": int(stored.get(_pair_id(a, b), {}).get("n", 0)) + 1},
                )
                for a, b in sorted(pairs)
            ]
            self.backend.upsert(self.name, points)
        return len(points)

    def remove(self, liked: Sequence[str]) -> int:
        """Takes back one user's likes (oldest first, as the ledger holds them): each film's
        like, and each pair the likes made (each with its MAX_EARLIER predecessors, as `add`
        paired them). Counts never go below zero. Returns how many points changed."""
        liked = list(dict.fromkeys(liked))
        pairs = {
            _pair(a, b) for n, a in enumerate(liked) for b in liked[max(0, n - MAX_EARLIER) : n]
        }
        ids = [*(_film_id(a) for a in liked), *(_pair_id(*ab) for ab in sorted(pairs))]
        if not ids:
            return 0
        with self._lock:
            stored = {p.id: p.payload for p in self.backend.retrieve(self.name, ids)}
            points = [
                PointData(pid, {**payload, "likes": max(0, int(payload["likes"]) - 1)})
                if "likes" in payload
                else PointData(pid, {**payload, "n": max(0, int(payload["n"]) - 1)})
                for pid, payload in stored.items()
            ]
            self.backend.upsert(self.name, points)
        return len(points)

    def count(self) -> int:
        return self.backend.count(self.name)

    def check_layout(self) -> None:
        """A collection written by an older layout (without the pair index this one reads by)
        is made anew: its counts could not be read, and a read must never fail a turn."""
        try:
            self.backend.filter_only(self.name, Where(), 1, order_by="n")
        except Exception:  # the engine's error for a missing index differs by backend
            self.backend.drop_collection(self.name)
            self.backend.create_collection(self.name, SPEC)


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _film_id(item: str) -> str:
    return str(uuid.uuid5(_NS, f"film\x00{item}"))


def _pair_id(a: str, b: str) -> str:
    a, b = _pair(a, b)
    return str(uuid.uuid5(_NS, f"pair\x00{a}\x00{b}"))


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
        colikes = CoLikeStore(store.backend, prefix, lock)
        colikes.check_layout()
        return colikes


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


def forget_likes(store: MemoryStore, user_id: str) -> int:
    """Before a user is forgotten: their likes leave the aggregate too (as far as their own
    feedback points tell which pairs they made). Returns how many points changed."""
    colikes = colike_store(store)
    return colikes.remove(list(reversed(liked_before(store.memories, user_id))))
