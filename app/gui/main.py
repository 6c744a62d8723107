"""Starting the editor: the application object, the first page, and the offer to restore unsaved work."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from enuflow.app import bundled
from enuflow.app.document.formats import PageFileError, load
from enuflow.app.gui import recovery
from enuflow.app.gui.files import is_native_page
from enuflow.app.gui.window import MainWindow
from enuflow.app.document.page import Page


def make_window(page_path: str | None, start_worker: bool = True, offer_restore: bool = True) -> MainWindow:
    """The editor window on ``page_path`` (or an empty page), after offering any recovery file."""
    page, path, problem = Page("untitled"), None, ""
    if page_path:
        try:
            page = load(page_path)
            # a shipped example of an installed enuflow opens as a new page: Save must not write into the install
            path = page_path if is_native_page(page_path) and not bundled.is_installed_scene(page_path) else None
        except PageFileError as e:
            problem = str(e)
    win = MainWindow(page, path, start_worker=start_worker)
    if problem:
        win.status_label.setText(problem)
        win.warn("Cannot open page", problem)
    if offer_restore:
        offer_recovery(win)
    return win


def offer_recovery(win: MainWindow) -> bool:
    """Offer the newest recovery file left by an editor that did not close cleanly; True if restored."""
    found = recovery.pending()
    if not found:
        return False
    newest = found[0]
    B = QMessageBox.StandardButton
    answer = win.prompt("Restore unsaved work?",
                        "enuflow did not close cleanly last time. Restore the unsaved work it kept?\n"
                        f"({newest})", B.Yes | B.No)
    if answer == B.Yes:
        ok = win.restore_from(newest)
        for p in found[1:]:
            recovery.remove(p)
        return ok
    for p in found:
        recovery.remove(p)
    return False


def run_editor(page_path: str | None) -> int:
    """Open the editor window on ``page_path`` and run until it closes; returns the exit status."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("enuflow")
    if page_path and not Path(page_path).exists():
        print(f"enuflow: {page_path}: no such file", file=sys.stderr)
    win = make_window(page_path)
    win.show()
    return int(app.exec())
