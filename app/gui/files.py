"""File commands of the editor window: New, Open (enuflow and enuSpace pages), Save, Save As, recent
files, the prompt before unsaved work is dropped, restoring from a recovery file, and closing.

``FileCommands`` is a part of ``MainWindow`` (a mixin); it uses the window's page, undo stack, scene,
view, docks and recovery file. Saves are atomic (``app.document.formats.save``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from enuflow.app import bundled
from enuflow.app.document.formats import PageFileError, load_page, save
from enuflow.app.gui import recovery
from enuflow.app.gui.stored import results_from_json
from enuflow.app.document.page import Page

MAX_RECENT = 8


def config_dir() -> Path:
    env = os.environ.get("ENUFLOW_CONFIG_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "enuflow"


class FileCommands:
    """New/Open/Save/Save As, recent files, prompts, recovery restore and close (part of MainWindow)."""

    page: Page
    path: str | None
    _restored_dirty: bool

    # -- files ------------------------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Ask before unsaved work is dropped; True when it is fine to go on."""
        if not self.dirty:
            return True
        B = QMessageBox.StandardButton
        answer = self.prompt("Unsaved changes", f"Save the changes to '{self.page.name}' first?",
                             B.Save | B.Discard | B.Cancel)
        if answer == B.Save:
            return self.save()
        return answer == B.Discard

    def new_page(self) -> None:
        if not self.maybe_save():
            return
        self._set_page(Page("untitled"), None)
        self.status_label.setText("New page")

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open page", str(Path(self.path).parent) if self.path else "",
                                              "Pages and models (*.json *.svg *.pb *.pbtxt);;All files (*)")
        if path:
            self.open_path(path, ask=False)

    def open_path(self, path: str, ask: bool = True) -> bool:
        """Open a page file (enuflow .json, or an enuSpace .json/.svg page) or a TensorFlow model (.pb,
        .pbtxt, a SavedModel folder; imported in a subprocess); False when it failed."""
        if ask and not self.maybe_save():
            return False
        from enuflow.app.gui.interop import model_source, open_model

        try:
            model = model_source(path)
            if model is not None:
                self.status_label.setText(f"Importing {model}...")
                self.repaint()
                page, native = open_model(model), False
            else:
                page, native = load_page(path)
        except PageFileError as e:
            self.warn("Cannot open page", str(e))
            return False
        shipped = native and bundled.is_installed_scene(path)  # an example inside the installation: keep it as is
        self._set_page(page, path if native and not shipped else None)
        if not native:
            self.tidy_import()
        self.status_label.setText(f"Opened the example {Path(path).name}; Save As to keep your changes" if shipped
                                  else f"Opened {path}" if native else
                                  f"Imported {path}; Save As to keep it in enuflow's format")
        self._add_recent(path)
        return True

    def _set_page(self, page: Page, path: str | None) -> None:
        self.forget_composites()  # the canvas shows the new page, not a composite of the old one
        self.page.replace_with(page)
        self.path = path
        self.undo.clear()
        self.undo.setClean()
        self._restored_dirty = False
        self.recovery.discard()
        self.recovery.attach(self.page, path)
        self.run_errors = []
        self.run_warnings = []
        self.values, self.history = {}, {}
        self.io_allowed = set()  # "Yes, for this page" was said of the page that was open
        self.step_total = 0
        self.results.reset()  # nothing of the previous page's results, trends or plot axes stays
        self.forget_training()  # nor its training curves
        self._load_page_extras()
        self.inspector.show_block(None)
        # nothing said about the previous page (its errors, a refused link) stays in the status bar
        self.status_label.setText("")
        self.statusBar().clearMessage()
        self._update_title()
        self.revalidate()
        self.restore_view()

    def tidy_import(self) -> bool:
        """An imported page whose blocks (drawn at enuflow's sizes) overlap is laid out afresh; True if so.

        Part of the import, not an edit: nothing to undo, and the page is unsaved anyway. Not while the person is
        inside a composite (the canvas shows its definition, not the page's top level)."""
        if self.trail or not self.scene.overlapping():
            return False
        from enuflow.app.gui import editing

        for bid, pos in editing.auto_layout(self.page, self.scene.block_sizes(), self.scene.port_anchors()).items():
            self.page.move_block(bid, pos)
        self.restore_view()
        return True

    def restore_view(self) -> None:
        """Every page opens fitted into the window (once the window has its size, if it is not shown yet).

        A page's saved ``view`` is still written on save, for tools that read it; a fitted page is what
        a person who opens a file (or gets unsaved work back) expects to see first."""
        self.view.fit()

    def _load_page_extras(self) -> None:
        stored = results_from_json(self.page.results) if self.page.results else {}
        self.values = stored
        self.scene.set_stale(set())
        self.scene.set_cached(set())
        self.results.set_stale(set())
        self.scene.set_results(stored)
        self.results.set_results(stored, {})
        self.results.set_page_trends(self.page.extra.get("trends"))

    def save(self) -> bool:
        if not self.path:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save page as", self.path or f"{self.page.name}.json",
                                              "enuflow pages (*.json)")
        if not path:
            return False
        if not path.endswith(".json"):
            path += ".json"
        return self.save_to(path)

    def save_to(self, path: str) -> bool:
        """Save atomically to ``path``; on failure the message is shown and False returned."""
        centre = self.view.mapToScene(self.view.viewport().rect().center())
        self.page.view = {"zoom": round(self.view.zoom(), 4), "center": [round(centre.x(), 1), round(centre.y(), 1)]}
        try:
            save(self.page, path)
        except PageFileError as e:
            self.warn("Cannot save page", str(e))
            return False
        self.path = path
        self.undo.setClean()
        self._restored_dirty = False
        self.recovery.discard()
        self.recovery.attach(self.page, path)
        self._add_recent(path)
        self._update_title()
        self.status_label.setText(f"Saved {path}")
        return True

    def recent_files(self) -> list[str]:
        try:
            data = json.loads((config_dir() / "recent.json").read_text(encoding="utf-8"))
            return [p for p in data if isinstance(p, str)][:MAX_RECENT] if isinstance(data, list) else []
        except (OSError, ValueError):
            return []

    def _add_recent(self, path: str) -> None:
        full = str(Path(path).resolve())
        items = [full] + [p for p in self.recent_files() if p != full]
        try:
            config_dir().mkdir(parents=True, exist_ok=True)
            from enuflow.app.document.formats.native import write_atomic

            write_atomic(config_dir() / "recent.json", json.dumps(items[:MAX_RECENT]))
        except (OSError, PageFileError):
            pass
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent_files():
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda _c=False, p=p: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent_menu.actions()))

    def restore_from(self, path: Path) -> bool:
        """Take over the page kept in a recovery file; it stays marked unsaved."""
        try:
            page, source = recovery.read(path)
        except ValueError as e:
            self.warn("Cannot restore", str(e))
            return False
        self._set_page(page, source)
        self._restored_dirty = True
        recovery.remove(path)
        self.recovery.touch()
        self._update_title()
        self.status_label.setText("Restored unsaved work from the recovery file")
        return True

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.recovery.discard()
        if self.worker is not None:
            self.worker.close()
            self.worker = None
        event.accept()
