"""The offline policy's language understanding: catalog entity linking and a rule-based reading of
one user message (no LLM, no network). See linking.py and understanding.py for the rules."""

from recteam.agents.offline.lexicon import Lexicon, load_lexicon
from recteam.agents.offline.linking import EntityLinker, Mention, Tier
from recteam.agents.offline.understanding import Smalltalk, Understanding, understand

__all__ = [
    "EntityLinker",
    "Lexicon",
    "Mention",
    "Smalltalk",
    "Tier",
    "Understanding",
    "load_lexicon",
    "understand",
]
