"""`recteam eval`: measure the team against published systems (ReDial turn-level recall)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from recteam.ui.cli import app, console, ensure_catalog, err_console, get_settings, get_store
from recteam.ui.progress import progress_bar

__all__: list[str] = []

eval_app = typer.Typer(
    help="Evaluate the team: ReDial Recall@1/10/50 (redial) and a simulated seeker (simulate).",
    no_args_is_help=True,
)
app.add_typer(eval_app, name="eval")

SHARED = Path("../shared/data")
PROFILE_LIMIT = 200  # dialogues `eval redial-profile` replays by default (each ~6 team turns)


@eval_app.command()
def redial(
    dialogues: Annotated[
        Path,
        typer.Option(
            "--dialogues", help="ReDial dialogues to score (JSON lines, raw ReDial format)."
        ),
    ] = SHARED / "redial/dev_dialogues.jsonl",
    movies: Annotated[
        Path, typer.Option("--movies", help="ReDial's movie list (movies_with_mentions.csv).")
    ] = SHARED / "redial/movies_with_mentions.csv",
    facts: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on 3.11
        typer.Option(
            "--facts",
            help="wikipedia-movies JSON file or folder joined to the movie list (title, year +-1): "
            "genres, cast and summaries. Unmatched movies stay title-only items.",
        ),
    ] = SHARED / "wikipedia-movies",
    train: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--train",
            help="Dialogues to count popularity and co-mentions from; without it, folds of the "
            "scored file (a dialogue's own mentions never count for it).",
        ),
    ] = None,
    limit: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--limit", "-n", min=1, help="Score only the first N dialogues."),
    ] = None,
    model: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--model", "-m", help="LLM for every agent: a litellm model string, or 'offline'."
        ),
    ] = None,
    folds: Annotated[
        int, typer.Option("--folds", min=2, help="Folds when there is no --train.")
    ] = 5,
    candidates: Annotated[
        int,
        typer.Option("--candidates", min=50, max=200, help="Candidate bus size for this run."),
    ] = 50,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for redial.json and redial.md.")
    ] = Path("eval-results"),
    cache_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--cache-dir",
            help="The embedding cache, kept so that later runs embed nothing (default: "
            "eval-cache/ under memory.path; the first run embeds the ~7k films, a few minutes).",
        ),
    ] = None,
    signals_out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--signals-out",
            help="Also record every turn's ranked candidate pool with its signals (gzip'd JSON "
            "lines) for `recteam eval fit-ranking`.",
        ),
    ] = None,
    describe: Annotated[
        bool,
        typer.Option(
            "--describe-from-dialogues/--no-describe-from-dialogues",
            help="Describe a movie that has no summary by what the statistics dialogues (never "
            "the scored ones) said in the messages naming it. Off by default: on ReDial dev it "
            "changed recall by less than the noise.",
        ),
    ] = False,
    in_sample_weights: Annotated[
        bool,
        typer.Option(
            "--in-sample-weights",
            help="Report the team's ranking with the shipped weights (data/ranking.toml, fitted "
            "on ReDial dev: in-sample on it) instead of weights fitted for each fold on the "
            "other folds' turns only.",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Processes running the turns (a turn is mostly Python, so threads use about one "
            "core): 2 on this project's 2-core machines; 1 runs everything in this process.",
        ),
    ] = 2,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the summary as one JSON object on stdout (progress on stderr)."
        ),
    ] = False,
) -> None:
    """ReDial turn-level Recall@1/10/50 of the team, with popularity and 'repeat a mentioned
    movie' baselines, each with and without movies already mentioned in the dialogue.

    Out-of-fold: popularity, co-mentions and the ranking weights of each fold come from the
    other folds only (the weights by refitting on the other folds' recorded pools)."""
    import contextlib
    import functools
    import json
    import sys

    from recteam.evaluation.redial_runner import (
        EvalConfig,
        markdown_table,
        run_redial,
        write_report,
    )
    from recteam.orchestration.model_clients import build_embedder

    settings = get_settings()
    llm = settings.llm.every_role(model) if model else settings.llm
    config = EvalConfig(
        dialogues=dialogues,
        movies=movies,
        facts=facts,
        train=train,
        limit=limit,
        folds=folds,
        candidates=candidates,
        llm=llm,
        team=settings.team,
        search=settings.search,
        cache_dir=cache_dir or settings.memory.path / "eval-cache",
        signals_out=signals_out,
        describe_from_dialogues=describe,
        in_sample_weights=in_sample_weights,
        workers=workers,
    )
    stdout = sys.stdout
    show = err_console if as_json else console  # with --json, stdout holds the JSON alone
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet, progress_bar(show, "ReDial") as (start, advance):
        result = run_redial(
            config,
            build_embedder(settings.embedding),
            on_stage=lambda stage: show.print(stage, highlight=False),
            on_start=start,
            advance=advance,
            make_embedder=functools.partial(build_embedder, settings.embedding),
        )
    js, md = write_report(result, out)
    if as_json:
        stdout.write(json.dumps(result) + "\n")
    else:
        console.print(markdown_table(result), markup=False, highlight=False)
    show.print(f"Wrote {js} and {md}.", highlight=False)
    if signals_out:
        show.print(
            f"Recorded the ranked pools in {signals_out}: `recteam eval fit-ranking "
            f"{signals_out}` fits the ranking weights to them.",
            highlight=False,
        )


@eval_app.command("redial-profile")
def redial_profile(
    dialogues: Annotated[
        Path,
        typer.Option(
            "--dialogues",
            help="ReDial dialogues with their seeker questionnaires (initiatorQuestions).",
        ),
    ] = SHARED / "redial/dev_dialogues.jsonl",
    movies: Annotated[
        Path, typer.Option("--movies", help="ReDial's movie list (movies_with_mentions.csv).")
    ] = SHARED / "redial/movies_with_mentions.csv",
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            "-n",
            min=0,
            help="Replay only the first N dialogues; 0: all of them (ReDial dev's 1,000 take "
            "about an hour on two cores, offline).",
        ),
    ] = PROFILE_LIMIT,
    model: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--model", "-m", help="LLM for every agent: a litellm model string, or 'offline'."
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the summary as one JSON object on stdout (progress on stderr)."
        ),
    ] = False,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--out", "-o", help="Also write redial-profile.json and redial-profile.md here."
        ),
    ] = None,
) -> None:
    """How much of what ReDial's seekers said they liked (and disliked) the team's profile holds.

    Each dialogue's seeker messages go through the real team, one turn per block of messages, in
    one session of a fresh user (titles typed without their year); then the stored profile is
    compared with the seeker's questionnaire, over the films the seeker named that the catalog
    has (title and year +-1). The users are deleted again afterwards."""
    import contextlib
    import json
    import sys

    from recteam.evaluation.redial_profile import markdown_table, run_profile, write_report
    from recteam.orchestration.session import Recommender, build_role_clients

    settings = get_settings()
    llm = settings.llm.every_role(model) if model else settings.llm
    stdout = sys.stdout
    show = err_console if as_json else console
    # With --json, anything else that would reach stdout (first-start messages) goes to stderr.
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        store = get_store()  # the configured store and its catalog, as `recteam ask` uses them
        ensure_catalog(store)
        # one synthetic user per dialogue or case: their likes feed no co-like statistics
        team = settings.team.model_copy(update={"colike": False})
        rec = Recommender(store, llm, team, build_role_clients(llm))
        with progress_bar(show, "ReDial profile") as (start, advance):
            result = run_profile(
                rec, dialogues, movies, limit or None, on_start=start, advance=advance
            )
        if out is not None:
            js, md = write_report(result, out)
            show.print(f"Wrote {js} and {md}.", highlight=False)
    if as_json:
        stdout.write(json.dumps(result) + "\n")
    else:
        console.print(markdown_table(result), markup=False, highlight=False)


