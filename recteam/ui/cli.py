"""The `recteam` command line: ingest a catalog, search it, and (for now) `make run`'s
interactive search prompt. Every error a person can fix is one plain sentence on stderr, exit
code 2. With --json, stdout holds only JSON: progress, notices and errors go to stderr, and a
command that fails prints nothing on stdout (JSON_RULE, said in --help)."""

from __future__ import annotations

import gc
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from recteam.errors import RecteamError
from recteam.memory.catalog_files import MAX_FIELD_CHARS

# What a command needs (numpy, the store, pydantic settings, the embedder, litellm, AutoGen) is
# imported inside it: `recteam --help` and the subcommands' modules load typer and rich alone
# (tests/test_cli_imports.py keeps it so).
if TYPE_CHECKING:
    from rich.table import Table

    from recteam.memory.catalog import SearchRequest, SearchResult
    from recteam.memory.ingest import IngestReport
    from recteam.memory.store import MemoryStore
    from recteam.orchestration.settings import Settings

__all__ = ["JSON_RULE", "app", "fail", "json_help", "main"]

# What every --json option promises; the top-level help says it, and each option's help.
JSON_RULE = (
    "With --json, stdout holds only JSON (progress, notices and the first start's catalog "
    "preparation go to stderr); when the command fails, stdout stays empty, the reason is one "
    "line on stderr and the exit code is not 0 (2: a setting or input to fix)."
)


def json_help(what: str) -> str:
    """A --json option's help: what it prints, then the rule."""
    return (
        f"{what} Stdout holds this JSON alone; when the command fails, stdout stays empty, the "
        "reason is on stderr and the exit code is not 0."
    )


class _Commands(typer.core.TyperGroup):
    """Every command's RecteamError becomes one sentence on stderr and exit code 2, the same
    under `recteam` as under typer's test runner."""

    def invoke(self, ctx: Any) -> Any:  # a click Context: typer's own copy of click since 0.29
        try:
            return super().invoke(ctx)
        except RecteamError as exc:
            raise fail(str(exc), code=2) from None


