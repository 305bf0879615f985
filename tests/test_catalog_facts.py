"""The facts a summary states (recteam/memory/facts.py), how items carry them, and the shipped
catalog's three files (facts, summaries, vectors) agreeing with each other."""

from __future__ import annotations

import gzip
import json
import random
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from recteam.memory.embeddings import BUNDLED_MODEL, text_key
from recteam.memory.facts import BASED_ON, based_on, directors, extract_facts, franchise
from recteam.memory.ingest import IngestReport, read_items, summaries_sidecar, vectors_sidecar
from recteam.memory.items import CatalogItem

# -- directors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        (
            "Heat is a 1995 American crime film written and directed by Michael Mann. It "
            "features an ensemble cast led by Al Pacino and Robert De Niro.",
            ["Michael Mann"],
        ),
        (
            "G.I. Blues is a 1960 American musical comedy film directed by Norman Taurog and "
            "starring Elvis Presley and Juliet Prowse.",
            ["Norman Taurog"],
        ),
        (
            "Demon of the Sea is a lost 1931 film directed by Michael Curtiz and William Dieterle.",
            ["Michael Curtiz", "William Dieterle"],
        ),
        (
            "How the West Was Won is a 1962 American epic Western film directed by Henry "
            "Hathaway, John Ford and George Marshall, produced by Bernard Smith.",
            ["Henry Hathaway", "John Ford", "George Marshall"],
        ),
        (
            "Fargo is a 1996 crime film directed by Joel and Ethan Coen.",
            ["Joel Coen", "Ethan Coen"],
        ),
        (
            "The Adventures of Ford Fairlane is a 1990 film directed by Renny Harlin and written "
            "by David Arnott.",
            ["Renny Harlin"],
        ),
        (
            "Braveheart is a 1995 American epic historical drama film directed by, produced by, "
            "and starring Mel Gibson.",
            ["Mel Gibson"],
        ),
        ("It was directed and written by Jane Campion.", ["Jane Campion"]),
        ("The Wax Model is a lost 1917 film directed by E. Mason Hopper.", ["E. Mason Hopper"]),
        ("It was directed by W. S. Van Dyke.", ["W. S. Van Dyke"]),
        (
            "Hell Bound is a 1957 film directed by William J. Hole Jr. and written by R.",
            ["William J. Hole Jr."],
        ),
        (
            "Looking for Eric was written by Paul Laverty and directed by the English director "
            "Ken Loach.",
            ["Ken Loach"],
        ),
        (
            "Her Final Reckoning is a 1918 drama film directed by Émile Chautard.",
            ["Émile Chautard"],
        ),
        (
            "Directed by Fernando Trueba, Two Much stars Antonio Banderas and Melanie Griffith.",
            ["Fernando Trueba"],
        ),
        (
            "It was written by Michael Barnathan and Shawn Levy and directed by Levy.",
            ["Shawn Levy"],
        ),
        ("Gone Baby Gone is a 2007 crime drama, Ben Affleck's directorial debut.", ["Ben Affleck"]),
        ("The film is the feature directorial debut of Jordan Peele.", ["Jordan Peele"]),
        (
            "Based on the 1868 novel by Louisa May Alcott, the film was directed by Mervyn LeRoy.",
            ["Mervyn LeRoy"],
        ),
    ],
)
def test_directors_in_the_forms_summaries_use(summary: str, expected: list[str]) -> None:
    assert directors(summary) == expected


@pytest.mark.parametrize(
    "summary",
    [
        "Top Gun is a 1986 American action drama film produced by Don Simpson and Jerry Bruckheimer.",
        "Dune is a 2021 film. The screenplay was written by Jon Spaihts.",
        "It is a remake of the 1934 film directed by John Ford.",
        "Shallow Hal is a 2001 comedy. Directed by the Farrelly brothers, it was filmed in Charlotte.",
        "",
    ],
)
def test_no_director_when_none_is_stated(summary: str) -> None:
    assert directors(summary) == []


