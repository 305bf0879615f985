"""What the responder's prose may hold before it reaches the chat: films from the candidate bus
or the conversation only (`foreign_titles` finds the others), and no raw HTML (`escape_html`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from recteam.agents.offline.linking import EntityLinker, Mention
from recteam.agents.offline.text import Token, tokenize
from recteam.memory.items import normalize_key, title_key

__all__ = ["escape_html", "foreign_titles"]

# Markdown shows a code span's or a fenced block's text as it is, so "<" inside stays readable.
_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
# "**Starfall** (2016)": a bold name with its year is a film's title, in the catalog or not.
_BOLD_WITH_YEAR = re.compile(r"\*\*([^*\n]{1,200}?)\*\*\s*\((1[89]\d\d|20\d\d)\)")
# Evidence that marks a title wherever it stands; capitals or a cue alone may as well mark a place
# or a character ("survival on Mars", "set on the Red Planet"), told by a word of place before it
# or by the facts the model was given.
_TITLE_EVIDENCE = frozenset({"distinctive", "year", "quoted"})
# ("to" is left out: "similar to Alien" names a film.)
_PLACE_WORDS = frozenset({"on", "in", "at", "from", "into", "across", "around", "near"})


def escape_html(text: str) -> str:
    """`<` and `>` as entities outside code: markdown still renders, an <img> or <script> does
    not. Idempotent (`&` is left alone), so a text escaped once may pass again."""
    parts: list[str] = []
    last = 0
    for code in _CODE.finditer(text):
        parts += [_entities(text[last : code.start()]), code.group()]
        last = code.end()
    parts.append(_entities(text[last:]))
    return "".join(parts)


def _entities(text: str) -> str:
    return text.replace("<", "&lt;").replace(">", "&gt;")


def foreign_titles(
    text: str, linker: EntityLinker, allowed: Iterable[str], said: Iterable[str], given: str
) -> list[str]:
    """Films `text` names beyond the `allowed` titles, each once: catalog titles the linker finds,
    and bold names given with a year. A title that the user or the offline reply wrote
    (`said`) is allowed too; one found by its capitals or a cue alone is allowed after a word of
    place or when the data the model was given (`given`) holds it. Lower-case words are prose
    ("an interstellar journey")."""
    keys = {title_key(t) for t in allowed}
    heard = f" {normalize_key(' '.join(said))} "
    known = f" {normalize_key(given)} "
    found: dict[str, str] = {}
    for bold in _BOLD_WITH_YEAR.finditer(text):
        key = title_key(bold.group(1))
        if key and key not in keys and f" {key} " not in heard:
            found.setdefault(key, bold.group(1).strip())
    tokens = tokenize(text)
    for mention in linker.link_tokens(text, tokens):
        if mention.kind != "title" or mention.item is None or mention.text.islower():
            continue
        key = title_key(mention.item.title)
        if key in keys or f" {key} " in heard:
            continue
        if mention.evidence not in _TITLE_EVIDENCE and (
            f" {key} " in known or _after_place_word(tokens, mention)
        ):
            continue
        found.setdefault(key, mention.item.title)
    return list(found.values())


def _after_place_word(tokens: list[Token], mention: Mention) -> bool:
    i = mention.first - 1
    if i >= 0 and tokens[i].key == "the" and not tokens[i + 1].clause_start:
        i -= 1
    return i >= 0 and not tokens[i + 1].clause_start and tokens[i].key in _PLACE_WORDS