app = typer.Typer(
    name="recteam",
    cls=_Commands,
    help=(
        "recteam: a team of agents that recommends films through conversation, over one shared "
        "Qdrant memory. Works with no key and no server: the catalog and the vector store are "
        "embedded. Settings come from recteam.toml, RECTEAM_* variables and .env "
        f"(see recteam.example.toml).\n\n{JSON_RULE}"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # one error, one line, however narrow


def fail(sentence: str, code: int = 1) -> typer.Exit:
    """Prints `sentence` as the error on stderr; returns the exit to raise."""
    err_console.print(f"[red]error:[/] {escape(sentence)}", highlight=False)
    return typer.Exit(code)


class _State:
    config: Path | None = None
    settings: Settings | None = None
    store: MemoryStore | None = None


state = _State()


def shipped_catalog() -> Path:
    from importlib import resources

    return Path(str(resources.files("recteam.data").joinpath("catalog.jsonl.gz")))


def get_settings() -> Settings:
    if state.settings is None:
        from recteam.orchestration.settings import load_settings

        state.settings = load_settings(state.config)
    return state.settings


def get_store() -> MemoryStore:
    if state.store is None:
        from recteam.memory.store import open_store
        from recteam.orchestration.model_clients import build_embedder

        s = get_settings()
        state.store = open_store(s.memory, build_embedder(s.embedding), s.embedding, s.search)
    return state.store


def close_store() -> None:
    if state.store is not None:
        state.store.close()
        state.store = None


def _print_report(report: IngestReport, show: int = 20, out: Console = console) -> None:
    """Every skipped file, the first `show` skipped rows and what a folder held that is no
    catalog file on stderr; the summary on `out`."""
    shown = 0
    for problem in report.problems:
        if problem.file in report.skipped_files or shown < show:
            err_console.print(f"[yellow]skipped[/] {escape(str(problem))}", highlight=False)
            shown += problem.file not in report.skipped_files
    if report.bad_rows > shown:
        err_console.print(f"[yellow]... and {report.bad_rows - shown:,} more skipped rows[/]")
    if report.ignored:
        names = ", ".join(p.name for p in report.ignored)
        err_console.print(
            f"[yellow]not read[/] (not .csv, .tsv, .jsonl or .json): {escape(names)}",
            highlight=False,
        )
    files = len(report.skipped_files)
    out.print(
        f"Ingested {report.items:,} items ({report.new_items:,} new, {report.updated_items:,} updated) "
        f"from {len(report.files)} file(s) in {report.seconds:.1f} s "
        f"({report.items_per_second:,.0f} items/s); skipped {report.bad_rows:,} bad rows"
        f"{f' and {files} unreadable file(s)' if files else ''}"
        f"{f', merged {report.duplicates:,} duplicates' if report.duplicates else ''}. "
        f"The catalog now holds {report.catalog_size:,} items.",
        highlight=False,
        soft_wrap=True,
    )


def _ingest(
    store: MemoryStore, path: Path, replace: bool, encoding: str | None = None
) -> IngestReport:
    from recteam.memory.ingest import ingest_path
    from recteam.ui.progress import progress_bar

    # A first start ingests inside cli_chat.start_up, where the cyclic collector is off: an
    # ingest makes and drops objects by the million, so it collects as usual.
    collecting = gc.isenabled()
    gc.enable()
    try:
        with progress_bar(err_console, f"Ingesting {path.name}") as (start, advance):
            return ingest_path(
                store, path, replace=replace, on_start=start, progress=advance, encoding=encoding
            )
    finally:
        if not collecting:
            gc.disable()


def ensure_catalog(store: MemoryStore) -> None:
    """First start: ingest the configured (default: shipped) catalog when the store has none.
    Later starts: when that file changed since (a new recteam ships a new catalog), add and update
    its films once; films ingested from other files stay."""
    from recteam.memory.catalog_stamp import catalog_changed, record_catalog

    settings = get_settings()
    path = settings.catalog.path or shipped_catalog()
    if store.catalog.count():
        if not catalog_changed(path, settings.memory.path):
            return
        err_console.print(
            f"The catalog file {path} changed since this store was prepared: updating the store "
            "(this happens once per change)."
        )
    else:
        err_console.print(f"First start: preparing the catalog from {path} (this happens once).")
    # Housekeeping before a command's own output: on stderr, so `ask --json` prints JSON only.
    _print_report(_ingest(store, path, replace=False), show=5, out=err_console)
    record_catalog(path, settings.memory.path)


@app.callback()
def _root(
    config: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on 3.11
        typer.Option(
            "--config", "-c", help="Settings file (default: ./recteam.toml, or $RECTEAM_CONFIG)."
        ),
    ] = None,
) -> None:
    state.config = config


INGEST_HELP = "\n\n".join(
    (
        "Add films to the catalog from CSV, JSON lines or wikipedia-movies JSON.",
        "Columns / keys: title (required), year, genres and cast (lists, or '|'-separated in "
        "CSV), id, slug, description (also: overview, plot, summary, extract), popularity, "
        "poster. CSV may be separated by commas, semicolons or tabs (.tsv).",
        "Bad rows are reported with file and line and skipped: a field over "
        f"{MAX_FIELD_CHARS:,} characters (the limit), a number that is not finite (NaN, "
        "Infinity), more fields than the header (an unquoted comma), a quote never closed.",
        "Text is UTF-8, with or without a byte-order mark (or UTF-16 with one); a file in "
        "another encoding is named with the --encoding to pass. In a folder, a file that cannot "
        "be read (empty, another encoding, no title column, a broken .gz) is named and skipped "
        "while the others go in.",
        "Ingesting the same file twice adds no duplicates, and an interrupted or killed ingest "
        "leaves the previous catalog as it was. Progress and problems go to stderr, the summary "
        "to stdout.",
    )
)


@app.command(help=INGEST_HELP)
def ingest(
    path: Annotated[
        Path,
        typer.Argument(
            help="A .csv, .tsv, .jsonl or .json file (optionally .gz), or a folder of them."
        ),
    ],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Make the catalog exactly this file's items instead of adding them."
        ),
    ] = False,
    encoding: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on 3.11
        typer.Option(
            "--encoding",
            help="The encoding of files that are not UTF-8, e.g. cp1252 or latin-1 (UTF-8 "
            "files, with or without a byte-order mark, are read as UTF-8 whatever this says).",
        ),
    ] = None,
) -> None:
    store = get_store()
    try:
        report = _ingest(store, path, replace, encoding=encoding)
    except KeyboardInterrupt:
        err_console.print("Interrupted: the catalog is unchanged.")
        raise typer.Exit(130) from None
    _print_report(report)


def _results_table(results: list[SearchResult]) -> Table:
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    table.add_column("#", justify="right", style="dim")
    table.add_column("Title")
    table.add_column("Year", justify="right")
    table.add_column("Genres")
    table.add_column("Cast", overflow="ellipsis", max_width=40)
    table.add_column("Score", justify="right", style="dim")
    for i, r in enumerate(results, start=1):
        table.add_row(
            str(i),
            r.item.title,
            str(r.item.year or ""),
            ", ".join(r.item.genres),
            ", ".join(r.item.cast[:3]),
            f"{r.score:.3f}",
        )
    return table


def _result_json(r: SearchResult) -> str:
    it = r.item
    return json.dumps(
        {
            "id": it.id,
            "title": it.title,
            "year": it.year,
            "genres": it.genres,
            "score": round(r.score, 6),
        }
    )


