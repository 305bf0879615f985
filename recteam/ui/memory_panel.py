"""The web app's "What I remember about you" panel: every memory record of the person (when, kind,
what), one deleted at a time, and "Export all" as a JSON download. Gradio wiring only: the rows
come from ui/memory_view.py, the files from ui/user_files.py, the person from the app's `who`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gradio as gr

from recteam.memory.user_memory import UserMemory
from recteam.ui.memory_view import MEMORY_HEADERS, entry_label, export_document, memory_rows
from recteam.ui.user_files import UserFiles

__all__ = ["MEMORY_SHOWN", "MemoryPanel"]

MEMORY_SHOWN = 1000  # newest entries the panel lists; "Export all" has every one

Who = Callable[[str, gr.Request], str]  # (typed name, request) -> the user a call acts for
Profile = Callable[[str, Any], str]  # (user, the tab's session) -> the profile panel's text


class MemoryPanel:
    def __init__(self, memories: UserMemory, files: UserFiles) -> None:
        self.memories = memories
        self.files = files

    def build(self) -> None:
        """Lays the panel out where it is called, inside the app's gr.Blocks."""
        self.rows = gr.State([])  # (record id, table row) of each row shown: a click -> an id
        with gr.Accordion(
            "What I remember about you", open=False, elem_id="memory-panel"
        ) as self.accordion:
            self.note = gr.Markdown(elem_id="memory-note")
            self.table = gr.Dataframe(
                headers=MEMORY_HEADERS,
                elem_id="memory-table",
                interactive=False,
                wrap=True,
                max_height=360,
                column_widths=["21%", "23%", "56%"],
            )
            self.entry = gr.Dropdown(
                choices=[],
                label="Entry to delete (or click its row)",
                elem_id="memory-entry",
                allow_custom_value=False,
            )
            with gr.Row():
                self.delete_btn = gr.Button("Delete this entry", elem_id="memory-delete", size="sm")
                self.export_btn = gr.Button("Export all (JSON)", elem_id="memory-export", size="sm")
            self.file = gr.File(
                label="Everything I remember about you, as JSON",
                elem_id="memory-export-file",
                visible=False,
                interactive=False,
            )

    @property
    def outputs(self) -> list[Any]:
        """What `view` fills: the table, the delete menu, the row map and the count line."""
        return [self.table, self.entry, self.rows, self.note]

    @staticmethod
    def skip() -> tuple[Any, ...]:
        return (gr.skip(),) * 4

    @staticmethod
    def no_file() -> Any:
        return gr.update(value=None, visible=False)

    def view(self, user: str) -> tuple[Any, ...]:
        # The newest entries and a count: two bounded engine calls, however much is stored
        # (the export reads everything, once, when asked).
        shown = self.memories.list(user, limit=MEMORY_SHOWN) if user else []
        total = self.memories.count(user) if shown else 0
        now = time.time()
        rows = memory_rows(shown, now)
        menu = gr.update(choices=[(entry_label(r, now), r.id) for r in shown], value=None)
        if not shown:
            note = "_Nothing yet: what you say, like and turn down will show here._"
        else:
            more = f" (the newest {len(shown)} shown)" if total > len(shown) else ""
            note = f"{total} entries about **{user}**{more}, newest first."
        return rows, menu, [(r.id, row) for r, row in zip(shown, rows, strict=True)], note

    def wire(
        self, user_box: Any, tab_state: Any, profile: Any, who: Who, profile_of: Profile
    ) -> None:
        """The panel's events; each acts for `who(typed name, request)`, never for a name alone."""

        def delete_entry(
            entry_id: str | None, typed: str, tab: Any, request: gr.Request
        ) -> tuple[Any, ...]:
            user = who(typed, request)
            if not entry_id:
                raise gr.Error(
                    "Choose the entry to delete first (click its row, or pick it above)."
                )
            deleted = self.memories.delete_records(user, [entry_id])  # only the user's own
            self.files.discard_memory_exports(user)  # an earlier export still holds the entry
            if deleted:
                gr.Info("Deleted that entry: the team no longer remembers it.")
            else:
                gr.Warning("That entry is not among yours (any more): nothing was deleted.")
            return profile_of(user, tab), *self.view(user), self.no_file()

        def export_all(typed: str, request: gr.Request) -> Any:
            user = who(typed, request)
            document = export_document(user, self.memories.all(user))
            path = self.files.offer(self.files.write_memory_export(user, document))
            return gr.update(value=str(path), visible=True)

        def pick_row(rows: list[tuple[str, list[str]]], evt: gr.SelectData) -> Any:
            """A click on a row chooses its entry in the menu (matched by the row's values, so a
            table sorted in the browser still picks the right one)."""
            clicked = [str(v) for v in evt.row_value or []]
            return next((i for i, row in rows if list(row) == clicked), gr.skip())

        self.table.select(pick_row, inputs=self.rows, outputs=self.entry)
        self.delete_btn.click(
            delete_entry,
            inputs=[self.entry, user_box, tab_state],
            outputs=[profile, *self.outputs, self.file],
            api_name="memory_delete",
        )
        self.export_btn.click(
            export_all, inputs=user_box, outputs=self.file, api_name="memory_export"
        )