# -- based on, franchise -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        ("The Drowning Pool is a 1975 film based upon Ross Macdonald's novel.", "novel"),
        ("It is based on the 1985 novel of the same name by Larry McMurtry.", "novel"),
        ("Rudy is a 1993 sports film based on a true story.", "true story"),
        ("The film was inspired by true events in 1970s Texas.", "true story"),
        ("Watchmen is a 2009 superhero film based on the DC Comics limited series.", "comic"),
        ("Li'l Abner is a 1959 film based on the comic strip of the same name.", "comic"),
        ("Officer 666 is a 1920 comedy. It is based on a 1912 Broadway play.", "play"),
        ("It is an adaptation of the 1901 play Old Heidelberg by Wilhelm Meyer-Förster.", "play"),
        ("The film is based on the short story by Stephen King.", "short story"),
        ("Doom is a 2005 action film loosely based on the video game series.", "video game"),
        ("The Addams Family is based on the 1960s television series.", "TV series"),
        ("Wasp Network is based on the book The Last Soldiers of the Cold War.", "book"),
        ("Sally of the Sawdust was based on the 1923 stage musical Poppy.", "musical"),
        ("It was based on a story by Arnott and Cappe.", None),
        ("Unlike the first film, this film is not based on any of the books.", None),
        ("The company is based in Los Angeles.", None),
    ],
)
def test_based_on_takes_the_closed_vocabulary(summary: str, expected: str | None) -> None:
    assert based_on(summary) == expected
    assert expected is None or expected in BASED_ON


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        (
            "Vegas Vacation is a 1997 comedy film. It is the fourth installment in the Vacation "
            "film series.",
            "Vacation",
        ),
        ("It is the third film in the Halloween franchise.", "Halloween"),
        ("It is a sequel to Home Alone (1990).", "Home Alone"),
        (
            "It is the sequel to the 2014 film Guardians of the Galaxy and the 15th film.",
            "Guardians of the Galaxy",
        ),
        ("It is a sequel to Terminator 2: Judgment Day (1991).", "Terminator"),
        (
            "It is the fifth film in the Marvel Cinematic Universe (MCU).",
            "Marvel Cinematic Universe",
        ),
        ("It is the 4th installment in the Friday the 13th film series.", "Friday the 13th"),
        ("It is the third installment in Sony's Smurfs film series.", "Smurfs"),
        ("Rather than a sequel to 2004's The Punisher, the film is a reboot.", None),
        ("The film is not a sequel to the Sherlock Holmes film, The Spider Woman.", None),
        ("Heat is a 1995 American crime film written and directed by Michael Mann.", None),
    ],
)
def test_franchise_only_when_stated(summary: str, expected: str | None) -> None:
    assert franchise(summary) == expected


def test_extract_facts_of_no_summary_is_empty() -> None:
    empty = extract_facts(None)
    assert (empty.directors, empty.based_on, empty.franchise) == ([], None, None)


# -- items -------------------------------------------------------------------------------------


def test_items_carry_facts_in_texts_and_payload() -> None:
    item = CatalogItem(
        title="Vegas Vacation",
        year=1997,
        genres=["Comedy"],
        directors="Stephen Kessler",
        based_on="the 1985 Novel",
        franchise="  Vacation ",
        description="The Griswolds go to Las Vegas.",
    )
    assert item.directors == ["Stephen Kessler"] and item.based_on == "novel"
    assert item.franchise == "Vacation"
    dense = item.dense_text()
    assert "Directed by Stephen Kessler. Based on a novel. Part of the Vacation series." in dense
    assert dense.endswith("The Griswolds go to Las Vegas.")
    assert "Stephen Kessler" in item.sparse_text() and "Vacation" in item.sparse_text()
    payload = item.payload()
    assert "stephen kessler" in payload["people_keys"]
    assert CatalogItem.from_payload(payload) == item


def test_an_older_payload_without_facts_still_loads() -> None:
    old = CatalogItem(title="Heat", year=1995, cast=["Al Pacino"]).payload()
    for key in ("directors", "based_on", "franchise"):
        del old[key]
    item = CatalogItem.from_payload(old)
    assert (item.directors, item.based_on, item.franchise) == ([], None, None)
    assert item.dense_text() == "Heat (1995). Starring Al Pacino."


def test_an_unknown_source_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown source"):
        CatalogItem(title="X", based_on="a dream I had")


