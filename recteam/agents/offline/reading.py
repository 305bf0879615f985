"""What each clause says about its targets (items, people, genres, facets, years).

A target takes the nearest stance cue before it in its clause ("I loved Alien and hated Aliens"),
else the nearest after it ("Titanic was boring"); a cue after it wins when a copula joins them
("great suggestion Titanic was awful", chat without stops). It is negated by a negation before
that cue ("I didn't like Alien"), flipped again by one between the cue and itself ("I like
everything except horror"); with no cue, by a negation before it ("no horror", "nothing with
Tom Cruise"); "too"/"less" right before a facet always avoids it ("nothing too dark").
A clause with no cue of its own continues a list ("I loved Alien, Aliens and Heat"), or, when it
is a bare contrast ("but Aliens", ", not Aliens"), takes the opposite stance of the clause before
for items and people ("I didn't like Alien but Aliens"). Genres and facets take no stance across
a clause break: "like Arrival but lighter" wants lighter. A genre or facet with no stance after
"<film> is/was" describes that film and is no wish ("that film was twisted").
In a question, a film is asked about unless it is the reference of a "something like" wish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from recteam.agents.messages import ItemRef
from recteam.agents.offline.clauses import Clause, Unit
from recteam.agents.offline.lexicon import STANCES
from recteam.agents.offline.years import YearBound

__all__ = ["Findings", "Stance", "interpret"]

_TARGETS = frozenset(
    {"item", "person", "cast", "pron1", "pronN", "ordinal", "genre", "facet", "year"}
)
_REFERENCES = frozenset({"pron1", "pronN", "ordinal"})


@dataclass(frozen=True)
class Stance:
    cue: str | None  # one of lexicon.STANCES, or None for no cue
    negated: bool
    after: bool = False  # the cue follows the target ("horror movies like ...", "X was great")


@dataclass
class Findings:
    """Ordered, de-duplicated lists; a later statement moves an entry from its opposite list."""

    liked: list[ItemRef] = field(default_factory=list)
    disliked: list[ItemRef] = field(default_factory=list)
    seen: list[ItemRef] = field(default_factory=list)
    excluded: list[ItemRef] = field(default_factory=list)
    asked: list[ItemRef] = field(default_factory=list)
    mentioned: list[ItemRef] = field(default_factory=list)
    named: list[ItemRef] = field(default_factory=list)  # by title, not by "it" or "the second"
    referenced: list[ItemRef] = field(default_factory=list)  # by "it", "those", "the second"
    # "I'll check out Abduction", "we will watch Jurassic Park tonight": taken up, not judged
    wanted: list[ItemRef] = field(default_factory=list)
    liked_people: list[str] = field(default_factory=list)
    disliked_people: list[str] = field(default_factory=list)
    required_people: list[str] = field(default_factory=list)
    allowed_people: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    liked_genres: list[str] = field(default_factory=list)  # "I love horror": a taste, no filter
    exclude_genres: list[str] = field(default_factory=list)
    # "I hate horror": a lasting taste, kept beyond this request (also in exclude_genres).
    disliked_genres: list[str] = field(default_factory=list)
    allowed_genres: list[str] = field(default_factory=list)
    wants: list[str] = field(default_factory=list)
    avoids: list[str] = field(default_factory=list)
    lasting_avoids: list[str] = field(default_factory=list)  # "I can't stand gore"
    allowed_facets: list[str] = field(default_factory=list)
    years: list[YearBound] = field(default_factory=list)
    # "recent" / "classic" as wished (True) or avoided (False), in text order.
    vague_years: list[tuple[str, bool]] = field(default_factory=list)
    targets: int = 0
    negative_clause_without_target: bool = False
    negative_sentence_without_target: bool = False


def _put(value: object, into: list, *out_of: list) -> None:
    for other in out_of:
        while value in other:
            other.remove(value)
    if value not in into:
        into.append(value)


def interpret(
    clauses: Sequence[Clause],
    last_recommended: Sequence[ItemRef],
    turned_down: frozenset[str] = frozenset(),
) -> Findings:
    """`turned_down`: ids of last picks the user already rejected or disliked; "it", "that one"
    and "those" skip them ("more like that" after a 👎 means the others), ordinals do not."""
    found = Findings()
    negative_sentences: set[int] = set()
    target_sentences: set[int] = set()
    open_picks = [r for r in last_recommended if r.id not in turned_down] or list(last_recommended)
    earlier_items: list[ItemRef] = []
    previous: Stance | None = None
    said_nothing_of: list[ItemRef] = []
    for clause in clauses:
        own = [u for u in clause.units if u.kind in STANCES]
        # "Any comedies like Superbad?" asks for films, not about Superbad: its genre counts.
        about_item = (
            clause.question
            and clause.has("item", "pron1", "pronN", "ordinal")
            and not clause.has("similar")
        )
        before = previous if clause.joiner in ("comma", "contrast") else None
        targets = [u for u in clause.units if u.kind in _TARGETS]
        if not targets and (clause.has("neg") or any(u.kind == "dislike" for u in own)):
            found.negative_clause_without_target = True
            negative_sentences.add(clause.sentence)
        if targets:
            target_sentences.add(clause.sentence)
        state = Stance(own[-1].kind, clause.has("neg")) if own else None
        verdict = _trailing_verdict(clause, targets, own)
        if verdict is not None and before is not None and said_nothing_of:
            # "Watched Bullitt last night, was great", "I saw Bridesmaids, not funny at all": a
            # verdict with nothing of its own to judge judges the films the clause before named
            # and said nothing of (or only "seen"); it is no taste for or against a genre.
            for ref in said_nothing_of:
                _item(found, ref, verdict, False)
            said_nothing_of = []
            previous = verdict
            continue
        said_nothing_of = []
        for target in targets:
            stance = _inherited(clause, _stance(clause, target, own), own, before, target)
            state = stance
            if target.kind == "item" or target.kind in _REFERENCES:
                refs = _resolve(target, earlier_items, last_recommended, open_picks)
                if target.kind in _REFERENCES:
                    for ref in refs:
                        _put(ref, found.referenced)
                    if target.kind == "ordinal":  # "the second one sounds great, more like it"
                        earlier_items.extend(refs)
                    if not (stance.cue or stance.negated or clause.question):
                        continue  # "I'm up for it": a pronoun with nothing said about it
                else:
                    for ref in refs:
                        _put(ref, found.named)
                for ref in refs:
                    _item(found, ref, stance, clause.question)
                    if _intends(clause, target, stance):
                        _put(ref, found.wanted)
                if target.kind == "item":
                    earlier_items.extend(refs)
                    if stance.cue in (None, "seen") and not stance.negated and not clause.question:
                        said_nothing_of.extend(refs)
            elif target.kind in ("person", "cast"):
                _person(found, target, stance, clause.question)
            elif not about_item:
                praised = _praised_films(clause, target, stance, earlier_items, last_recommended)
                for ref in praised:  # "both were hilarious", "it was so funny"
                    _item(found, ref, Stance("like", False), False)
                if not praised:
                    _quality(found, clause, target, stance)
            found.targets += 1
        previous = state
    _stance_back_along_lists(clauses, found, last_recommended)
    # "Not really my kind of humor. Something like Anchorman?": a sentence that only says no.
    found.negative_sentence_without_target = bool(negative_sentences - target_sentences)
    return found


def _intends(clause: Clause, target: Unit, stance: Stance) -> bool:
    """The user means to watch the film: an "intend" cue ("check out", "need to see") or an
    "accept" phrase ("I'll watch", "I'll try") before it, not negated, not asked."""
    if clause.question or stance.negated:
        return False
    if stance.cue == "intend" or (stance.cue == "want" and target.kind in _REFERENCES):
        return True  # "I need to see Game Night", "I'll look for those"
    return stance.cue is None and any(
        u.kind == "accept" and u.end <= target.first for u in clause.units
    )


def _trailing_verdict(clause: Clause, targets: list[Unit], own: list[Unit]) -> Stance | None:
    """'..., was great' / '..., absolutely loved it' with no target: its like or dislike (with
    its negation), when the clause opens with that verdict or a copula and asks nothing."""
    if clause.question or clause.joiner != "comma" or clause.has("want", "intend", "similar"):
        return None
    praise = bool(targets) and all(
        (t.kind == "facet" and t.value in _PRAISE) or t.kind == "genre" for t in targets
    )
    # the praise words themselves ("funny") are targets; any other target is judged as usual
    if targets and not (praise and any(t.kind == "facet" for t in targets)):
        return None
    cues = [u for u in own if u.kind in ("like", "dislike")]
    if not cues and not praise:
        return None
    first = clause.units[0]
    if first.kind not in ("copula", "like", "dislike", "neg", "facet", "genre"):
        return None
    return Stance(cues[0].kind if cues else "like", clause.has("neg"))


def _stance_back_along_lists(
    clauses: Sequence[Clause], found: Findings, last: Sequence[ItemRef]
) -> None:
    """'The Godfather, Goodfellas, The Departed and Casino are my top 4': a list whose stance
    comes after its last film gives that stance to every film of the list."""
    for n, clause in enumerate(clauses):
        if not clause.listed or not any(u.kind in STANCES for u in clause.units):
            continue
        cue = next(u for u in clause.units if u.kind in STANCES)
        items = [u for u in clause.units if u.kind == "item"]
        if not items or cue.first < items[-1].first:
            continue  # the cue comes before the film: it was read as usual
        k = n - 1
        while k >= 0 and (clauses[k].listed or k == n - 1 or clauses[k + 1].listed):
            prior = clauses[k]
            if any(u.kind in STANCES for u in prior.units):
                break
            for u in prior.units:
                if u.kind == "item":
                    _item(found, u.value, Stance(cue.kind, clause.has("neg")), False)
            if not prior.listed:
                break
            k -= 1


def _stance(clause: Clause, target: Unit, own: list[Unit]) -> Stance:
    negs = [u.first for u in clause.units if u.kind == "neg"]
    before = [u for u in own if u.first < target.first]
    after = [u for u in own if u.first > target.first]
    floor = before[-1].first if before else -1
    if after and (not before or _predicate(clause, target, after[0])):
        # "Titanic was boring", "...great suggestion. It Comes at Night was awful" (run together)
        return Stance(after[0].kind, any(floor < n < after[0].first for n in negs), after=True)
    if before:
        cue = before[-1]
        floor = before[-2].first if len(before) > 1 else -1
        negated = any(floor < n < cue.first for n in negs) != any(
            cue.first < n < target.first for n in negs
        )
        return Stance(cue.kind, negated)
    return Stance(None, any(n < target.first for n in negs))


def _predicate(clause: Clause, target: Unit, cue: Unit) -> bool:
    """The cue is said of the target: a copula between them and no other film or person."""
    between = [u for u in clause.units if target.end <= u.first < cue.first]
    return any(u.kind == "copula" for u in between) and not any(
        u.kind in ("item", "person", "cast") for u in between
    )


def _inherited(
    clause: Clause, stance: Stance, own: list[Unit], previous: Stance | None, target: Unit
) -> Stance:
    """The stance a clause without a cue of its own takes from the clause before it."""
    if own or previous is None or (previous.cue is None and not previous.negated):
        return stance
    if clause.listed:
        return Stance(previous.cue, previous.negated or stance.negated)
    # "I loved Alien, not Aliens": a clause that opens with its negation contrasts like "but".
    opens_negated = (
        bool(clause.units)
        and clause.units[0].kind == "neg"
        and clause.units[0].first == clause.start
    )
    contrast = clause.joiner == "contrast" or (clause.joiner == "comma" and opens_negated)
    # Only a bare contrast flips: "but (not) Aliens", not "but haven't heard of The Gift".
    bare = clause.stop - clause.start - (target.end - target.first) <= 3
    if contrast and bare and target.kind in ("item", "person", "cast", "pron1", "pronN", "ordinal"):
        return Stance(previous.cue, not previous.negated) if previous.cue else stance
    return stance


def _resolve(
    target: Unit, earlier: list[ItemRef], last: Sequence[ItemRef], open_picks: Sequence[ItemRef]
) -> list[ItemRef]:
    if target.kind == "item":
        return [target.value]
    if target.kind == "ordinal":
        index = target.value
        if index == "middle":
            return [last[len(last) // 2]] if last else []
        if index in ("oldest", "newest"):
            dated = sorted((r for r in last if r.year), key=lambda r: r.year or 0)
            return [dated[0] if index == "oldest" else dated[-1]] if dated else []
        if isinstance(index, tuple):  # "the first two", "the last two"
            start, stop = index
            return list(last[start:stop])
        return [last[index]] if -len(last) <= index < len(last) else []
    if target.kind == "pron1":  # the item named just before, else the (first) open pick
        return earlier[-1:] or list(open_picks[:1])
    # "Toy Story, Up and Coco: my kids love all of them": the films just listed, else the picks.
    if len(earlier) >= 2:
        return list(earlier)
    return list(open_picks) or earlier


def _item(found: Findings, ref: ItemRef, stance: Stance, question: bool) -> None:
    _put(ref, found.mentioned)
    cue, negated = stance.cue, stance.negated
    if question and cue not in ("similar", "seen", "unseen", "ask_seen") and not negated:
        _put(ref, found.asked)
    elif cue in ("like", "similar"):
        _put(ref, *((found.disliked, found.liked) if negated else (found.liked, found.disliked)))
    elif cue == "dislike":
        _put(ref, *((found.liked, found.disliked) if negated else (found.disliked, found.liked)))
    elif cue == "seen" and not negated:
        _put(ref, found.seen)
    elif cue in (None, "want", "intend", "ok") and negated:
        _put(ref, found.excluded)


def _person(found: Findings, target: Unit, stance: Stance, question: bool) -> None:
    name: str = target.value
    _put(name, found.people)
    if question:
        return
    cue, negated = stance.cue, stance.negated
    if cue == "intend":  # "I'll check out some Tom Hanks films"
        cue = "want"
    positive = (cue in ("like", "similar") and not negated) or (cue == "dislike" and negated)
    negative = (cue in ("like", "similar") and negated) or (cue == "dislike" and not negated)
    if cue in (None, "want", "ok", "seen") and negated:
        negative = True
    elif cue in (None, "want") and target.kind == "cast":
        positive = True
        _put(name, found.required_people)
    elif cue == "want":
        positive = True
    if positive:
        _put(name, found.liked_people, found.disliked_people)
    elif negative:
        _put(name, found.disliked_people, found.liked_people, found.required_people)
    elif cue == "ok":
        _put(name, found.allowed_people, found.disliked_people)


def _quality(found: Findings, clause: Clause, target: Unit, stance: Stance) -> None:
    """Genres, facets and years: wished, avoided, or allowed."""
    if target.kind == "year":
        found.years.append(target.value)
        return
    too = any(u.kind == "too" and 0 <= target.first - u.end <= 1 for u in clause.units)
    cue, negated = stance.cue, stance.negated
    if cue is None and not negated and not too and _describes_a_film(clause, target):
        return
    if cue in ("seen", "unseen", "ask_seen"):
        cue = None
    if cue == "intend":  # "check out some comedies"
        cue = "want"
    if (
        too
        or (cue in (None, "like", "similar", "want") and negated)
        or (cue == "dislike" and not negated)
    ):
        verdict = "avoid"
    elif cue == "ok" or (cue == "dislike" and negated):
        verdict = "allow"
    else:
        verdict = "want"
    value: str = target.value
    # "I hate horror", "I don't like gore": said as a taste, it lasts beyond this request.
    lasting = verdict == "avoid" and (
        (cue == "dislike" and not negated) or (cue == "like" and negated and not too)
    )
    if target.kind == "genre":
        if lasting:
            _put(target.value, found.disliked_genres)
        # "I love horror" tells a taste, not a request: it ranks, it does not filter. A request
        # anywhere in the clause ("looking for a good horror movie") makes it one.
        if (
            verdict == "want"
            and cue == "like"
            and not stance.after
            and not clause.has("want", "intend")
        ):
            _put(value, found.liked_genres, found.exclude_genres)
            return
        lists = {
            "want": (found.genres, found.exclude_genres),
            "avoid": (found.exclude_genres, found.genres),
        }
        _put(value, *lists.get(verdict, (found.allowed_genres, found.exclude_genres)))
        return
    lists = {"want": (found.wants, found.avoids), "avoid": (found.avoids, found.wants)}
    _put(value, *lists.get(verdict, (found.allowed_facets, found.avoids)))
    if lasting:
        _put(value, found.lasting_avoids)
    # "recent" / "classic" bound the years too, unless they describe a film ("Heat is a classic").
    if value in ("recent", "classic") and verdict != "allow" and not clause.has("item"):
        found.vague_years.append((value, verdict == "want"))


# Facets that praise a film they describe ("Superbad was hilarious"); others ("dark", "scary",
# "slow") describe it without saying whether the user liked it.
_PRAISE = frozenset(
    {
        "funny",
        "feel-good",
        "epic",
        "visually-stunning",
        "thought-provoking",
        "mind-bending",
        "suspenseful",
    }
)


def _praised_films(
    clause: Clause,
    target: Unit,
    stance: Stance,
    earlier: list[ItemRef],
    last: Sequence[ItemRef],
) -> list[ItemRef]:
    # "I saw Bridesmaids, that was funny": having seen it does not stop the praise.
    if target.kind != "facet" or target.value not in _PRAISE or stance.cue not in (None, "seen"):
        return []
    if stance.negated:
        return []
    if not _describes_a_film(clause, target):
        return []
    films = [u for u in clause.units if u.kind in ("item", *_REFERENCES) and u.first < target.first]
    refs: list[ItemRef] = []
    for u in films:
        refs += _resolve(u, earlier, last, list(last))
    return refs


def _describes_a_film(clause: Clause, target: Unit) -> bool:
    """'That film was twisted', 'Arrival is sci-fi': a film, then a copula, then the target."""
    films = [
        u.first for u in clause.units if u.kind in ("item", *_REFERENCES) and u.first < target.first
    ]
    return bool(films) and any(
        films[0] < u.first < target.first for u in clause.units if u.kind == "copula"
    )