@eval_app.command("fit-ranking")
def fit_ranking(
    pools_file: Annotated[
        Path,
        typer.Argument(
            help="Pools recorded by `recteam eval redial --signals-out FILE`.",
            exists=True,
            dir_okay=False,
        ),
    ],
    rounds: Annotated[int, typer.Option("--rounds", min=1, max=20, help="Search rounds.")] = 3,
    holdout: Annotated[
        bool,
        typer.Option(
            "--holdout",
            help="Fit on about half of the dialogues (whole dialogues, by a hash of their id); "
            "also report the other half (unseen).",
        ),
    ] = False,
) -> None:
    """Fits the searcher's ranking weights (recteam/data/ranking.toml) to recorded pools by
    coordinate search on Recall@10 + Recall@50, and prints them as TOML to paste into that file.
    The recall is the searcher's order over its pool (targets outside the pool are misses)."""
    from recteam.agents.relevance import weights
    from recteam.evaluation.ranking_fit import fit_weights, load_pools

    try:
        pools = load_pools(pools_file)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None

    def show(r: dict[int, float]) -> str:
        return " ".join(f"R@{k} {v:.3f}" for k, v in r.items())

    console.print(f"{len(pools):,} turns, signals: {', '.join(pools.signals)}", highlight=False)
    result = fit_weights(
        pools,
        weights(),
        rounds,
        holdout,
        on_round=lambda n, r: console.print(f"round {n}: {show(r)}", highlight=False),
    )
    console.print(f"shipped weights: {show(result.before)}", highlight=False)
    console.print(f"fitted weights:  {show(result.after)}", highlight=False)
    if result.held_out is not None:
        before, after = result.held_out
        console.print(
            f"held-out dialogues ({result.held_out_dialogues:,}), shipped: {show(before)}; "
            f"fitted: {show(after)}",
            highlight=False,
        )
    console.print("[weights]", markup=False, highlight=False)
    for k, v in result.weights.items():
        console.print(f"{k} = {v}", highlight=False)


