from __future__ import annotations

from pathlib import Path

from recteam.memory.store import MemoryStore, open_store
from recteam.memory.user_memory import MemoryRecord
from tests.conftest import memory_settings


def test_add_query_list_and_forget(store: MemoryStore) -> None:
    mem = store.memories
    mem.add(MemoryRecord(user_id="ana", kind="preference", text="loves slow science fiction"))
    mem.add(
        MemoryRecord(
            user_id="ana", kind="feedback", text="disliked Gravity", data={"item": "gravity|2013"}
        )
    )
    mem.add(
        MemoryRecord(user_id="ana", kind="reflection", text="ask about pacing before recommending")
    )
    assert mem.count("ana") == 3
    top = mem.query("ana", "which genres does she like?", kinds=("preference", "feedback"), limit=1)
    assert top[0].kind in ("preference", "feedback") and top[0].score is not None
    newest = mem.list("ana")
    assert [r.kind for r in newest] == ["reflection", "feedback", "preference"]
    assert mem.list("ana", kinds=("feedback",))[0].data == {"item": "gravity|2013"}
    assert mem.delete_user("ana") == 3
    assert mem.count("ana") == 0 and mem.list("ana") == []


def test_one_users_memories_never_reach_another(store: MemoryStore) -> None:
    store.memories.add(MemoryRecord(user_id="ana", kind="preference", text="likes horror"))
    store.memories.add(MemoryRecord(user_id="bo", kind="preference", text="likes musicals"))
    assert [r.text for r in store.memories.query("bo", "likes horror", limit=10)] == [
        "likes musicals"
    ]
    assert [r.user_id for r in store.memories.list("ana")] == ["ana"]
    store.memories.delete_user("ana")
    assert store.memories.count("bo") == 1


def test_embedded_memory_persists_across_a_restart(tmp_path: Path, embedder) -> None:
    settings = memory_settings("embedded", tmp_path / "store")
    with open_store(settings, embedder) as first:
        first.memories.add(MemoryRecord(user_id="ana", kind="preference", text="likes Arrival"))
    with open_store(settings, embedder) as second:
        assert [r.text for r in second.memories.list("ana")] == ["likes Arrival"]


def test_all_pages_and_delete_only_the_users_own_records(store: MemoryStore) -> None:
    mem = store.memories
    mine = mem.add_many(
        [MemoryRecord(user_id="ann", kind="episode", text=f"turn {i}") for i in range(600)]
    )
    theirs = mem.add(MemoryRecord(user_id="bob", kind="feedback", text="liked Heat"))
    assert len(mem.all("ann")) == 600  # more than one scroll page
    assert [r.text for r in mem.all("bob")] == ["liked Heat"]
    # Bob's id in Ann's request is ignored: nobody deletes another user's memory.
    assert mem.delete_records("ann", [mine[0].id, theirs.id]) == 1
    assert mem.count("ann") == 599
    assert mem.count("bob") == 1
