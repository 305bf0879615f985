"""Whether a message asks for suggestions outright ("any good Tom Hanks movies?"): the manager
recommends on it once anything is known, and the user analyst reads people named in such a
request as people the user wants to see."""

from __future__ import annotations

import re

__all__ = ["asks_for_suggestions"]

_REQUEST = re.compile(
    r"\b(recommend|suggest|suggestions?|what should i watch|any ideas|any good|give me|show me|"
    r"find me|looking for|in the mood for|want to watch|something|anything|another|more like|"
    r"what next|what now|what else|watch next|next movie|next film|recommendations?|"
    r"ideas?|options|picks?|one more|more please|surprise me|need a (?:movie|film)|"
    r"(?:a|another|some) (?:movie|film|flick)s?|entertain me|to watch|for tonight|movie night)\b",
    re.IGNORECASE,
)


def asks_for_suggestions(text: str) -> bool:
    return _REQUEST.search(text) is not None
