"""`recteam eval understanding`: does the team hear what a user means, turn by turn?

A case is one user message in the context of earlier events of the same session (user turns run
through the real team, assistant picks injected, 👍/👎 buttons), with what a person means by it:
the act (ASK, RECOMMEND, ANSWER, CHAT), the stance each film named or referred to in the message
has after it, how many picks were asked for, the request (genres, years, people, wishes), the
lasting tastes, words the answer must contain and films the reply must not recommend. The cases
live in understanding_cases.yaml (the set the rules are tuned on) and
understanding_cases_heldout.yaml (written after it, reported apart: does the tuning generalise?).

How predictions are read and compared, so that a figure means one thing:
- act: the act of the turn's TurnFinished event (a case may list several acceptable acts).
- film stances, over (film, stance) pairs: predicted pairs are the films whose stance was set or
  changed by this message (the dialogue state before and after it differ for that film), plus the
  films the case names, with whatever stance they have after the message (so "more like that"
  after a 👎 passes when the dislike stands). Expected pairs come from `films:`.
- request: only the keys a case states; lists are compared as sets (genres and people without
  case; `like` by catalog id), scalars by equality (null included) or, written [low, high], by
  an inclusive range ("something recent": year_min [2015, 2022]).
- wants / avoids match leniently: an expected word matches a predicted facet when both normalise
  to the same letters, when one extends the other's stem ("lighter" ~ "light", "violence" ~
  "violent": a shared prefix of at least 4 letters that leaves at most 3 letters of either), or
  when both are in one row of FACET_ALIASES ("gory" ~ "gore").
- lasting: the long-term profile after the message: exclude_genres, liked_genres,
  disliked_people as sets; `never` is recall only (each film must be among the profile's
  excluded films; seen or disliked films excluded for other reasons are no error).
- answer_contains: every word in the reply, ignoring case (and curly apostrophes).
- reply_excludes: none of these films among the turn's recommended items.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from rich.table import Table

from recteam.agents.dialogue_state import DialogueState, FilmStance
from recteam.agents.messages import Act, ItemRef, PreferenceProfile
from recteam.agents.trace import TurnFinished
from recteam.memory.items import CatalogItem, normalize_key, title_key

__all__ = [
    "ACTS",
    "FACET_ALIASES",
    "Case",
    "CaseError",
    "CaseResult",
    "LabelIndex",
    "facet_matches",
    "load_cases",
    "match_lists",
    "prf",
    "run_cases",
    "shipped_cases",
    "stance_pairs",
    "summarize",
    "tables",
]

ACTS: tuple[Act, ...] = ("ASK", "RECOMMEND", "ANSWER", "CHAT")
REQUEST_LISTS = ("genres", "exclude_genres", "people", "like", "wants", "avoids")
REQUEST_SCALARS = ("year_min", "year_max", "count", "surprise")
LASTING_SETS = ("exclude_genres", "liked_genres", "disliked_people")
LASTING_RECALL = ("never",)
FACET_ALIASES: tuple[frozenset[str], ...] = tuple(
    frozenset(_row)
    for _row in (
        {"gory", "gore", "bloody"},
        {"sad", "depressing", "tearjerker", "bleak", "cry"},
        {"familyfriendly", "kidfriendly", "forkids", "kids", "family"},
        {"feelgood", "uplifting", "heartwarming"},
        {"funny", "humor", "humour", "comedic", "hilarious"},
        {"truestory", "basedonatruestory", "reallife"},
        {"scary", "frightening", "creepy", "scare"},
        {"mindbending", "mindblowing", "twisty", "mindfuck"},
        {"slow", "slowburn"},
        {"fastpaced", "actionpacked", "pacy"},
        {"smart", "clever", "intelligent"},
    )
)


class CaseError(ValueError):
    """The case file is wrong: each problem names its case id."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


# the case format ---------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Button(_Strict):
    film: str
    liked: bool


class Step(_Strict):
    """One earlier event: a user turn, the assistant's picks, or a button on a card."""

    user: str | None = None
    picks: list[str] | None = None
    button: Button | None = None

    @model_validator(mode="after")
    def _one(self) -> Step:
        if sum(v is not None for v in (self.user, self.picks, self.button)) != 1:
            raise ValueError("a context step is exactly one of user, picks, button")
        return self