def _run_search(request: SearchRequest, as_json: bool) -> None:
    results = get_store().catalog.search(request)
    if as_json:
        for r in results:
            print(_result_json(r))
    elif results:
        console.print(_results_table(results))
    else:
        console.print("No film matches all of these constraints.")


@app.command()
def search(
    query: Annotated[
        str | None, typer.Argument(help="What you are looking for, in your words.")
    ] = None,
    genre: Annotated[
        list[str],
        typer.Option("--genre", "-g", help="Required genre (repeatable; all must match)."),
    ] = [],  # noqa: B006
    not_genre: Annotated[
        list[str], typer.Option("--not-genre", help="Genre to leave out (repeatable).")
    ] = [],  # noqa: B006
    person: Annotated[
        list[str], typer.Option("--person", "-p", help="Cast member who must appear (repeatable).")
    ] = [],  # noqa: B006
    year_min: Annotated[
        int | None, typer.Option("--year-min", help="Earliest release year.")
    ] = None,
    year_max: Annotated[int | None, typer.Option("--year-max", help="Latest release year.")] = None,
    like: Annotated[
        list[str],
        typer.Option(
            "--like",
            "-l",
            help="A title you like: similar films rank higher (repeatable; 'Title (1999)' picks a year).",
        ),
    ] = [],  # noqa: B006
    exclude: Annotated[
        list[str], typer.Option("--exclude", "-x", help="A title never to return (repeatable).")
    ] = [],  # noqa: B006
    k: Annotated[
        int, typer.Option("-k", "--limit", min=1, max=1000, help="How many results.")
    ] = 10,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help(
                "One JSON object a line, one line a result: id, title, year, genres, score (no "
                "line when nothing matches)."
            ),
        ),
    ] = False,
    interactive: Annotated[
        bool, typer.Option("--interactive", "-i", help="Keep asking for searches at a prompt.")
    ] = False,
) -> None:
    """Hybrid search of the catalog: meaning (dense) + words (BM25) + films like the ones you name,
    fused by reciprocal rank, with genres, years, people and exclusions as hard filters.

    Example: recteam search "space exploration" --genre "science fiction" --year-min 2000 --like Arrival
    """
    if year_min is not None and year_max is not None and year_min > year_max:
        raise RecteamError(f"--year-min {year_min} is after --year-max {year_max}")
    if as_json and interactive:
        raise RecteamError("--json and --interactive do not go together: a prompt is not JSON")
    from recteam.memory.catalog import SearchRequest

    request = SearchRequest(
        query=query or "",
        genres=genre,
        exclude_genres=not_genre,
        people=person,
        year_min=year_min,
        year_max=year_max,
        like=like,
        exclude=exclude,
        limit=k,
    )
    store = get_store()
    ensure_catalog(store)
    if interactive or (query is None and not like and sys.stdin.isatty() and not as_json):
        _interactive(store)
        return
    _run_search(request, as_json)


def _interactive(store: MemoryStore) -> None:
    console.print(
        f"[bold]recteam search[/] - {store.catalog.count():,} films. Type what you are looking for; "
        "options work too, e.g. [cyan]heist --year-min 1990 --like Heat[/]. "
        "[cyan]--help[/] lists them; an empty line or Ctrl-D quits."
    )
    command = typer.main.get_command(app)
    while True:
        try:
            line = console.input("[bold green]search>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not line:
            return
        try:
            args = shlex.split(line)
        except ValueError as exc:
            err_console.print(f"[red]error:[/] {exc}")
            continue
        # Leading words are the query, unquoted: `bank heist --year-min 1990`.
        words = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
        if words > 1:
            args = [" ".join(args[:words]), *args[words:]]
        try:
            command.main(["search", *args], standalone_mode=False)
        except RecteamError as exc:
            err_console.print(f"[red]error:[/] {exc}")
        except typer.TyperException as exc:  # usage errors: print them and keep the prompt
            err_console.print(f"[red]error:[/] {escape(exc.format_message())}", highlight=False)
        except typer.Exit:  # raised by --help in typer versions before 0.29
            pass


@app.command()
def info() -> None:
    """Show where the memory lives, which embedder is used, and how much is stored."""
    s = get_settings()
    store = get_store()
    where = s.memory.url if s.memory.backend == "server" else str(s.memory.path)
    console.print(f"backend:   {s.memory.backend} ({where})")
    console.print(f"embedder:  {store.embedder.name} ({store.embedder.dim} dimensions)")
    console.print(f"catalog:   {store.catalog.count():,} items")


# The subcommand modules register themselves on `app`; imported last because they import it.
from recteam.ui import cli_bench, cli_chat, cli_eval, cli_memory, cli_models  # noqa: E402, F401


def main() -> None:
    try:
        app()
    except RecteamError as exc:  # raised outside a command (commands' are _Commands' to print)
        err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    finally:
        close_store()
