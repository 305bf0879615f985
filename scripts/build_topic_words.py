"""Builds recteam/data/topic_words.txt.gz: the words film summaries use for what a film is about.

A word a user types that no other part of the reader takes becomes a subject word ("heist",
"submarine") only when film summaries use it: in at least MIN_DOCS of the shipped summaries
(so typos and chat words like "pls" or "lol" are out) and in at most MAX_SHARE of them (so
"even", "around" or "during" are out). One word per line, with its document count.

    .venv/bin/python scripts/build_topic_words.py
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "recteam" / "data"
MIN_DOCS = 3
MAX_SHARE = 0.03
_WORD = re.compile(r"[a-z]+")


def main() -> None:
    df: Counter[str] = Counter()
    docs = 0
    with gzip.open(DATA / "catalog.summaries.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            summary = json.loads(line)["summary"].lower()
            df.update(set(_WORD.findall(summary)))
            docs += 1
    ceiling = MAX_SHARE * docs
    words = sorted(w for w, n in df.items() if MIN_DOCS <= n <= ceiling and len(w) > 2)
    out = DATA / "topic_words.txt.gz"
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as fh:
        fh.write(
            f"# {len(words)} words from {docs} summaries: {MIN_DOCS} <= documents <= "
            f"{MAX_SHARE:.0%}; built by scripts/build_topic_words.py\n"
        )
        for w in words:
            fh.write(f"{w}\t{df[w]}\n")
    print(f"{out}: {len(words)} words from {docs} summaries ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
