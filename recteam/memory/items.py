"""A catalog item and what recteam derives from it: its stable id, the texts it is embedded and
indexed by, and the payload stored with it. Catalog text is data: it is stored and shown, never
followed as an instruction."""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from recteam.memory.sources import BASED_ON

__all__ = [
    "ITEM_NAMESPACE",
    "POSTER_MAX_CHARS",
    "CatalogItem",
    "normalize_key",
    "point_id",
    "poster_url",
    "title_key",
]

# Fixed namespace: the same item key maps to the same point id on every machine and every run,
# which is what makes a repeated ingest an update rather than a duplicate.
ITEM_NAMESPACE = uuid.UUID("6f1c8a52-3d0e-4c6b-9a57-1f0d2c7e9b41")
_ARTICLE = re.compile(r"^(the|a|an)\s+")
POSTER_MAX_CHARS = 500
# Characters a poster URL never holds: whitespace and controls, quotes, angle brackets, backslash
# and backtick (an attribute or a tag could end at them where the URL is put into a page).
_NOT_IN_URL = re.compile(r"[\s\x00-\x1f\x7f\"'<>\\`]")


def poster_url(value: Any) -> str | None:
    """`value` when it is an absolute https URL with a host, no userinfo, no whitespace, quotes
    or angle brackets, and at most POSTER_MAX_CHARS long; else None (a card is correct without
    a poster, so a bad one never fails its row)."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > POSTER_MAX_CHARS or _NOT_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a malformed port or IPv6 address
        return None
    if parts.scheme != "https" or not host or parts.username or parts.password:
        return None
    return url


def normalize_key(text: str) -> str:
    """Lower-case, accents folded, punctuation dropped, spaces collapsed: 'Amélie!' -> 'amelie'."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    folded = folded.replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded.lower()).split())


def title_key(title: str) -> str:
    """Title for matching what people type: leading articles dropped ('The Matrix' = 'matrix')."""
    key = normalize_key(title)
    return _ARTICLE.sub("", key) or key


def point_id(item_id: str) -> str:
    return str(uuid.uuid5(ITEM_NAMESPACE, item_id))


class CatalogItem(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: str = Field(default="", description="Stable key; derived from title and year when empty.")
    title: str = Field(min_length=1, max_length=500)
    year: int | None = Field(default=None, ge=1870, le=2100)
    genres: list[str] = Field(default_factory=list)
    cast: list[str] = Field(default_factory=list)
    slug: str | None = None
    description: str | None = None
    popularity: float = Field(default=0.0, ge=0)
    # Facts a summary states (recteam.memory.facts reads them at build time).
    directors: list[str] = Field(default_factory=list)
    based_on: str | None = Field(
        default=None, description=f"What the film is based on: one of {', '.join(BASED_ON)}."
    )
    franchise: str | None = Field(default=None, max_length=200)
    # Shown on the item's card, loaded by the user's browser; never embedded or indexed.
    poster: str | None = Field(
        default=None, description="The film's poster thumbnail: an absolute https URL."
    )

    @field_validator("genres", "cast", "directors", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [v.strip() for v in re.split(r"[|;]", value) if v.strip()]
        return value

    @field_validator("genres", "cast", "directors")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        seen: dict[str, str] = {}
        for v in value:
            v = " ".join(str(v).split())
            if v and normalize_key(v) not in seen:
                seen[normalize_key(v)] = v
        return list(seen.values())

    @field_validator("based_on", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        """'Novel', 'the 1985 novel', 'a true story' -> the vocabulary's word; unknown is an error."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise ValueError("expected a string")
        known = {v.casefold(): v for v in BASED_ON}
        found = known.get(value.strip().casefold())
        if found is None:  # the rules that read a summary, loaded only for a phrase to parse
            from recteam.memory.facts import based_on

            found = based_on(f"based on {value.strip()}")
        if found is None:
            raise ValueError(f"unknown source {value!r}; expected one of {', '.join(BASED_ON)}")
        return found

    @field_validator("franchise", mode="before")
    @classmethod
    def _series(cls, value: Any) -> Any:
        if isinstance(value, str):
            return " ".join(value.split()) or None
        return value

    @field_validator("poster", mode="before")
    @classmethod
    def _poster(cls, value: Any) -> str | None:
        return poster_url(value)

    def model_post_init(self, __context: Any) -> None:
        if not self.id:
            self.id = f"{title_key(self.title)}|{self.year or ''}"

    @property
    def point_id(self) -> str:
        return point_id(self.id)

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title

    def dense_text(self) -> str:
        """What the dense embedder reads: facts first, then a bounded slice of the description."""
        parts = [self.label + "."]
        if self.genres:
            parts.append(", ".join(self.genres) + ".")
        if self.cast:
            parts.append("Starring " + ", ".join(self.cast[:4]) + ".")
        parts.extend(self.fact_sentences())
        if self.description:
            parts.append(self.description[:600])
        return " ".join(parts)

    def fact_sentences(self) -> list[str]:
        """The summary's facts as sentences: 'Directed by Michael Mann.', 'Based on a novel.',
        'Part of the Vacation series.'"""
        out = []
        if self.directors:
            out.append("Directed by " + " and ".join(self.directors[:3]) + ".")
        if self.based_on:
            out.append(f"Based on a {self.based_on}.")
        if self.franchise:
            out.append(f"Part of the {self.franchise} series.")
        return out

    def sparse_text(self) -> str:
        """What BM25 indexes: every fact and the whole description."""
        return " ".join(
            [
                self.title,
                " ".join(self.genres),
                " ".join(self.cast),
                " ".join(self.directors),
                self.based_on or "",
                self.franchise or "",
                self.description or "",
            ]
        )

    def payload(self) -> dict[str, Any]:
        return {
            "item_id": self.id,
            "title": self.title,
            "title_key": title_key(self.title),
            "year": self.year,
            "genres": self.genres,
            "genre_keys": [normalize_key(g) for g in self.genres],
            "cast": self.cast,
            # people filters match a film's cast and its directors ('films by Michael Mann')
            "people_keys": list(
                dict.fromkeys(normalize_key(p) for p in self.cast + self.directors)
            ),
            "directors": self.directors,
            "based_on": self.based_on,
            "franchise": self.franchise,
            "slug": self.slug,
            "description": self.description,
            "popularity": self.popularity,
            "poster": self.poster,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> CatalogItem:
        """An item from a payload that payload() wrote from a validated item: built without a
        second validation, since one search turns hundreds of payloads into items."""
        if not payload.get("item_id") or not payload.get("title"):  # not ours: validate
            return cls.model_validate({**payload, "id": payload.get("item_id", "")})
        return cls.model_construct(
            id=str(payload["item_id"]),
            title=str(payload["title"]),
            year=payload.get("year"),
            genres=list(payload.get("genres") or []),
            cast=list(payload.get("cast") or []),
            slug=payload.get("slug"),
            description=payload.get("description"),
            popularity=float(payload.get("popularity") or 0.0),
            directors=list(payload.get("directors") or []),  # absent from older payloads
            based_on=payload.get("based_on"),
            franchise=payload.get("franchise"),
            poster=poster_url(payload.get("poster")),  # absent from older payloads
        )
