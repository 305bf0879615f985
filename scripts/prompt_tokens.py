"""Prompt tokens per LLM role for recommendation turns, as a real model would be sent them.

Zero-latency scripted models (recteam.evaluation.bench_turn.InstantModel) play every role, so
the prompts are the real rendered ones; tokens are counted from each step's trace
(`model_called` events) with litellm's counter for gpt-4o-mini. `--before` renders the data and
the answer's shape as they were before issue 12 (the raw JSON schema, empty fields and
timestamps kept), to compare in one run.

    .venv/bin/python scripts/prompt_tokens.py [--before]
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import tempfile
import uuid
from importlib import resources
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

MESSAGES = [
    "I loved Arrival and Interstellar, something like them but lighter",
    "the second one sounds good, anything else like it from the 90s?",
    "no horror please, a comedy instead",
]


async def main(before: bool) -> None:
    import litellm

    from recteam.agents import llm
    from recteam.agents.settings import TeamSettings
    from recteam.agents.trace import ModelCalled
    from recteam.evaluation.bench_turn import scripted_clients
    from recteam.memory.embeddings import load_local_embedder
    from recteam.memory.ingest import ingest_path
    from recteam.memory.settings import EmbeddingSettings, MemorySettings
    from recteam.memory.store import open_store
    from recteam.orchestration.llm_settings import LLMSettings
    from recteam.orchestration.session import Recommender

    if before:
        llm.schema_outline = lambda m: json.dumps(m.model_json_schema())  # type: ignore[assignment]
        llm.compact = lambda v: v  # type: ignore[assignment]
    catalog = Path(str(resources.files("recteam.data") / "catalog.jsonl.gz"))
    embedder = load_local_embedder(EmbeddingSettings())
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_store(MemorySettings(path=Path(tmp)), embedder) as store,
    ):
        ingest_path(store, catalog)
        rec = Recommender(store, LLMSettings(), TeamSettings(), clients=scripted_clients())
        tokens: dict[str, list[int]] = collections.defaultdict(list)
        for k in range(3):
            user = f"tokens-{k}-{uuid.uuid4().hex[:6]}"
            for message in MESSAGES:
                async for ev in rec.run_turn(user, message, f"s{k}"):
                    if isinstance(ev, ModelCalled):
                        msgs = [{"role": m["role"], "content": m["content"]} for m in ev.messages]
                        tokens[ev.agent].append(
                            litellm.token_counter(model="gpt-4o-mini", messages=msgs)
                        )
    print(f"prompt tokens per call ({'before' if before else 'now'}), {len(MESSAGES) * 3} turns:")
    for agent, counts in sorted(tokens.items()):
        print(f"  {agent:14} {len(counts):3d} calls   mean {sum(counts) / len(counts):7.0f}")


if __name__ == "__main__":
    asyncio.run(main("--before" in sys.argv))
