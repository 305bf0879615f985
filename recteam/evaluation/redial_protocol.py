"""The turn-level ReDial protocol: which messages are scored, what the team is shown before each,
and where the ranking statistics come from.

- A point is a recommender message that mentions a movie; its targets are those movies and the
  team sees every message before it.
- What the team is shown: the seeker's last block of messages is the turn's user message (run
  through Recommender.run_turn); everything before it is seeded into the session's memory
  directly, as run_turn would have left it (episodes of user/assistant turns, the movies the
  recommender named as this session's recommendations, and the profile the offline reading of
  each earlier seeker message builds). Replaying every earlier turn through the team would cost
  a whole team run per message for the same state. Recommender messages that follow the seeker's
  last block (the recommender writing twice in a row) are seeded before it.
- Statistics (popularity, co-mentions) come only from dialogues not being scored: a --train file,
  or k folds of the scored file (dialogue i is in fold i mod k).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from recteam.agents.messages import DialogueTurn, ItemRef, PreferenceProfile
from recteam.agents.offline.linking import EntityLinker
from recteam.agents.offline.understanding import understand
from recteam.agents.user_analyst import profile_record_id
from recteam.evaluation.redial_data import Dialogue, Message
from recteam.memory.cooccurrence import CoMentionTable
from recteam.memory.store import MemoryStore
from recteam.memory.user_memory import MemoryRecord

__all__ = [
    "EvalPoint",
    "Fold",
    "baseline_rankings",
    "eval_points",
    "folds",
    "popularity_scores",
    "seed_session",
]

OPENING = "Hi"  # the user message when the recommender speaks first


@dataclass(frozen=True)
class EvalPoint:
    dialogue_id: str
    index: int  # of the recommender message in the dialogue
    context: tuple[Message, ...]
    targets: tuple[str, ...]
    mentioned: frozenset[str]  # movies named earlier in the dialogue

    @property
    def key(self) -> str:
        return f"redial-{self.dialogue_id}-{self.index}"

    def split(self) -> tuple[list[Message], str]:
        """(history to seed, the user message for run_turn)."""
        msgs = list(self.context)
        end = len(msgs)
        while end and not msgs[end - 1].seeker:
            end -= 1
        start = end
        while start and msgs[start - 1].seeker:
            start -= 1
        if start == end:  # the seeker has not spoken yet
            return msgs, OPENING
        message = " ".join(m.text for m in msgs[start:end])
        return msgs[:start] + msgs[end:], message

    def recent_mentions(self) -> list[str]:
        """Movies named earlier, most recent first."""
        out: list[str] = []
        for msg in reversed(self.context):
            for m in reversed(msg.mentions):
                if m not in out:
                    out.append(m)
        return out


def eval_points(dialogue: Dialogue) -> Iterator[EvalPoint]:
    seen: set[str] = set()
    for i, msg in enumerate(dialogue.messages):
        if not msg.seeker and msg.mentions:
            yield EvalPoint(
                dialogue.id, i, tuple(dialogue.messages[:i]), msg.mentions, frozenset(seen)
            )
        seen.update(msg.mentions)


@dataclass
class Fold:
    name: str
    scored: list[Dialogue]
    train: list[Dialogue]

    def statistics(self) -> CoMentionTable:
        """Popularity and co-mentions, from the training dialogues only."""
        return CoMentionTable.from_dialogues(d.mentioned for d in self.train)


def folds(
    scored: Sequence[Dialogue], k: int, train: Sequence[Dialogue] | None = None
) -> list[Fold]:
    if train is not None:
        return [Fold("train", list(scored), list(train))]
    k = max(2, min(k, len(scored)))
    return [
        Fold(
            f"fold {f + 1}/{k}",
            [d for i, d in enumerate(scored) if i % k == f],
            [d for i, d in enumerate(scored) if i % k != f],
        )
        for f in range(k)
    ]


def popularity_scores(table: CoMentionTable, top: float = 15.0) -> dict[str, float]:
    """Mention counts on the scale of the shipped catalog's payload popularity (0 to ~15, log)."""
    most = max(table.mentions.values(), default=0)
    if not most:
        return {}
    return {k: top * math.log1p(n) / math.log1p(most) for k, n in table.mentions.items()}


def baseline_rankings(point: EvalPoint, table: CoMentionTable, depth: int) -> dict[str, list[str]]:
    popular = [k for k, _ in table.popular(depth + len(point.mentioned))]
    return {"popularity": popular, "repeat mentioned": point.recent_mentions()[:depth]}


def _turns(
    msgs: Sequence[Message], linker: EntityLinker, refs: Mapping[str, ItemRef], user_id: str
) -> tuple[list[list[DialogueTurn]], PreferenceProfile]:
    """Episodes (a user block and the assistant block after it) and the profile the offline
    reading of the seeker's blocks builds, as the user analyst would have."""
    episodes: list[list[DialogueTurn]] = []
    profile = PreferenceProfile(user_id=user_id)
    last: list[ItemRef] = []
    i = 0
    while i < len(msgs):
        seeker = msgs[i].seeker
        j = i
        while j < len(msgs) and msgs[j].seeker == seeker:
            j += 1
        text = " ".join(m.text for m in msgs[i:j])
        if seeker:
            profile = understand(text, linker, last).to_profile_update(profile)
            episodes.append([DialogueTurn(speaker="user", text=text)])
        else:
            named = dict.fromkeys(x for m in msgs[i:j] for x in m.mentions)
            last = [refs[x] for x in named if x in refs]
            turn = DialogueTurn(
                speaker="assistant", text=text, act="RECOMMEND" if last else "CHAT", items=last
            )
            if episodes and episodes[-1][-1].speaker == "user":
                episodes[-1].append(turn)
            else:
                episodes.append([turn])
        i = j
    return episodes, profile


def seed_session(
    store: MemoryStore,
    linker: EntityLinker,
    refs: Mapping[str, ItemRef],
    point: EvalPoint,
    user_id: str,
) -> str:
    """Writes the dialogue before `point` into memory as `user_id`'s session (session id =
    user id); returns the user message for run_turn. `refs`: catalog refs by movie id."""
    history, message = point.split()
    episodes, profile = _turns(history, linker, refs, user_id)
    records = [
        MemoryRecord(
            id=profile_record_id(user_id),
            user_id=user_id,
            kind="preference",
            text="seeded profile",
            data=profile.model_dump(mode="json"),
            session_id=user_id,
        )
    ]
    for n, turns in enumerate(episodes, start=1):
        recommended = [r for t in turns if t.speaker == "assistant" for r in t.items]
        records.append(
            MemoryRecord(
                user_id=user_id,
                kind="episode",
                session_id=user_id,
                text="\n".join(f"{t.speaker}: {t.text}" for t in turns)[:2000],
                created_at=float(n),
                data={
                    "turn": n,
                    "turns": [t.model_dump(mode="json") for t in turns],
                    "recommended": [r.model_dump() for r in recommended],
                },
            )
        )
    store.memories.add_many(records)  # one embedding batch and one write per point
    return message