class Expect(_Strict):
    act: Act | list[Act]
    films: dict[str, FilmStance] = Field(default_factory=dict)
    count: int | None = None
    request: dict[str, Any] | None = None
    lasting: dict[str, list[str]] | None = None
    answer_contains: list[str] = Field(default_factory=list)
    reply_excludes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _keys(self) -> Expect:
        bad = set(self.request or {}) - set(REQUEST_LISTS + REQUEST_SCALARS)
        bad |= set(self.lasting or {}) - set(LASTING_SETS + LASTING_RECALL)
        if bad:
            raise ValueError(f"unknown request/lasting keys: {', '.join(sorted(bad))}")
        return self

    @property
    def acts(self) -> list[Act]:
        return list(self.act) if isinstance(self.act, list) else [self.act]

    @property
    def count_stated(self) -> bool:
        return "count" in self.model_fields_set


class Case(_Strict):
    id: str
    tags: list[str] = Field(default_factory=list)
    context: list[Step] = Field(default_factory=list)
    message: str = Field(min_length=1)
    expect: Expect

    def labels(self) -> list[str]:
        """Every film label the case names (context and expectations)."""
        out: list[str] = []
        for s in self.context:
            out += s.picks or []
            out += [s.button.film] if s.button else []
        e = self.expect
        out += list(e.films) + e.reply_excludes + (e.lasting or {}).get("never", [])
        out += list((e.request or {}).get("like") or [])
        return out


def shipped_cases(heldout: bool = False) -> Path:
    name = "understanding_cases_heldout.yaml" if heldout else "understanding_cases.yaml"
    return Path(str(resources.files("recteam.evaluation").joinpath(name)))