def test_summaries_sidecar_fills_descriptions_and_facts(tmp_path: Path) -> None:
    catalog = tmp_path / "films.jsonl"
    rows = [
        {"title": "Heat", "year": 1995, "directors": ["Michael Mann"]},
        {"title": "Oldboy", "year": 2003},
        {"title": "Fargo", "year": 1996},  # no facts keys: read from the summary
    ]
    catalog.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    summaries = {
        "heat|1995": "Heat is a crime film about a heist crew.",
        "fargo|1996": "Fargo is a 1996 crime film written and directed by Joel and Ethan Coen.",
    }
    with gzip.open(summaries_sidecar(catalog), "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"id": k, "summary": v}) + "\n" for k, v in summaries.items())
    items = {it.id: it for it in read_items(catalog, IngestReport())}
    assert items["heat|1995"].description == summaries["heat|1995"]
    assert items["heat|1995"].directors == ["Michael Mann"]  # as shipped, not re-read
    assert items["oldboy|2003"].description is None
    assert items["fargo|1996"].directors == ["Joel Coen", "Ethan Coen"]
    # A sample whose vectors sidecar links the full catalog's finds its summaries there too.
    sample = tmp_path / "sample" / "films-1.jsonl"
    sample.parent.mkdir()
    sample.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    np.savez(vectors_sidecar(catalog), model=np.array("m"), keys=np.zeros((0, 20), np.uint8))
    vectors_sidecar(sample).symlink_to(vectors_sidecar(catalog))
    (only,) = read_items(sample, IngestReport())
    assert only.description == summaries["heat|1995"]


# -- the shipped catalog -----------------------------------------------------------------------


def _shipped(name: str) -> Path:
    return Path(str(resources.files("recteam.data").joinpath(name)))


@pytest.fixture(scope="module")
def shipped() -> dict[str, CatalogItem]:
    report = IngestReport()
    items = read_items(_shipped("catalog.jsonl.gz"), report)
    assert not report.problems and report.duplicates == 0
    return {it.id: it for it in items}


def test_shipped_files_agree(shipped: dict[str, CatalogItem]) -> None:
    with gzip.open(_shipped("catalog.summaries.jsonl.gz"), "rt", encoding="utf-8") as fh:
        summary_ids = [json.loads(line)["id"] for line in fh]
    assert len(summary_ids) == len(set(summary_ids)) > 30_000
    assert set(summary_ids) <= set(shipped)  # every summary belongs to one catalog film
    described = [it for it in shipped.values() if it.description]
    assert len(described) == len(summary_ids)
    with np.load(_shipped("catalog.vectors.npz")) as data:
        assert str(data["model"]) == BUNDLED_MODEL and data["vectors"].dtype == np.float16
        keys = {bytes(k) for k in data["keys"]}
        assert data["vectors"].shape == (len(shipped), 384)
    sample = random.Random(11).sample(sorted(shipped), 2000)
    missing = [i for i in sample if text_key(BUNDLED_MODEL, shipped[i].dense_text()) not in keys]
    assert missing == []


def test_shipped_catalog_knows_directors_and_redial_titles(
    shipped: dict[str, CatalogItem],
) -> None:
    heat = shipped["heat|1995"]
    assert heat.directors == ["Michael Mann"] and "Al Pacino" in heat.cast
    assert heat.description and "Michael Mann" in heat.description
    assert "Directed by Michael Mann." in heat.dense_text()
    for film_id in ("oldboy|2003", "pan s labyrinth|2006"):  # ReDial's, not Wikipedia's list
        film = shipped[film_id]
        assert film.genres == [] and film.cast == [] and film.description is None
    # On ReDial's list: the listed films' median popularity, not 0 (membership, no counts);
    # beside a Wikipedia namesake, less than it.
    assert shipped["pan s labyrinth|2006"].popularity > 2.0
    assert shipped["oldboy|2003"].popularity < shipped["oldboy|2013"].popularity
    assert sum(bool(it.directors) for it in shipped.values()) > 25_000
    assert sum(it.based_on == "novel" for it in shipped.values()) > 2_000
    assert shipped["vegas vacation|1997"].franchise == "National Lampoon’s Vacation"
