"""Writes an evaluation's results as JSON (for machines) and Markdown (for people), side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["write_results"]


def write_results(result: dict[str, Any], out: Path, stem: str, markdown: str) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / f"{stem}.json", out / f"{stem}.md"
    js.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    md.write_text(markdown, encoding="utf-8")
    return js, md
