"""Facts a film's summary states outright, read by rule at catalog build time: who directed it
("directed by X", "written and directed by X and Y", "X's directorial debut"), what it is based
on (a closed vocabulary: "based on the 1985 novel" -> "novel", "inspired by true events" ->
"true story"), and the series it belongs to ("the fourth installment in the Vacation film
series" -> "Vacation", "a sequel to Home Alone" -> "Home Alone").

The rules prefer saying nothing to guessing: a phrase that does not parse cleanly yields no
fact, and a "directed by" that describes another film (a remake's original, the film a sequel
follows) is skipped. Summaries are data: nothing here follows them as instructions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from recteam.memory.sources import BASED_ON

__all__ = ["BASED_ON", "FilmFacts", "based_on", "directors", "extract_facts", "franchise"]

# Upper-case letters, the accented ones included ('Émile Chautard', 'Jonas Åkerlund').
_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĘĚĞĪİĽŁŃŇŌŐŒŘŚŞŠŢŤŪŮŰŸŹŻŽȘȚ"
# One word of a person's name: 'Mann', "O'Neill", 'Jean-Luc', "d'Arrast", an initial 'P.' or
# 'D.W.', a quoted nickname ('Ahmir "Questlove" Thompson'). A word with a trailing full stop is
# only an initial, so 'Raimi. The film' stops at 'Raimi'; 'Jr.' may only end a name.
_WORD = (
    rf"(?:[{_UP}]\.(?:\s?[{_UP}]\.)*|(?:St|Dr)\.|(?!(?:Jr|Sr)\b)[{_UP}][\w'’\-]*\w|[{_UP}](?!\w)"
    rf"|[dl]['’][{_UP}][\w'’\-]*\w|[\"“][^\"”]{{1,30}}[\"”])"
)
_PARTICLE = r"(?:de|da|del|della|der|di|du|van|von|le|la|bin|dos|das|ten|ter|y)"
_NAME = rf"{_WORD}(?:\s+(?:{_PARTICLE}\s+)*{_WORD}){{0,5}}(?:,?\s+(?:Jr|Sr)\.?(?!\w))?"
_NAMES = rf"{_NAME}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*){_NAME})*"
# What may stand between "by" and the name: 'the English director', 'German film director',
# 'Academy Award-winner', "Metro's resident director", 'actor/screenwriter', 'series creator'.
_DESCRIBED = (
    r"(?:(?:(?:the|both|a|an|its|his|her|their)\s+)?(?:[A-Z][\w-]*['’]s\s+)?"
    r"(?:[A-Z][\w-]*\s+)*(?:[a-z][\w-]*\s+){0,3}?[\w/-]*"
    r"(?:director|filmmaker|film maker|maker|veteran|artist|playwright|actor|actress|comedian|"
    r"cinematographer|animator|photographer|novelist|writer|producer|documentarian|winner|"
    r"newcomer|auteur|choreographer|screenwriter|creator|editor|native|brother|husband|wife|"
    r"partner|son|daughter|stuntman|pioneer|member)s?,?\s+)"
)

# "directed by", "co-directed by", "written and directed by", "directed, written and produced
# by", "directed by and starring", "written by, directed by, and starring": the roles that may
# sit between "directed" and "by", and "starring" after it.
_ROLE = (
    r"(?:co-)?(?:written|produced|edited|scored|shot|photographed|choreographed|animated|"
    r"created|conceived|narrated|co-written|co-produced|executive[- ]produced)(?:\s+by)?"
)
_DIRECTED_BY = re.compile(
    rf"\b(?:co-)?[Dd]irected(?:\s*,\s*(?:and\s+)?{_ROLE}|\s+and\s+{_ROLE})*\s+by\s*,?\s+"
    rf"(?:(?:and\s+)?(?:starring|featuring|starred|stars|(?:co-)?produced by|written by),?\s+)*"
    rf"(?:both\s+)?{_DESCRIBED}?(?P<names>{_NAMES})"
)
_DEBUT_POSSESSIVE = re.compile(
    rf"(?P<names>{_NAME})['’]s?\s+(?:(?:first|feature|feature-length|feature film|solo|"
    rf"full-length|narrative|live-action)\s+)*directorial debut"
)
_DEBUT_OF = re.compile(rf"directorial debut of {_DESCRIBED}?(?P<names>{_NAMES})")
# Words before "directed by" in the same sentence that may make it about another film: "a
# remake of the 1934 film directed by X". Not when the film's own subject follows the cue
# ("Based on the novel, the film was directed by X"), nor when the source is not a film
# ("an adaptation of the novel The Brave Cowboy directed by X").
_OTHER_FILM = re.compile(
    r"\b(?:remake of|remade|sequel to|prequel to|follow-up to|spin-?off|based (?:up)?on|"
    r"adaptation of|adapted from|version of|inspired by|parody of|homage to|tribute to)\b",
    re.IGNORECASE,
)
_FILM_WORD = re.compile(
    r"\b(?:film|movie|version|original|picture|serial|cartoon|remake|series)s?\b"
)
_OWN_SUBJECT = re.compile(r"\b(?:was|were|is|are|it)\b|,\s*(?:the|this) (?:film|movie)\b", re.I)
# Capitalised words that start a clause, a company or a group, never a director's name.
_NOT_A_NAME = {
    "The",
    "A",
    "An",
    "It",
    "He",
    "She",
    "They",
    "His",
    "Her",
    "Their",
    "This",
    "That",
    "In",
    "On",
    "At",
    "For",
    "From",
    "With",
    "American",
    "British",
    "Walt Disney Productions",
}
_COMPANY = re.compile(
    r"\b(?:Pictures|Studios?|Productions?|Company|Corporation|Films?|Entertainment|Brothers|"
    r"Bros|Animation|Television|Network|Associates|Inc|Ltd|Universal|Paramount|Columbia)\b"
)
_SENTENCE_END = re.compile(r"(?<![A-Z])(?<!\b(?:Jr|Sr|St|Dr|Mr|vs))[.!?](?=\s+[A-Z\"“(]|\s*$)")


def _sentence_start(text: str, pos: int) -> int:
    """Where the sentence holding text[pos] starts."""
    start = 0
    for m in _SENTENCE_END.finditer(text, 0, pos):
        start = m.end()
    return start


def _split_names(names: str) -> list[str]:
    if "," in names and not re.search(r"\sand\s|&", names):
        # "Directed by Fernando Trueba, Two Much stars ...": a list ends with "and" or "&".
        names = names.split(",")[0]
    parts = [p.strip() for p in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*", names)]
    out: list[str] = []
    for p in parts:
        if not p:
            continue
        if p in ("Jr.", "Sr.", "Jr", "Sr") and out:  # 'Robert Downey, Jr.'
            out[-1] = f"{out[-1]}, {p}"
            continue
        out.append(p)
    # 'Joel and Ethan Coen', 'Anthony and Joe Russo': a lone first name takes the next surname.
    for i in range(len(out) - 1):
        if " " not in out[i] and " " in out[i + 1] and not out[i].endswith("."):
            out[i] = f"{out[i]} {out[i + 1].split()[-1]}"
    return out


def _plausible(name: str) -> bool:
    words = name.split()
    if not words or name in _NOT_A_NAME or words[0] in _NOT_A_NAME or _COMPANY.search(name):
        return False
    if name.endswith(("'s", "’s", "'", "’")) or name[0] in '"“':  # "by Murray's husband"
        return False
    return len(name) > 2 and len(words) <= 5


def _about_another_film(summary: str, pos: int) -> bool:
    """Whether the "directed by" at `pos` describes a film the summary compares this one to."""
    before = summary[_sentence_start(summary, pos) : pos]
    cues = list(_OTHER_FILM.finditer(before))
    if not cues:
        return False
    between = before[cues[-1].end() :]
    return bool(_FILM_WORD.search(between)) and not _OWN_SUBJECT.search(between)


def _full_name(name: str, summary: str) -> str:
    """'Levy' -> 'Shawn Levy' when the summary names a Shawn Levy; the name as it is otherwise."""
    if " " in name:
        return name
    full = re.search(rf"\b((?:{_WORD}\s+)+){re.escape(name)}\b", summary)
    return f"{full.group(1).strip()} {name}" if full else name


def _names(raw: str, summary: str) -> list[str]:
    found: list[str] = []
    for n in _split_names(raw):
        n = _full_name(n, summary)
        if _plausible(n) and n not in found:
            found.append(n)
    return found


def directors(summary: str) -> list[str]:
    """Who directed the film, as the summary states it; [] when it does not."""
    for m in _DIRECTED_BY.finditer(summary):
        if _about_another_film(summary, m.start()):
            continue
        names = _names(m.group("names"), summary)
        if names:
            return names
    for pattern in (_DEBUT_POSSESSIVE, _DEBUT_OF):
        for m in pattern.finditer(summary):
            names = _names(m.group("names"), summary)
            if names:
                return names
    return []


_BASED_TRIGGER = re.compile(
    r"\b(?:(?:loosely|partly|partially|very loosely)\s+)?(?:based\s+(?:up)?on|adapted\s+from|"
    r"adaptation\s+of|inspired\s+by)\s+",
    re.IGNORECASE,
)
# The first of these after the trigger (before the clause ends) names what the film is based on.
_BASED_KIND = [
    (
        re.compile(
            r"\btrue (?:story|stories|events?)\b|\breal(?:-life)? (?:events?|story|people|life)\b|\bactual events\b|\bthe life of\b|\bthe true\b",
            re.I,
        ),
        "true story",
    ),
    (re.compile(r"\bshort stor(?:y|ies)\b", re.I), "short story"),
    (re.compile(r"\bgraphic novels?\b|\bcomic(?:s| book| strip)?\b|\bmanga\b", re.I), "comic"),
    (re.compile(r"\bnovel(?:s|la|las|ette)?\b", re.I), "novel"),
    (re.compile(r"\bvideo ?games?\b", re.I), "video game"),
    (
        re.compile(r"\b(?:television|TV) (?:series|show|sitcom|program(?:me)?)\b|\bsitcom\b", re.I),
        "TV series",
    ),
    (re.compile(r"\b(?:stage |Broadway )?musical\b", re.I), "musical"),
    (re.compile(r"\b(?:stage )?plays?\b", re.I), "play"),
    (re.compile(r"\bfairy ?tales?\b", re.I), "fairy tale"),
    (
        re.compile(
            r"\b(?:non-fiction )?books?\b|\bmemoirs?\b|\bautobiography\b|\bbiography\b", re.I
        ),
        "book",
    ),
]
# Where the phrase after the trigger stops: a clause break, or its author ("by ...").
_CLAUSE_END = re.compile(r"[.;,(]|\s(?:by|which|that|who|written|and starring|starring)\s")


def based_on(summary: str) -> str | None:
    """What the film is based on, in BASED_ON's words; None when the summary does not say."""
    for m in _BASED_TRIGGER.finditer(summary):
        if re.search(
            r"\b(?:not|never|nor)\s+(?:\w+\s+)?$", summary[max(0, m.start() - 20) : m.start()]
        ):
            continue  # "this film is not based on any of the books"
        tail = summary[m.end() : m.end() + 80]
        end = _CLAUSE_END.search(tail)
        window = tail[: end.start()] if end else tail
        found = [(k.search(window), kind) for k, kind in _BASED_KIND]
        hits = [(hit.start(), kind) for hit, kind in found if hit]
        if hits:
            return min(hits)[1]
    return None


