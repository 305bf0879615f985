"""`recteam models check`: one tiny call per configured endpoint, before a user finds out mid-chat."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from recteam.ui.cli import app, console, get_settings

__all__: list[str] = []

models_app = typer.Typer(
    help="The LLM endpoints configured (llm, llm.agents.*, fallbacks, ui.models).",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")


@models_app.command()
def check(
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds each probe call may take.", min=1)
    ] = 20.0,
) -> None:
    """Make one tiny call ("Reply with OK") to every configured endpoint and print a table: model,
    endpoint, ok or the exact reason it fails (with the setting to fix), latency. Nothing is
    retried. Exit code 1 when any endpoint fails, 0 when all answer (or none is configured)."""
    from rich.table import Table

    from recteam.agents.messages import ROLES
    from recteam.orchestration.llm_settings import Endpoint
    from recteam.orchestration.model_clients import probe_endpoint

    settings = get_settings()
    llm = settings.llm
    targets = []  # (setting, ModelSettings), each endpoint once
    seen: set[tuple[str, str | None, str | None]] = set()

    def add(setting: str, endpoint: Endpoint) -> None:
        key = (endpoint.model, endpoint.api_base, endpoint.api_key_env)
        if endpoint.offline or key in seen:
            return
        seen.add(key)
        targets.append((setting, llm.at(endpoint)))

    add("llm", llm.endpoint)
    for n, fb in enumerate(llm.endpoints()[1:]):
        add(f"llm.fallbacks[{n}]", fb)
    for role in ROLES:
        ms = llm.for_agent(role)
        for n, ep in enumerate(ms.endpoints()):
            add(f"llm.agents.{role}" + (f".fallbacks[{n - 1}]" if n else ""), ep)
    for n, m in enumerate(settings.ui.models):
        add(f"ui.models[{n}]", m if isinstance(m, Endpoint) else Endpoint(model=m))
    if not targets:
        console.print(
            "No LLM is configured: every role runs the offline policy (llm.model = 'offline')."
        )
        return

    async def run() -> list:
        return list(await asyncio.gather(*(probe_endpoint(ms, s, timeout) for s, ms in targets)))

    with console.status(f"Calling {len(targets)} endpoint(s)…"):
        rows = asyncio.run(run())
    table = Table(title="LLM endpoints")
    for column in ("setting", "model", "endpoint", "result", "latency"):
        table.add_column(column, overflow="fold")
    for r in rows:
        result = "[green]ok[/]" if r.ok else f"[red]{r.detail}[/]"
        latency = f"{r.latency:.2f} s" if r.latency is not None else "-"
        table.add_row(r.setting, r.model, r.endpoint, result, latency)
    console.print(table)
    if not all(r.ok for r in rows):
        raise typer.Exit(1)
