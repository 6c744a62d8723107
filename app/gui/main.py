"""Starting the editor: the application object, the first page, and the offer to restore unsaved work."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from enuflow.app import bundled
from enuflow.app.document.formats import PageFileError, load_page
from enuflow.app.gui import recovery
from enuflow.app.gui.interop import model_source, open_model
from enuflow.app.gui.window import MainWindow
from enuflow.app.document.page import Page


def make_window(page_path: str | None, start_worker: bool = True, offer_restore: bool = True) -> MainWindow:
    """The editor window on ``page_path`` (or an empty page), after offering any recovery file."""
    page, path, problem = Page("untitled"), None, ""
    if page_path:
        try:
            model = model_source(page_path)
            if model is not None:  # a TensorFlow model opens as an imported page (Save asks where to keep it)
                page = open_model(model)
            else:
                page, native = load_page(page_path)
                # a shipped example of an installed enuflow opens as a new page: Save must not write into the
                # install
                path = page_path if native and not bundled.is_installed_scene(page_path) else None
        except PageFileError as e:
            problem = str(e)
    win = MainWindow(page, path, start_worker=start_worker)
    if problem:
        win.status_label.setText(problem)
        win.warn("Cannot open page", problem)
    if offer_restore:
        offer_recovery(win, page_path if page_path and not problem else None)
    return win


def offer_recovery(win: MainWindow, named: str | None = None) -> bool:
    """Offer the newest recovery file left by an editor that did not close cleanly; True if restored.

    ``named`` is the page the person asked to open on the command line: restoring replaces it, so the question
    says so, and declining keeps the recovery file for the next start instead of deleting the unsaved work."""
    found = recovery.pending()
    if not found:
        return False
    newest = found[0]
    B = QMessageBox.StandardButton
    if named is None:
        answer = win.prompt("Restore unsaved work?",
                            "enuflow did not close cleanly last time. Restore the unsaved work it kept?\n"
                            f"({newest})", B.Yes | B.No)
        decline = B.No
    else:
        answer = win.prompt("Restore unsaved work?", _instead_text(newest, named), B.Yes | B.No | B.Discard)
        decline = B.Discard
    if answer == B.Yes:
        ok = win.restore_from(newest)
        for p in found[1:]:
            recovery.remove(p)
        return ok
    if answer == decline:
        for p in found:
            recovery.remove(p)
    return False


def _instead_text(recovery_file: Path, named: str) -> str:
    """The restore question when a page was named on the command line: what each answer does to which page."""
    try:
        _page, source = recovery.read(recovery_file)
    except ValueError:
        source = None
    kept = f"unsaved work on {source}" if source else "an unsaved page"
    return (f"enuflow did not close cleanly last time and kept {kept}.\n"
            f"Yes: restore it instead of opening {named}.\n"
            f"No: open {named}; the unsaved work is kept and offered again next time.\n"
            f"Discard: open {named} and delete the unsaved work.\n({recovery_file})")


#: Qt's X11 libraries (what its xcb platform plugin links), as Debian and Ubuntu name their packages
APT_LINE = ("sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 "
            "libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 "
            "libxkbcommon-x11-0 libx11-xcb1 libegl1 libgl1 libfontconfig1")


def qt_platform_problem() -> str | None:
    """Why Qt's X11 platform plugin cannot load here (a missing or broken library), or None.

    Qt itself would print a page of advice and abort the process; loading the library the plugin is
    built on first tells the same thing while we can still say what to install."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM", "xcb") not in ("", "xcb") \
            or (os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("QT_QPA_PLATFORM")):
        return None
    import ctypes

    import PySide6

    lib = Path(PySide6.__file__).resolve().parent / "Qt" / "lib" / "libQt6XcbQpa.so.6"
    if not lib.exists():
        return None  # a Qt built another way (a distribution's): let Qt speak for itself
    try:
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_LOCAL)
    except OSError as e:
        head, _, reason = str(e).partition(": ")  # "<library>: cannot open shared object file: ..."
        return f"{Path(head).name}: {reason}" if reason else str(e)
    return None


def run_editor(page_path: str | None) -> int:
    """Open the editor window on ``page_path`` and run until it closes; returns the exit status."""
    problem = None if QApplication.instance() else qt_platform_problem()
    if problem:
        print(f"enuflow: Qt cannot load its X11 platform plugin ({problem}). Install Qt's X11 libraries:\n"
              f"  {APT_LINE}", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("enuflow")
    if page_path and not Path(page_path).exists():
        print(f"enuflow: {page_path}: no such file", file=sys.stderr)
    win = make_window(page_path)
    win.show()
    return int(app.exec())