# A series or film title: capitalised words (digits, Roman numerals) joined by small words.
_TWORD = r"(?:[A-Z]\.){2,}|(?:Mr|Mrs|Dr|St|Jr)\.|[A-Z0-9][\w'’!?\-.]*[\w!?]|[A-Z0-9]"
_SMALL = r"(?:of|the|a|an|in|on|to|for|at|from|with|and(?:\s+the)?(?=\s+[A-Z]))"
_TITLE = rf"(?:{_TWORD})(?::?\s+(?:{_SMALL}\s+)*(?:{_TWORD}))*"
_ORDINAL = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    r"thirteenth|fourteenth|fifteenth|[\w-]+teenth|twentieth|\d+(?:st|nd|rd|th)|final|last|next|"
    r"latest|penultimate|concluding)"
)
_SERIES_WORD = r"(?:film series|movie series|series|franchise|trilogy|saga|tetralogy|quadrilogy|anthology|film franchise|media franchise|cinematic universe)"
_ADJ = r"(?:original|main|live-action|animated|classic|popular|long-running)"
_IN_SERIES = re.compile(
    rf"\b{_ORDINAL}\s+(?:(?:and\s+\w+|feature|theatrical|live-action|animated|main)\s+)*"
    rf"(?:installment|instalment|film|entry|chapter|movie|part|sequel|feature|picture)s?\s+"
    rf"(?:in|of)\s+(?:the\s+)?(?:{_ADJ}\s+)*?"
    rf"(?P<name>{_TITLE})\s+{_SERIES_WORD}\b"
    rf"|\b{_ORDINAL}\s+(?:installment|instalment|film|entry|chapter|movie)\s+(?:in|of)\s+the\s+"
    rf"(?P<universe>(?:{_TWORD})(?:\s+(?:{_TWORD}))*\s+(?:Universe|Saga))\b"
)
_SEQUEL_TO = re.compile(
    rf"\b(?:a|the|direct|standalone|stand-alone|\s)*(?:sequel|prequel|follow-up)\s+to\s+"
    rf"(?:(?:the|his|her|their|its)\s+)?(?:\d{{4}}['’]s\s+)?"
    rf"(?:[A-Z][\w.\-]*(?:\s+[A-Z][\w.\-]*)*['’]s?\s+(?=\d{{4}}|[a-z]))?(?:(?:\d{{4}}|earlier|original|previous|hit)\s+)*"
    rf"(?:(?:[\w-]+\s+)?(?:film|movie)\s+)?(?P<name>{_TITLE})"
)
_NUMBERING = re.compile(
    r"(?:\s+(?:(?:Part|Chapter)\s+(?:\d+|[IVX]+|One|Two|Three)|\d+|II|III|IV|V|VI|VII|VIII|IX))+$"
)
# Studios whose possessive precedes a series name ("Sony's Smurfs film series").
_STUDIOS = {
    "Sony",
    "Disney",
    "Universal",
    "Paramount",
    "Columbia",
    "MGM",
    "Pixar",
    "DreamWorks",
    "Marvel",
    "Hammer",
    "Fox",
    "Lionsgate",
    "Warner",
    "Bros",
    "Netflix",
    "Republic",
}
_NOT_A_TITLE = {"The", "A", "An", "It", "This", "That", "His", "Her", "Their", "Its"}