@eval_app.command()
def simulate(
    dialogues: Annotated[
        Path,
        typer.Option(
            "--dialogues",
            help="ReDial dialogues (JSON lines); each with liked movies gives one simulated seeker.",
        ),
    ] = SHARED / "redial/dev_dialogues.jsonl",
    movies: Annotated[
        Path, typer.Option("--movies", help="ReDial's movie list (movies_with_mentions.csv).")
    ] = SHARED / "redial/movies_with_mentions.csv",
    facts: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on 3.11
        typer.Option(
            "--facts", help="wikipedia-movies JSON file or folder joined to the movie list."
        ),
    ] = SHARED / "wikipedia-movies",
    model: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--model",
            "-m",
            help="The seeker's LLM: a litellm model string (required unless --scripted).",
        ),
    ] = None,
    scripted: Annotated[
        bool,
        typer.Option(
            "--scripted", help="A rule-based seeker instead of an LLM (a demo; no model needed)."
        ),
    ] = False,
    team_model: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--team-model", help="LLM for every agent of the team, or 'offline'."),
    ] = None,
    limit: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--limit", "-n", min=1, help="Simulate only the first N seekers."),
    ] = None,
    turns: Annotated[int, typer.Option("--turns", min=1, max=50, help="Turn budget.")] = 5,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for simulate.json and simulate.md.")
    ] = Path("eval-results"),
    cache_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--cache-dir", help="Keep the embedding cache here for later runs."),
    ] = None,
) -> None:
    """Simulated seekers (after iEvaLM): success rate, turns to success, Recall@1/10/50.

    An LLM plays each ReDial seeker with hidden target movies (the ones it liked), which it never
    names and alone accepts; every message goes through the real team, up to --turns turns."""
    from recteam.errors import ConfigError
    from recteam.evaluation.simulator import (
        SimConfig,
        markdown_table,
        run_simulation,
        write_report,
    )
    from recteam.evaluation.simulator_seeker import ScriptedSeeker
    from recteam.orchestration.llm_settings import ModelSettings
    from recteam.orchestration.model_clients import build_chat_client, build_embedder

    if scripted == bool(model):
        raise ConfigError("give the seeker's model with --model, or --scripted (not both)")
    client = ScriptedSeeker() if scripted else build_chat_client(ModelSettings(model=model or ""))
    if client is None:
        raise ConfigError("--model offline cannot play the seeker: give an LLM, or --scripted")
    settings = get_settings()
    llm = settings.llm.every_role(team_model) if team_model else settings.llm
    config = SimConfig(
        dialogues=dialogues,
        movies=movies,
        facts=facts,
        limit=limit,
        turns=turns,
        llm=llm,
        team=settings.team,
        search=settings.search,
        cache_dir=cache_dir,
        seeker_model="scripted" if scripted else str(model),
    )
    with progress_bar(console, "Simulate") as (start, advance):
        result = run_simulation(
            config,
            build_embedder(settings.embedding),
            client,
            on_stage=lambda stage: console.print(stage, highlight=False),
            on_start=start,
            advance=advance,
        )
    js, md = write_report(result, out)
    console.print(markdown_table(result), markup=False, highlight=False)
    console.print(f"Wrote {js} and {md}.", highlight=False)


