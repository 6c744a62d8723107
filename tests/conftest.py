"""Shared test setup: the offscreen Qt platform, the repository root, small page builders, and the editor
window as GUI tests use it (its recovery files and settings in the test's own folder, questions answered,
shown; the catalogue cache built once)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
import subprocess
from collections.abc import Callable
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from enuflow.app.document.page import BlockInstance, Link, Page


def make_page(blocks: list[tuple[str, str, dict[str, Any]]], links: list[tuple[str, str, str, str]],
              name: str = "test") -> Page:
    """A page from (id, type, pins) triples and (src, src_port, dst, dst_port) links."""
    page = Page(name)
    for i, (bid, btype, pins) in enumerate(blocks):
        page.add_block(BlockInstance(bid, btype, (40.0 * i, 0.0), dict(pins)))
    for s, sp, d, dp in links:
        page.add_link(Link(s, sp, d, dp))
    return page


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def gui_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The editor's recovery files and settings go to the test's own folder (returned)."""
    monkeypatch.setenv("ENUFLOW_RECOVERY_DIR", str(tmp_path / "recovery"))
    monkeypatch.setenv("ENUFLOW_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


@pytest.fixture(scope="session")
def gui_catalogue() -> None:
    """The catalogue cache (built once in a child process, as the editor's worker would) and the editor's
    block types read from it."""
    from enuflow.app.gui import blocktypes
    from enuflow.blocks import catalogue_index

    if not catalogue_index.cache_ready():
        subprocess.run([sys.executable, "-c", "from enuflow.blocks import catalogue_index as c; c.ensure_cache()"],
                       check=True, timeout=600)
    blocktypes.refresh()
    assert blocktypes.catalogue_ready()


@pytest.fixture
def new_window(qtbot: Any, gui_env: Path) -> Callable[..., Any]:
    """Makes editor windows as a person sees them: shown and exposed, every "save changes?" answered
    Discard, warnings silenced. ``size`` resizes the window first; ``load`` reads the catalogue (ask for
    ``gui_catalogue`` too, so that there is one)."""
    from PySide6.QtWidgets import QMessageBox

    from enuflow.app.gui.window import MainWindow

    def make(start_worker: bool = False, size: tuple[int, int] | None = None, load: bool = False) -> Any:
        w = MainWindow(start_worker=start_worker)
        qtbot.addWidget(w)
        w.prompt = lambda title, text, buttons: QMessageBox.StandardButton.Discard
        w.warn = lambda title, text: None
        if size is not None:
            w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
        if load:
            w.load_catalogue()
        return w

    return make