# Words before a series phrase in the same sentence that make it about another film or deny it.
_NOT_THIS_FILM = re.compile(
    r"\b(?:remake of|remade|parody of|homage to|spoof of|not|rather than|instead of|unrelated)\b",
    re.IGNORECASE,
)


def _series_name(raw: str, owners: set[str]) -> str | None:
    name = raw.strip().removesuffix(".")
    # "Sony's Smurfs", "Raimi's Spider-Man": a studio's or the director's possessive goes.
    owner = re.match(r"^(.+?)['’]s?\s+(?=\S)", name)
    if owner and (owner.group(1) in owners or owner.group(1).split()[-1] in owners):
        name = name[owner.end() :]
    if name in _NOT_A_TITLE or name in _STUDIOS or len(name) < 2 or name.isdigit():
        return None
    if _COMPANY.search(name):
        return None
    # 'Terminator 2: Judgment Day' -> 'Terminator 2' -> 'Terminator'
    main, colon, _ = name.partition(":")
    if colon and _NUMBERING.search(main):
        name = main.strip()
    stripped = _NUMBERING.sub("", name).strip()
    return stripped if len(stripped) >= 2 and stripped not in _NOT_A_TITLE else name


def franchise(summary: str, directed_by: list[str] | None = None) -> str | None:
    """The series the summary says the film belongs to ('the fourth installment in the Vacation
    film series' -> 'Vacation'; 'the sequel to Home Alone (1990)' -> 'Home Alone'); None when
    it says none. `directed_by` names whose possessive may precede the name ("Raimi's")."""
    owners = _STUDIOS | {d.split()[-1] for d in directed_by or [] if d.split()}
    for m in _IN_SERIES.finditer(summary):
        if _NOT_THIS_FILM.search(summary[_sentence_start(summary, m.start()) : m.start()]):
            continue
        name = _series_name(m.group("name") or m.group("universe") or "", owners)
        if name:
            return name
    for m in _SEQUEL_TO.finditer(summary):
        if _NOT_THIS_FILM.search(summary[_sentence_start(summary, m.start()) : m.start()]):
            continue
        name = _series_name(m.group("name"), owners)
        if name:
            return name
    return None


@dataclass(frozen=True)
class FilmFacts:
    directors: list[str] = field(default_factory=list)
    based_on: str | None = None
    franchise: str | None = None


def extract_facts(summary: str | None) -> FilmFacts:
    """All three facts of one summary (empty facts for no summary)."""
    if not summary:
        return FilmFacts()
    found = directors(summary)
    return FilmFacts(found, based_on(summary), franchise(summary, found))
