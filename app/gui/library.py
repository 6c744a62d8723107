"""The composite library in the editor: placing a library composite on the page (from the palette or the quick
search) and "Save to Library..." for a composite block (a part of the window, as a mixin).

Placing copies the definition, and those it uses, into the page as one undoable step
(``commands.PlaceCompositeCommand``); where the page holds a different composite of one of those names, the
person is asked whether to keep both (the placed one gets a fresh name, ``layers.Dense_2``), never replacing
anything silently. Saving writes each file atomically into the user's folder (``composite_files.user_folder``),
asks before it replaces a different composite of the library, and lists it in the palette at once. What is placed
and what is written is decided by ``app.document.composite_files`` (``plan_place``, ``plan_library_save``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QInputDialog, QMessageBox

from enuflow.app.document import composite_files
from enuflow.app.document.composite_files import LibrarySaveError, PlaceError, plan_library_save, plan_place
from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.document.page import Page
from enuflow.app.gui import editing
from enuflow.app.gui.canvas.items import BlockItem
from enuflow.app.gui.commands import PlaceCompositeCommand

_YES = QMessageBox.StandardButton.Yes
_CANCEL = QMessageBox.StandardButton.Cancel


class LibraryCommands:
    """Placing library composites and saving a page's composite to the library (mixed into ``MainWindow``)."""

    page: Page
    prompt: Any
    warn: Any
    undo: Any
    palette: Any
    scene: Any
    status_label: Any

    def ask_text(self, title: str, label: str, default: str) -> str | None:
        """A line of text from the person (None when they cancel); tests replace it."""
        text, ok = QInputDialog.getText(self, title, label, text=default)  # type: ignore[arg-type]
        return text if ok else None

    # -- placing ----------------------------------------------------------------------------------------
    def place_composite(self, name: str, pos: QPointF) -> str | None:
        """Place the library's composite ``name`` with its top-left corner near ``pos`` (its definition, and those
        it uses, copied into the page; one undo step); returns the new block's id, or None when nothing was placed
        (the person declined to keep two composites of one name, or the composite cannot be placed)."""
        comp = self.palette.library_composite(name)
        if comp is None:
            self.status_label.setText(f"'{name}' is not in the composite library")
            return None
        known = self.palette.library.composites
        try:
            plan = plan_place(self.canvas_page, comp, known)
        except PlaceError as e:
            if not e.names or not self._keep_both(name, e.names):
                if not e.names:
                    self.warn("Place Composite", f"'{name}' cannot be placed: {e}")
                return None
            plan = plan_place(self.canvas_page, comp, known, keep_both=True)
        page = self.canvas_page  # the page, or the definition of the composite entered
        block = composite_files.instance_of(page, plan.type_name, (round(pos.x() - 20), round(pos.y() - 10)))
        block.pos = editing.free_spot(page, self.scene.block_sizes(), block.pos, _drawn_size(block, plan.add))
        self.undo.push(PlaceCompositeCommand(page, plan.add, block, text=f"Add {name}"))
        self.select([block.id])  # type: ignore[attr-defined]
        if plan.type_name != name:
            self.status_label.setText(f"Placed the library's '{name}' as '{plan.type_name}' (the page has a "
                                      f"different '{name}')")
        return block.id

    def _keep_both(self, name: str, clashes: list[str]) -> bool:
        """Ask whether to place ``name`` beside the page's different composites of the names ``clashes``."""
        listed = ", ".join(f"'{n}'" for n in clashes)
        text = (f"This page already has a different composite named {listed}.\n\n"
                f"Yes: keep both; the library's is copied in under a new name ({clashes[0]}_2, ...), and the "
                "page's stays as it is.\nCancel: place nothing.")
        return self.prompt("Composite Name Taken", text, _YES | _CANCEL) == _YES

    # -- saving -----------------------------------------------------------------------------------------
    def save_composite_to_library(self, block_id: str | None = None, name: str | None = None) -> Path | None:
        """Save the composite of block ``block_id`` (default: the one selected block) to the user's library folder
        as ``name`` (default: asked, the composite's own name offered); returns the file written, or None when
        nothing was (declined, cancelled, or an error, which is shown)."""
        comp_name = self._selected_composite(block_id)
        if comp_name is None:
            return None
        if name is None:
            name = self.ask_text("Save to Library", "Name in the library:", comp_name)
            if name is None:
                return None
        name = name.strip()
        folder = composite_files.user_folder()
        try:
            plan = plan_library_save(self.page.composites, comp_name, name, composite_files.library(folder),
                                     self.page.data_path)
        except LibrarySaveError as e:
            self.warn("Save to Library", f"'{comp_name}' cannot be saved: {e}")
            return None
        if plan.replaces and not self._replace(plan.replaces, folder):
            return None
        try:
            for comp in plan.write:  # those it uses first: a file in the library never names a missing composite
                composite_files.save_to_library(comp, folder)
        except PageFileError as e:
            self.palette.refresh_library()  # a composite it uses may have been written before
            self.warn("Save to Library", f"'{name}' was not saved to the library: {e}")
            return None
        self.palette.refresh_library()
        done = "saved to" if plan.write else "is already in"
        target = folder / f"{name}.json"
        self.status_label.setText(f"'{name}' {done} the library ({target})")
        return target

    def _selected_composite(self, block_id: str | None) -> str | None:
        """The composite whose instance is ``block_id`` (or the one selected block); None, said in the status bar,
        when that is not a composite block."""
        if block_id is None:
            ids = self.scene.selected_block_ids()
            block_id = ids[0] if len(ids) == 1 else None
        block = self.canvas_page.get(block_id) if block_id else None
        if block is None or block.type not in self.canvas_page.composites:
            self.status_label.setText("Select one composite block to save it to the library")
            return None
        return block.type

    def _replace(self, replaces: dict[str, str], folder: Path) -> bool:
        """Ask whether to replace the library's different composites of these names."""
        lines = []
        for n, origin in replaces.items():
            where = (f"in your library ({folder / (n + '.json')})" if origin == "user"
                     else "in the standard library (yours will be listed instead of it)")
            lines.append(f"'{n}' {where}")
        text = ("The library already has a different composite named:\n" + "\n".join(lines)
                + "\n\nReplace it with this page's?")
        return self.prompt("Replace in Library", text, _YES | _CANCEL) == _YES


def _drawn_size(block: Any, add: dict[str, Any]) -> tuple[float, float]:
    """The size the instance ``block`` will be drawn at, its definition (among ``add``, else on a page in memory)
    giving its ports."""
    holder = Page("size")  # holds the definitions about to be copied in, so that the instance's ports are known
    holder.composites = dict(add)
    probe = BlockItem(block)
    del holder
    return probe.width, probe.height