@eval_app.command()
def understanding(
    cases: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--cases",
            help="A YAML file of labelled messages (default: the shipped understanding_cases.yaml).",
        ),
    ] = None,
    heldout: Annotated[
        bool, typer.Option("--heldout", help="Score the shipped held-out set instead.")
    ] = False,
    tags: Annotated[
        list[str], typer.Option("--tag", "-t", help="Only the cases with this tag (repeatable).")
    ] = [],  # noqa: B006
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON object on stdout.")
    ] = False,
    show_failures: Annotated[
        bool, typer.Option("--show-failures", help="List every failed case and what went wrong.")
    ] = False,
    model: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--model", "-m", help="LLM for every agent (default: offline)."),
    ] = None,
) -> None:
    """How well the team hears each message in its context: act accuracy (with a confusion
    table), film-stance precision/recall/F1, counts, request and lasting fields, answers and
    exclusions, per tag. A film label the catalog does not have is an error in the set (exit 2)."""
    import asyncio
    import contextlib
    import json
    import sys

    from recteam.errors import RecteamError
    from recteam.evaluation.understanding import (
        CaseError,
        LabelIndex,
        load_cases,
        run_cases,
        shipped_cases,
        summarize,
        tables,
    )
    from recteam.orchestration.session import Recommender, build_role_clients
    from recteam.ui.cli import ensure_catalog, err_console, get_store

    path = cases or shipped_cases(heldout)
    try:
        loaded = load_cases(path)
    except (CaseError, OSError) as exc:
        err_console.print(f"{path}: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    if tags:
        loaded = [c for c in loaded if set(tags) & set(c.tags)]
        if not loaded:
            raise RecteamError(f"no case in {path} has the tag {' or '.join(tags)}")
    settings = get_settings()
    llm = settings.llm.every_role(model or "offline")
    show = err_console if as_json else console
    # With --json, stdout holds the JSON alone: the first start's ingest report goes to stderr.
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        store = get_store()
        ensure_catalog(store)
        index = LabelIndex(store.catalog.iter_items())
        if problems := index.problems(loaded):
            for p in problems:
                err_console.print(p, markup=False, highlight=False)
            raise typer.Exit(2)
        # one synthetic user per dialogue or case: their likes feed no co-like statistics
        team = settings.team.model_copy(update={"colike": False})
        rec = Recommender(store, llm, team, build_role_clients(llm))
        with progress_bar(show, "Cases") as (start, advance):
            start(len(loaded))
            results = asyncio.run(run_cases(rec, loaded, index, on_case=lambda _: advance(1)))
    summary = summarize(results)
    if as_json:
        print(json.dumps({"cases_file": str(path), **summary}))
        return
    for table in tables(summary, show_failures):
        console.print(table)