def load_cases(path: Path) -> list[Case]:
    """The cases of one YAML file; every malformed case is reported by its id."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise CaseError([f"{path}: expected a YAML list of cases"])
    cases: list[Case] = []
    problems: list[str] = []
    seen: set[str] = set()
    for n, entry in enumerate(raw, start=1):
        cid = entry.get("id", f"#{n}") if isinstance(entry, dict) else f"#{n}"
        try:
            case = Case.model_validate(entry)
        except ValidationError as exc:
            problems += [f"{cid}: {e['loc']}: {e['msg']}" for e in exc.errors()]
            continue
        if case.id in seen:
            problems.append(f"{case.id}: duplicate id")
        seen.add(case.id)
        cases.append(case)
    if problems:
        raise CaseError(problems)
    return cases


class LabelIndex:
    """'Title (Year)' -> the catalog's ItemRef, by the catalog's own id (title key and year)."""

    def __init__(self, items: Iterable[CatalogItem]) -> None:
        self.refs = {it.id: ItemRef(id=it.id, title=it.title, year=it.year) for it in items}

    def resolve(self, label: str) -> ItemRef | None:
        m = re.fullmatch(r"(.+?)\s*\((\d{4})\)", label.strip())
        key = f"{title_key(m.group(1))}|{m.group(2)}" if m else f"{title_key(label)}|"
        return self.refs.get(key)

    def ref(self, label: str) -> ItemRef:
        ref = self.resolve(label)
        if ref is None:
            raise CaseError([f"{label!r} is not in the catalog"])
        return ref

    def problems(self, cases: Iterable[Case]) -> list[str]:
        return [
            f"{c.id}: {label!r} is not a catalog film (labels are 'Title (Year)')"
            for c in cases
            for label in dict.fromkeys(c.labels())
            if self.resolve(label) is None
        ]


# metrics -----------------------------------------------------------------------------------------
def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall and F1; an empty side counts as perfect (nothing to get wrong)."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def _letters(word: str) -> str:
    return re.sub(r"[^a-z]", "", word.lower())


def facet_matches(expected: str, predicted: str) -> bool:
    a, b = _letters(expected), _letters(predicted)
    if not a or not b:
        return False
    if a == b or any(a in row and b in row for row in FACET_ALIASES):
        return True
    common = 0
    while common < min(len(a), len(b)) and a[common] == b[common]:
        common += 1
    return common >= 4 and len(a) - common <= 3 and len(b) - common <= 3


def match_lists(
    expected: Sequence[str], predicted: Sequence[str], same: Callable[[str, str], bool]
) -> tuple[int, int, int]:
    """(tp, fp, fn), pairing each expected value with at most one predicted value."""
    left = list(dict.fromkeys(predicted))
    tp = 0
    for e in dict.fromkeys(expected):
        hit = next((p for p in left if same(e, p)), None)
        if hit is not None:
            left.remove(hit)
            tp += 1
    return tp, len(left), len(dict.fromkeys(expected)) - tp


def _same_key(a: str, b: str) -> bool:
    return normalize_key(a) == normalize_key(b)


def stance_pairs(
    before: DialogueState, after: DialogueState, named: Iterable[str]
) -> set[tuple[str, str]]:
    """The (film id, stance) pairs a message produced: films whose stance was set or changed,
    plus the `named` films (the case's expectations) with the stance they have after it."""
    old = {f.item.id: (f.stance, f.turn, f.source) for f in before.films}
    pairs: set[tuple[str, str]] = {
        (f.item.id, f.stance)
        for f in after.films
        if old.get(f.item.id) != (f.stance, f.turn, f.source)
    }
    for item_id in named:
        stance = after.stance_of(item_id)
        if stance is not None:
            pairs.add((item_id, stance))
    return pairs


# running -----------------------------------------------------------------------------------------
@dataclass
class FieldScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    exact: bool = True


@dataclass
class CaseResult:
    id: str
    tags: list[str]
    message: str
    expected_act: list[str]
    act: str | None = None
    reply: str = ""
    expected_pairs: list[tuple[str, str]] = field(default_factory=list)
    predicted_pairs: list[tuple[str, str]] = field(default_factory=list)
    count: tuple[int | None, int | None] | None = None  # (expected, predicted) when stated
    request: dict[str, FieldScore] = field(default_factory=dict)
    request_seen: dict[str, Any] = field(default_factory=dict)
    lasting: dict[str, FieldScore] = field(default_factory=dict)
    answer_missing: list[str] | None = None  # None: not checked
    excluded_shown: list[str] | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def act_ok(self) -> bool:
        return self.act in self.expected_act

    @property
    def stance_ok(self) -> bool:
        return set(self.expected_pairs) == set(self.predicted_pairs)

    @property
    def problems(self) -> list[str]:
        out = [f"error: {self.error}"] if self.error else []
        if not self.act_ok:
            out.append(f"act {self.act}, expected {'/'.join(self.expected_act)}")
        if not self.stance_ok:
            e, p = set(self.expected_pairs), set(self.predicted_pairs)
            out.append(f"films: missing {sorted(e - p)}, extra {sorted(p - e)}")
        if self.count and self.count[0] != self.count[1]:
            out.append(f"count {self.count[1]}, expected {self.count[0]}")
        for kind, scores in (("request", self.request), ("lasting", self.lasting)):
            for name, s in scores.items():
                if not s.exact:
                    seen = self.request_seen.get(f"{kind}.{name}")
                    out.append(f"{kind}.{name} wrong (got {seen!r})")
        if self.answer_missing:
            out.append(f"reply lacks {self.answer_missing}: {self.reply[:160]!r}")
        if self.excluded_shown:
            out.append(f"recommended excluded {self.excluded_shown}")
        return out


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _consume(rec: Any, user: str, text: str, session: str) -> TurnFinished | None:
    done = None
    async for event in rec.run_turn(user, text, session):
        if isinstance(event, TurnFinished):
            done = event
    return done


def _list_field(value: Any) -> list[str]:
    out = []
    for v in value or []:
        out.append(v.id if isinstance(v, ItemRef) else str(v))
    return out


async def run_case(rec: Any, case: Case, index: LabelIndex) -> CaseResult:
    """Replays the case's context in a fresh session of a fresh user, then scores the message."""
    e = case.expect
    result = CaseResult(case.id, case.tags, case.message, list(e.acts))
    result.expected_pairs = sorted({(index.ref(k).id, v) for k, v in e.films.items()})
    user, session = f"eval-{case.id}-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:12]
    started = time.perf_counter()
    try:
        for step in case.context:
            if step.user is not None:
                await _consume(rec, user, step.user, session)
            elif step.picks is not None:
                refs = [index.ref(label) for label in step.picks]
                text = "Here are my picks: " + ", ".join(r.label for r in refs) + "."
                await _maybe(rec.add_assistant_turn(user, session, text, refs))
            elif step.button is not None:
                ref = index.ref(step.button.film)
                await _maybe(rec.feedback(user, session, ref.id, step.button.liked))
        before: DialogueState = await _maybe(rec.dialogue_state(user, session))
        done = await _consume(rec, user, case.message, session)
        after: DialogueState = await _maybe(rec.dialogue_state(user, session))
        profile: PreferenceProfile = await _maybe(rec.profile(user))
    except Exception as exc:  # a broken case is a failed case, not a stopped run
        result.error = f"{type(exc).__name__}: {exc}"[:300]
        return result
    finally:
        result.seconds = time.perf_counter() - started
        forget = getattr(rec, "forget", None)
        if forget is not None:
            await asyncio.to_thread(forget, user)
    if done is None:
        result.error = "the turn produced no TurnFinished event"
        return result
    result.error = done.error
    result.act, result.reply = done.act, done.reply
    named = [i for i, _ in result.expected_pairs]
    result.predicted_pairs = sorted(stance_pairs(before, after, named))
    if e.count_stated:
        result.count = (e.count, after.request.count)
    _score_request(result, e.request or {}, after, index)
    _score_lasting(result, e.lasting or {}, profile, index)
    if e.answer_contains:
        reply = done.reply.lower().replace("’", "'")
        result.answer_missing = [w for w in e.answer_contains if w.lower() not in reply]
    if e.reply_excludes:
        shown = {i.id for i in done.items}
        result.excluded_shown = [x for x in e.reply_excludes if index.ref(x).id in shown]
    return result


def _score_request(
    result: CaseResult, expected: dict[str, Any], after: DialogueState, index: LabelIndex
) -> None:
    r = after.request
    for name, want in expected.items():
        got = getattr(r, name)
        result.request_seen[f"request.{name}"] = [i.label for i in got] if name == "like" else got
        if name in REQUEST_SCALARS:
            ok = _scalar_ok(want, got)
            s = FieldScore(exact=ok)
            if want is not None and ok:
                s.tp = 1
            elif not ok:
                s.fp, s.fn = int(got is not None), int(want is not None)
            result.request[name] = s
            continue
        want = list(want or [])
        if name == "like":
            tp, fp, fn = match_lists([index.ref(w).id for w in want], _list_field(got), str.__eq__)
        elif name in ("wants", "avoids"):
            tp, fp, fn = match_lists(want, _list_field(got), facet_matches)
        else:
            tp, fp, fn = match_lists(want, _list_field(got), _same_key)
        result.request[name] = FieldScore(tp, fp, fn, exact=fp == fn == 0)


def _scalar_ok(want: Any, got: Any) -> bool:
    """Equal, or inside an inclusive [low, high] range ("recent": year_min in [2015, 2022])."""
    if isinstance(want, list) and len(want) == 2:
        return isinstance(got, int) and want[0] <= got <= want[1]
    return bool(got == want)


def _score_lasting(
    result: CaseResult, expected: dict[str, list[str]], p: PreferenceProfile, index: LabelIndex
) -> None:
    have = {
        "exclude_genres": p.constraints.exclude_genres,
        "liked_genres": p.liked_genres,
        "disliked_people": p.disliked_people,
        "never": [i.id for i in p.constraints.exclude_items],
    }
    for name, want in expected.items():
        result.request_seen[f"lasting.{name}"] = have[name]
        if name == "never":
            tp, fp, fn = match_lists([index.ref(w).id for w in want], have[name], str.__eq__)
            fp = 0
        else:
            tp, fp, fn = match_lists(want, have[name], _same_key)
        result.lasting[name] = FieldScore(tp, fp, fn, exact=fp == fn == 0)


async def run_cases(
    rec: Any,
    cases: Sequence[Case],
    index: LabelIndex,
    on_case: Callable[[CaseResult], None] | None = None,
    concurrency: int = 1,
) -> list[CaseResult]:
    """Every case, `concurrency` at a time (each in its own user and session, so they share
    nothing); results in the cases' order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(case: Case) -> CaseResult:
        async with gate:
            result = await run_case(rec, case, index)
        if on_case:
            on_case(result)
        return result

    return list(await asyncio.gather(*(one(c) for c in cases)))


# the report --------------------------------------------------------------------------------------
def _group(results: Sequence[CaseResult]) -> dict[str, Any]:
    stance = Counter[str]()
    for r in results:
        e, p = set(r.expected_pairs), set(r.predicted_pairs)
        stance.update(tp=len(e & p), fp=len(p - e), fn=len(e - p))
    return {
        "cases": len(results),
        "passed": sum(not r.problems for r in results),
        "act_accuracy": sum(r.act_ok for r in results) / len(results) if results else 0.0,
        "stance": prf(stance["tp"], stance["fp"], stance["fn"]),
    }


def _fields(results: Sequence[CaseResult], kind: Literal["request", "lasting"]) -> dict[str, Any]:
    totals: dict[str, Counter[str]] = {}
    for r in results:
        for name, s in getattr(r, kind).items():
            c = totals.setdefault(name, Counter())
            c.update(tp=s.tp, fp=s.fp, fn=s.fn, cases=1, exact=int(s.exact))
    return {
        name: {
            **prf(c["tp"], c["fp"], c["fn"]),
            "cases": c["cases"],
            "exact": c["exact"] / c["cases"],
        }
        for name, c in sorted(totals.items())
    }


def summarize(results: Sequence[CaseResult]) -> dict[str, Any]:
    """Every figure of the report as one JSON-ready object."""
    confusion: dict[str, Counter[str]] = {}
    for r in results:
        confusion.setdefault(r.expected_act[0], Counter())[r.act or "none"] += 1
    counted = [r.count for r in results if r.count is not None]
    answered = [r.answer_missing for r in results if r.answer_missing is not None]
    excluded = [r.excluded_shown for r in results if r.excluded_shown is not None]
    tags = sorted({t for r in results for t in r.tags})
    return {
        **_group(results),
        "act_confusion": {k: dict(v) for k, v in sorted(confusion.items())},
        "count_accuracy": {
            "cases": len(counted),
            "accuracy": sum(e == p for e, p in counted) / len(counted) if counted else None,
        },
        "request": _fields(results, "request"),
        "lasting": _fields(results, "lasting"),
        "answer_contains": {
            "cases": len(answered),
            "hit_rate": sum(not m for m in answered) / len(answered) if answered else None,
        },
        "reply_excludes": {
            "cases": len(excluded),
            "violations": sum(bool(v) for v in excluded),
        },
        "errors": sum(r.error is not None for r in results),
        "seconds": round(sum(r.seconds for r in results), 2),
        "tags": {t: _group([r for r in results if t in r.tags]) for t in tags},
        "failures": [
            {"id": r.id, "message": r.message, "problems": r.problems, "act": r.act}
            for r in results
            if r.problems
        ],
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def tables(summary: dict[str, Any], show_failures: bool = False) -> list[Table]:
    """The report as rich tables: the headline, acts, fields, tags, failures."""
    s = summary
    head = Table(title="Understanding", header_style="bold")
    head.add_column("metric")
    head.add_column("value", justify="right")
    head.add_column("target", justify="right", style="dim")
    st = s["stance"]
    head.add_row("cases (passed every check)", f"{s['cases']} ({s['passed']})", "")
    head.add_row("act accuracy", _pct(s["act_accuracy"]), ">= 0.90")
    head.add_row(
        "film stance P / R / F1",
        f"{st['precision']:.2f} / {st['recall']:.2f} / {st['f1']:.2f}",
        "F1 >= 0.90",
    )
    head.add_row(
        "count accuracy",
        f"{_pct(s['count_accuracy']['accuracy'])} of {s['count_accuracy']['cases']}",
        "",
    )
    a = s["answer_contains"]
    head.add_row("answer_contains hit rate", f"{_pct(a['hit_rate'])} of {a['cases']}", "")
    x = s["reply_excludes"]
    head.add_row("reply_excludes violations", f"{x['violations']} of {x['cases']}", "0")
    head.add_row("turn errors", str(s["errors"]), "0")
    out = [head]

    acts = Table(title="Acts: expected (rows) x predicted", header_style="bold")
    acts.add_column("expected")
    cols = [*ACTS, "none"]
    for c in cols:
        acts.add_column(c, justify="right")
    for exp, row in s["act_confusion"].items():
        acts.add_row(exp, *(str(row.get(c, "")) for c in cols))
    out.append(acts)

    fields = Table(title="Request and lasting fields (where stated)", header_style="bold")
    for col in ("field", "cases", "exact", "precision", "recall"):
        fields.add_column(col, justify="left" if col == "field" else "right")
    for kind in ("request", "lasting"):
        for name, f in s[kind].items():
            fields.add_row(
                f"{kind}.{name}",
                str(f["cases"]),
                _pct(f["exact"]),
                _pct(f["precision"]),
                _pct(f["recall"]),
            )
    out.append(fields)

    tags = Table(title="Per tag", header_style="bold")
    for col in ("tag", "cases", "passed", "act acc", "stance F1"):
        tags.add_column(col, justify="left" if col == "tag" else "right")
    for tag, g in s["tags"].items():
        tags.add_row(
            tag, str(g["cases"]), str(g["passed"]), _pct(g["act_accuracy"]), _pct(g["stance"]["f1"])
        )
    out.append(tags)

    if show_failures and s["failures"]:
        fails = Table(title="Failures", header_style="bold", show_lines=True)
        fails.add_column("case")
        fails.add_column("message")
        fails.add_column("what went wrong")
        for f in s["failures"]:
            fails.add_row(f["id"], f["message"], "\n".join(f["problems"]))
        out.append(fails)
    return out
