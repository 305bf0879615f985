"""`recteam bench`: per-agent turn latency, LLM calls and tokens, search latency at several
catalog sizes and memory growth per turn; rich tables and a PNG plot."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from recteam.ui.cli import app, console

if TYPE_CHECKING:  # the benchmarks are imported when `recteam bench` runs, not for --help
    from recteam.evaluation.bench import BenchResult

__all__: list[str] = []


@app.command()
def bench(
    queries: Annotated[
        Optional[int],  # noqa: UP045 - typer needs Optional on 3.11
        typer.Option(
            "--queries", min=2, help="Searches per catalog size (default 300; 20 with --quick)."
        ),
    ] = None,
    turns: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--turns",
            min=1,
            help="Turns per model and for memory growth (default 60; 6 with --quick).",
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for bench.png and bench.json.")
    ] = Path("bench-out"),
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="Small catalogs (300 and 1,000 items) and few queries and turns."
        ),
    ] = False,
    llm: Annotated[
        bool,
        typer.Option(
            "--llm",
            help="Instead: recommendation turns (default 20) with every LLM role through "
            "litellm's real HTTP path at a zero-latency local stub server: model calls per turn "
            "and on the critical path, tokens per role, time inside litellm and the "
            "orchestration overhead around it, beside the machine's load.",
        ),
    ] = False,
    cli: Annotated[
        bool,
        typer.Option(
            "--cli",
            help="Instead: the command line's start as whole processes (recteam --help, one "
            "`ask --json` turn, the same with no bytecode to read as in a fresh uncompiled "
            "install, `serve` until its page answers) on your configured store, each --turns "
            "times (default 5): median wall seconds, CPU, peak memory, beside the machine's "
            "load.",
        ),
    ] = False,
    web: Annotated[
        bool,
        typer.Option(
            "--web",
            help="Instead: the web app as deployed (`recteam serve` in its own process on a "
            "temporary store): 10 people at once, 3 offline turns each (turn time p50/p95, the "
            "app's CPU per turn); then one turn alone against 10 at once with every LLM role at "
            "a local stub that takes 1 s a call (1 = they wait side by side), beside the "
            "machine's load. A few minutes: each store prepares the catalog first.",
        ),
    ] = False,
) -> None:
    """Benchmark the team on temporary stores (your own memory is not touched): search p50/p95
    at 1k, 10k and the full catalog, per-agent time per turn with the offline policy and with a
    zero-latency scripted model, LLM calls and tokens per turn, memory growth per turn.
    With --llm, the LLM path's calls, tokens and overhead instead; with --cli, the command
    line's start; with --web, the web app under load."""
    if cli:
        bench_cli_start(turns or 5, out)
        return
    if web:
        from recteam.evaluation import bench_concurrency, bench_web

        if bench_web.main([]) or bench_concurrency.main([]):
            raise typer.Exit(1)
        return
    if llm:
        bench_llm_path(turns or 20, out)
        return
    import asyncio

    from recteam.evaluation.bench import FULL_SIZES, QUICK_SIZES, plot, run_bench

    sizes = QUICK_SIZES if quick else FULL_SIZES
    n_queries = queries or (20 if quick else 300)
    n_turns = turns or (6 if quick else 60)
    with console.status("benchmarking") as status:
        result = asyncio.run(
            run_bench(sizes, n_queries, n_turns, log=lambda m: status.update(f"benchmarking: {m}"))
        )
    print_tables(result)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
    png = plot(result, out / "bench.png")
    console.print(f"\nfigures: {out / 'bench.json'}")
    if png is None:
        console.print(
            "plot: not drawn, matplotlib is not installed; install it with "
            "[bold]uv sync[/] (it is in the dev group) or [bold]pip install matplotlib[/], "
            "then run recteam bench again"
        )
    else:
        console.print(f"plot: {png}")


def bench_llm_path(turns: int, out: Path) -> None:
    import asyncio

    from recteam.evaluation.bench_llm import main_async, report

    with console.status("benchmarking the LLM path") as status:
        result = asyncio.run(
            main_async(turns, log=lambda m: status.update(f"benchmarking the LLM path: {m}"))
        )
    for line in report(result):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_llm.json").write_text(
        json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8"
    )
    console.print(f"\nfigures: {out / 'bench_llm.json'}")


def bench_cli_start(runs: int, out: Path) -> None:
    from recteam.evaluation.bench_cli import cli_figures, report

    with console.status("benchmarking the command line") as status:
        figures = cli_figures(runs, log=lambda m: status.update(f"benchmarking the CLI: {m}"))
    for line in report(figures):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_cli.json").write_text(
        json.dumps([asdict(f) for f in figures], indent=2) + "\n", encoding="utf-8"
    )
    console.print(f"\nfigures: {out / 'bench_cli.json'}")


def print_tables(result: BenchResult) -> None:
    from rich.table import Table

    from recteam.agents.messages import ROLES

    search = Table(title="Search latency (ItemCatalog.search, query embedding included)")
    for col in ("catalog items", "ingest s", "searches", "p50 ms", "p95 ms"):
        search.add_column(col, justify="right")
    for p in result.search:
        search.add_row(
            f"{p.size:,}", f"{p.ingest_s:.1f}", str(p.n), f"{p.p50_ms:.2f}", f"{p.p95_ms:.2f}"
        )
    console.print(search)

    runs = [("offline policy", result.offline), ("scripted, 0 ms", result.scripted)]
    agents = Table(
        title=f"Turn latency on {result.turn_catalog_size:,} items: mean ms per turn in each agent"
    )
    agents.add_column("agent")
    for label, _ in runs:
        agents.add_column(label, justify="right")
    for agent in ROLES:
        agents.add_row(agent, *(f"{s.agent_ms_per_turn.get(agent, 0.0):.1f}" for _, s in runs))
    agents.add_row(
        "outside agents",
        *(f"{s.mean_ms - sum(s.agent_ms_per_turn.values()):.1f}" for _, s in runs),
    )
    agents.add_row("turn mean", *(f"{s.mean_ms:.1f}" for _, s in runs), style="bold")
    agents.add_row("turn p50", *(f"{s.p50_ms:.1f}" for _, s in runs), style="bold")
    agents.add_row("turn p95", *(f"{s.p95_ms:.1f}" for _, s in runs), style="bold")
    console.print(agents)

    llm = Table(title="LLM use: mean per turn; max calls per RECOMMEND turn")
    for col in ("model", "turns", "calls", "prompt tok", "completion tok", "max/RECOMMEND"):
        llm.add_column(col, justify="right" if col != "model" else "left")
    for label, s in runs:
        rec = (
            "-"
            if s.recommend_calls_max is None
            else f"{s.recommend_calls_max} (crit. {s.recommend_calls_critical_max})"
        )
        llm.add_row(
            label,
            str(s.turns),
            f"{s.llm_calls_per_turn:.2f}",
            f"{s.prompt_tokens_per_turn:.0f}",
            f"{s.completion_tokens_per_turn:.0f}",
            rec,
        )
    console.print(llm)

    growth = Table(title="Memory growth per turn (one user, offline policy)")
    for col in ("after turn", "memory points", "store bytes on disk", "growth"):
        growth.add_column(col, justify="right")
    base = result.growth[0].bytes if result.growth else 0
    step = max(1, -(-len(result.growth) // 20))  # at most ~20 rows; the last one always
    for i, g in enumerate(result.growth):
        if i % step and i != len(result.growth) - 1:
            continue
        growth.add_row(str(g.turn), str(g.points), f"{g.bytes:,}", f"{g.bytes - base:+,}")
    console.print(growth)
