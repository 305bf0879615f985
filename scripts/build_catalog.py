"""Builds the shipped catalog from the wikipedia-movies data and ReDial's list of film titles:

- recteam/data/catalog.jsonl.gz: one film a line, its facts (title, year, genres, cast,
  Wikipedia slug, the URL of its Wikipedia poster thumbnail when it has one, popularity) and the
  facts its Wikipedia summary states (directors, what it is based on, its series;
  recteam/memory/facts.py reads them here, once, at build time);
- recteam/data/catalog.summaries.jsonl.gz: the Wikipedia summaries, {"id", "summary"} a line,
  in their own file because they are Wikipedia text under CC BY-SA 4.0 (see NOTICE.md); the
  first start reads them into each film's description;
- recteam/data/catalog.vectors.npz: each film's all-MiniLM-L6-v2 vector (float16) of its
  dense_text() with its summary, keyed by text_key, so a first start loads vectors instead of
  spending an hour embedding 36k summaries on two cores.

ReDial's films that Wikipedia's American list lacks (matched as the evaluation does: normalised
title and year +-1, a series' main title, 'Episode VIII' dropped) join as title-and-year items
with no genres and no cast. Only the list of titles is used: the CSV's nbMentions counts include
ReDial's test dialogues and rank nothing.

Popularity, the prior that orders results when nothing else does (and that tells which of two
same-titled films a person means), is computed from what Wikipedia says of a film (summary
length, cast listed, a poster) plus LISTED_BONUS when the film is on ReDial's list of films
people named in chat (membership only, the same for every listed film, its count never read).
A listed film Wikipedia's list lacks gets the median popularity of the listed films it has, so
"Oldboy" is as likely the 2003 film as the 2013 remake.

    uv run python scripts/build_catalog.py [../shared/data/wikipedia-movies]
        [../shared/data/redial/movies_with_mentions.csv] [--reembed]

Vectors already in the current catalog.vectors.npz are reused for unchanged texts (--reembed
recomputes all), and the file is left as it is when no vector changed; the rest are embedded
with an on-disk cache in the system temp folder, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from recteam.evaluation.redial_data import load_movies
from recteam.memory.embeddings import (
    BUNDLED_MODEL,
    CachedEmbedder,
    load_local_embedder,
    text_key,
)
from recteam.memory.ingest import IngestReport, read_items, summaries_sidecar, vectors_sidecar
from recteam.memory.items import CatalogItem, title_key
from recteam.memory.settings import EmbeddingSettings

OUT = Path(__file__).resolve().parent.parent / "recteam" / "data"
# 'Star Wars: Episode VIII – The Last Jedi' is 'Star Wars: The Last Jedi' on Wikipedia.
_EPISODE = re.compile(r"\bEpisode [IVXLC\d]+\s*[–—-]?\s*", re.IGNORECASE)


def _popularity(item: CatalogItem, raw: dict) -> float:
    words = len((raw.get("extract") or "").split())
    score = 0.5 * math.log1p(words) + 0.3 * math.log1p(len(item.cast))
    return round(score + (0.3 if raw.get("thumbnail") else 0.0), 3)


LISTED_BONUS = 1.0


def listed_prior(films: list[CatalogItem], extra: list[CatalogItem], movies_csv: Path) -> None:
    """Adds LISTED_BONUS to the catalog films on ReDial's list (same title key, the same year,
    else a year apart when no film of that key has the very year) and gives the listed films
    Wikipedia lacks the median popularity of the listed ones it has. In place."""
    listed = {(title_key(m.title), m.year) for m in load_movies(movies_csv).values()}
    by_key: dict[str, list[CatalogItem]] = {}
    for it in films:
        by_key.setdefault(title_key(it.title), []).append(it)
    boosted: list[CatalogItem] = []
    for key, year in listed:
        same = by_key.get(key, [])
        exact = [it for it in same if it.year == year]
        near = exact or [it for it in same if it.year and year and abs(it.year - year) <= 1]
        boosted += near[:1]
    for it in {id(it): it for it in boosted}.values():
        it.popularity = round(it.popularity + LISTED_BONUS, 3)
    ranked = sorted(it.popularity for it in boosted) or [LISTED_BONUS]
    median = ranked[len(ranked) // 2]
    for it in extra:
        # A title Wikipedia's list has under another year is most often a namesake the chat
        # mentioned in passing ("Heat (2006)"): the bonus alone, so "Heat" stays the 1995 film.
        it.popularity = LISTED_BONUS if title_key(it.title) in by_key else median


def redial_only(films: list[CatalogItem], movies_csv: Path) -> list[CatalogItem]:
    """ReDial's films with no catalog film of the same normalised title within a year (nor, as
    'Jumanji (2017)' is 'Jumanji: Welcome to the Jungle', a film whose main title it is), as
    title-and-year items. A name with no year is skipped when any film has that title."""
    years: dict[str, list[int | None]] = {}
    main_years: dict[str, list[int | None]] = {}
    for it in films:
        years.setdefault(title_key(it.title), []).append(it.year)
        if ":" in it.title:
            main_years.setdefault(title_key(it.title.split(":")[0]), []).append(it.year)

    def known(key: str, year: int | None) -> bool:
        for index in (years, main_years):
            found = index.get(key, [])
            if found and (year is None or any(y and abs(y - year) <= 1 for y in found)):
                return True
        return False

    taken = {it.id for it in films}
    added: dict[str, CatalogItem] = {}
    for movie in load_movies(movies_csv).values():
        year = movie.year if movie.year and 1870 <= movie.year <= 2100 else None
        key = title_key(movie.title)
        if not key or known(key, year):
            continue
        if _EPISODE.search(movie.title) and known(title_key(_EPISODE.sub("", movie.title)), year):
            continue
        item = CatalogItem(title=movie.title, year=year)
        if item.id not in taken and item.id not in added:
            added[item.id] = item
    return list(added.values())


def write_catalog(films: list[CatalogItem]) -> None:
    catalog, summaries = OUT / "catalog.jsonl.gz", summaries_sidecar(OUT / "catalog.jsonl.gz")
    # mtime=0: same input, same bytes
    with (
        gzip.GzipFile(catalog, "wb", mtime=0) as facts_gz,
        gzip.GzipFile(summaries, "wb", mtime=0) as text_gz,
    ):
        for it in films:
            row: dict = {"title": it.title, "year": it.year}
            row.update({"genres": it.genres, "cast": it.cast, "slug": it.slug})
            if it.poster:  # Wikipedia's thumbnail URL; the browser loads the image (NOTICE.md)
                row["poster"] = it.poster
            row["popularity"] = it.popularity
            if it.description:  # facts read from the summary, even none ("directors": [])
                row["directors"] = it.directors
                row.update({k: v for k in ("based_on", "franchise") if (v := getattr(it, k))})
            facts_gz.write((json.dumps(row, ensure_ascii=False) + "\n").encode())
            if it.description:
                line = {"id": it.id, "summary": it.description}
                text_gz.write((json.dumps(line, ensure_ascii=False) + "\n").encode())
    for path in (catalog, summaries):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


def _same_vectors(sidecar: Path, keys: np.ndarray, vectors: np.ndarray) -> bool:
    with np.load(sidecar) as old:
        return (
            str(old["model"]) == BUNDLED_MODEL
            and np.array_equal(old["keys"], keys)
            and np.array_equal(old["vectors"], vectors)
        )


def write_vectors(films: list[CatalogItem], reembed: bool) -> None:
    texts = [it.dense_text() for it in films]
    keys = [text_key(BUNDLED_MODEL, t) for t in texts]
    sidecar = vectors_sidecar(OUT / "catalog.jsonl.gz")
    vectors = np.zeros((len(texts), 384), dtype=np.float16)
    todo = list(range(len(texts)))
    if sidecar.exists() and not reembed:
        with np.load(sidecar) as old:
            if str(old["model"]) == BUNDLED_MODEL:
                row = {bytes(k): i for i, k in enumerate(old["keys"])}
                have = [i for i, k in enumerate(keys) if k in row]
                vectors[have] = old["vectors"][[row[keys[i]] for i in have]]
                todo = [i for i, k in enumerate(keys) if k not in row]
    print(f"{len(texts) - len(todo)} vectors reused from {sidecar.name}; {len(todo)} to embed")
    if todo:
        cache = Path(tempfile.gettempdir()) / "recteam-build-catalog-embeddings.sqlite"
        embedder = CachedEmbedder(
            load_local_embedder(EmbeddingSettings(model=BUNDLED_MODEL)), cache
        )
        started, done = time.perf_counter(), 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            if done % 1024 < n or done == len(todo):
                rate = done / max(time.perf_counter() - started, 1e-9)
                print(f"  embedded {done}/{len(todo)} ({rate:.0f}/s)", flush=True)

        vectors[todo] = embedder.embed([texts[i] for i in todo], progress=progress)
        embedder.close()
        print(f"embedded {len(todo)} texts in {time.perf_counter() - started:.0f} s")
    packed = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 20)
    if sidecar.exists() and not todo and _same_vectors(sidecar, packed, vectors):
        # np.savez stamps its zip entries with the time: rewriting equal vectors would change the
        # file's bytes, and so every store's catalog stamp, for nothing.
        print(f"{sidecar} unchanged")
        return
    partial = sidecar.with_name(sidecar.name + ".partial.npz")
    np.savez_compressed(
        partial,
        model=np.array(BUNDLED_MODEL),
        keys=packed,
        vectors=vectors,
    )
    partial.replace(sidecar)
    print(f"wrote {sidecar} ({sidecar.stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    source = Path(args[0] if args else "../shared/data/wikipedia-movies")
    movies_csv = Path(
        args[1] if len(args) > 1 else "../shared/data/redial/movies_with_mentions.csv"
    )
    raw_by_id: dict[str, dict] = {}
    for file in sorted(source.glob("*.json")):
        for raw in json.loads(file.read_text(encoding="utf-8")):
            if raw.get("title"):
                raw_by_id[CatalogItem(title=raw["title"], year=raw.get("year")).id] = raw
    report = IngestReport()
    started = time.perf_counter()
    items = read_items(source, report)  # descriptions from 'extract', facts read from them
    print(f"read and extracted facts in {time.perf_counter() - started:.1f} s")
    films = [
        it.model_copy(update={"popularity": _popularity(it, raw_by_id.get(it.id, {}))})
        for it in items
    ]
    print(
        f"{len(films)} films from {report.rows} rows ({len(report.problems)} bad, {report.duplicates} duplicates)"
    )
    extra = redial_only(films, movies_csv) if movies_csv.exists() else []
    print(f"{len(extra)} ReDial films not in the Wikipedia list added as title-and-year items")
    if movies_csv.exists():
        listed_prior(films, extra, movies_csv)
    films += extra
    films.sort(key=lambda it: (it.year or 0, it.title, it.id))
    described = [it for it in films if it.description]
    print(
        f"facts: {sum(bool(it.directors) for it in described)} of {len(described)} summaries "
        f"name a director, {sum(bool(it.based_on) for it in described)} a source, "
        f"{sum(bool(it.franchise) for it in described)} a series"
    )
    print("  based on:", dict(Counter(it.based_on for it in described if it.based_on)))
    # The vectors first: the catalog files change only when they are ready, seconds apart.
    write_vectors(films, reembed="--reembed" in sys.argv)
    write_catalog(films)


if __name__ == "__main__":
    main()
