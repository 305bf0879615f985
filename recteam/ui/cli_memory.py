"""`recteam memory`: what the team remembers about a person, shown, exported and deleted by them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from recteam.memory.kinds import MEMORY_KINDS
from recteam.ui.cli import app, console, err_console, fail, get_settings, get_store, json_help

if TYPE_CHECKING:  # the store's modules (numpy, pydantic) load when a command runs
    from recteam.memory.user_memory import MemoryRecord
    from recteam.ui.user_files import UserFiles

__all__ = ["memory_app"]

memory_app = typer.Typer(
    name="memory",
    help=(
        "What the team remembers about a person: every preference, feedback, episode, lesson, "
        "plan and dialogue state stored for a user name, to list, export as JSON, or delete.\n\n"
        "Examples:\n\n"
        "  recteam memory list --user ana\n\n"
        "  recteam memory export --user ana --out ana.json\n\n"
        "  recteam memory delete --user ana --id 3f2a9c1e-...\n\n"
        "  recteam memory delete --user ana --all"
    ),
    no_args_is_help=True,
)
app.add_typer(memory_app)

SHORT_ID = 8  # characters of an id the table shows
MIN_PREFIX = 4  # fewest characters of an id that `delete --id` accepts
UserOpt = Annotated[
    str, typer.Option("--user", "-u", help="Whose memory: the name used in chat or the web app.")
]


def _fail(sentence: str) -> typer.Exit:
    return fail(sentence, code=1)


def _records(user: str, kinds: tuple[str, ...] = ()) -> list[MemoryRecord]:
    memories = get_store().memories
    records = memories.all(user, kinds)
    if not records and not memories.count(user) and not _files().files(user):
        raise _fail(f"nothing is stored about user {user!r} (names are case-sensitive)")
    return records


def _files() -> UserFiles:
    from recteam.ui.user_files import UserFiles

    return UserFiles.at(get_settings().memory.path)


@memory_app.command("list")
def list_(
    user: UserOpt,
    kind: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on 3.11
        typer.Option("--kind", "-k", help=f"Only this kind: {', '.join(MEMORY_KINDS)}."),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help("A JSON list of records: id, kind, text, data, session_id, created_at."),
        ),
    ] = False,
) -> None:
    """List everything stored about a user, newest first: when, kind, what, and the id to delete.

    Example: recteam memory list --user ana --kind feedback
    """
    if kind is not None and kind not in MEMORY_KINDS:
        raise _fail(
            f"--kind {kind!r} is not a kind of memory; the kinds: {', '.join(MEMORY_KINDS)}"
        )
    from rich.table import Table

    from recteam.ui.memory_view import memory_rows, record_json

    records = _records(user, (kind,) if kind else ())
    if as_json:
        print(json.dumps([record_json(r) for r in records], ensure_ascii=False))
        return
    if not records:
        console.print(f"No {kind} memories are stored about {user!r}.")
        return
    table = Table(header_style="bold", title=f"What the team remembers about {user!r}")
    table.add_column("Id", style="dim", no_wrap=True)
    table.add_column("When", no_wrap=True)
    table.add_column("Kind", no_wrap=True)
    table.add_column("What", overflow="fold")
    for record, row in zip(records, memory_rows(records), strict=True):
        table.add_row(record.id[:SHORT_ID], *row)
    console.print(table)
    files = _files().files(user)
    console.print(
        f"{len(records)} {'entry' if len(records) == 1 else 'entries'}"
        + (f" and {len(files)} exported file(s)" if files else "")
        + f". Delete one with: recteam memory delete --user {user!r} --id ID "
        "(the first characters shown are enough).",
        highlight=False,
    )


@memory_app.command()
def export(
    user: UserOpt,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--out", "-o", help="Write to FILE (readable by you only); default: stdout."),
    ] = None,
) -> None:
    """Every record stored about a user as one JSON document.

    Each record: id, kind, text, data, session_id and created_at (ISO 8601, UTC).

    Example: recteam memory export --user ana --out ana-memory.json
    """
    from recteam.ui.memory_view import export_document
    from recteam.ui.user_files import write_private

    document = export_document(user, _records(user))
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        print(text, end="")
        return
    write_private(out, text)
    err_console.print(f"Wrote {document['count']} records about {user!r} to {out}.")


@memory_app.command()
def delete(
    user: UserOpt,
    ids: Annotated[
        list[str],
        typer.Option(
            "--id",
            help="A record's id, or its first characters, from `recteam memory list` (repeatable).",
        ),
    ] = [],  # noqa: B006
    everything: Annotated[
        bool,
        typer.Option(
            "--all", help="Everything about the user: every record, their trace and export files."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before --all.")] = False,
) -> None:
    """Delete some records (--id) or everything (--all) stored about a user.

    --all removes every memory record of the user, the traces and exports the web app kept for them, and the copies of those files it handed out for download; it asks first, unless --yes. An id that is not one of the user's own records (another user's, say) is refused, and then nothing is deleted.

    Examples: recteam memory delete --user ana --id 97db17e1 --id 6c3a52d5

    recteam memory delete --user ana --all --yes
    """
    if everything == bool(ids):
        raise _fail("say what to delete: --id ID (one or more) or --all")
    if everything:
        _delete_everything(user, yes)
        return
    own = [r.id for r in _records(user)]
    chosen = [_resolve(user, given, own) for given in ids]
    n = get_store().memories.delete_records(user, list(dict.fromkeys(chosen)))
    files = _files().discard_memory_exports(user)  # an earlier export still holds them
    console.print(
        f"Deleted {n} record(s) about {user!r}"
        + (f" and {files} memory export file(s) that held them." if files else "."),
        highlight=False,
    )


def _resolve(user: str, given: str, own: list[str]) -> str:
    """A record id of the user's from an id or its first characters; only the user's own records
    are candidates, so another user's id is never found."""
    matches = [i for i in own if i == given] or [
        i for i in own if len(given) >= MIN_PREFIX and i.startswith(given)
    ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise _fail(f"{given!r} starts {len(matches)} of {user!r}'s ids; give more characters")
    raise _fail(
        f"user {user!r} has no record with id {given!r}; nothing was deleted "
        f"(`recteam memory list --user {user}` shows the ids)"
    )


def _delete_everything(user: str, yes: bool) -> None:
    store = get_store()
    count, files = store.memories.count(user), _files().files(user)
    if not count and not files:
        raise _fail(f"nothing is stored about user {user!r} (names are case-sensitive)")
    if not yes:
        what = f"{count} record(s)" + (f" and {len(files)} file(s)" if files else "")
        try:
            sure = typer.confirm(f"Delete {what} about {user!r}? This cannot be undone")
        except typer.Abort:  # no answer (end of input)
            sure = False
        if not sure:
            raise _fail("nothing was deleted (add --yes to delete without being asked)")
    from recteam.memory.colike import forget_likes

    forget_likes(store, user)  # their likes leave the co-like counts too
    n = store.memories.delete_user(user)
    removed = _files().forget(user)
    console.print(
        f"Deleted {n} record(s) and {removed} file(s) about {user!r}: the team remembers nothing "
        "of them now.",
        highlight=False,
    )
