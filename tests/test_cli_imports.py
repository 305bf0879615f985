"""`recteam --help` stays fast: importing the CLI loads typer and rich, not the libraries only
some commands use (AutoGen, litellm, numpy, Gradio, the benchmarks)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "autogen_core",
    "autogen_agentchat",
    "litellm",
    "numpy",
    "gradio",
    "qdrant_edge",
    "recteam.evaluation.bench",
    "recteam.orchestration.model_clients",
)


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = (
        "import json, sys\n"
        "import recteam.ui.cli\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []


def test_help_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "recteam", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": ""},
    )
    for command in (
        "ingest",
        "search",
        "info",
        "chat",
        "ask",
        "serve",
        "bench",
        "memory",
        "models",
        "eval",
    ):
        assert command in out.stdout
