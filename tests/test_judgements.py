"""The item analyst's kept judgements: keyed by profile, bounded per user."""

from __future__ import annotations

from recteam.agents.judgements import KEPT, load_judgements, profile_key, save_judgements
from recteam.agents.messages import ItemAnalysis, PreferenceProfile
from recteam.agents.tracer import TurnTracer
from recteam.memory.store import MemoryStore


def test_judgements_hold_for_their_profile_and_stay_bounded(store: MemoryStore) -> None:
    step = TurnTracer("s1", 1, lambda e: None).step("item_analyst", "judging", "offline")
    key = profile_key(PreferenceProfile(user_id="u", wants=["smart"]), [])
    other = profile_key(PreferenceProfile(user_id="u", wants=["lighter"]), [])
    assert key != other
    many = [(ItemAnalysis(item_id=f"film|{n}", fit=0.5), f"Film {n}") for n in range(KEPT + 10)]
    save_judgements(store, "u", "s1", many[:10], key, "model", step)
    save_judgements(store, "u", "s1", many[10:], key, "offline", step)
    ids = [a.item_id for a, _ in many]
    kept = load_judgements(store, "u", ids, key, step)
    assert len(kept) == KEPT and "film|0" not in kept and f"film|{KEPT + 9}" in kept
    assert load_judgements(store, "u", ids, other, step) == {}  # another profile: judged anew
    assert load_judgements(store, "someone-else", ids, key, step) == {}
    assert store.memories.count("u") == 1
