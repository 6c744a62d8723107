"""The editor window: the controller that ties the page, the canvas, the docks and the run worker.

It owns one ``Page`` and its ``QUndoStack``. Gestures from the canvas, palette and inspector become
undo commands (``app.gui.commands``) that change only the page; the canvas and inspector follow the
page's events. Runs go to a warm worker process (``app.worker.WorkerClient``) whose events arrive on a
background thread and are forwarded through a Qt signal. File handling (New/Open/Save/Save As, recent
files, the unsaved mark, prompts) and the recovery file live here too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QToolBar,
    QWidget,
)

from app.formats import PageFileError, load, read_text, save
from app.formats.native import page_to_doc
from app.gui import blocktypes, editing, recovery
from app.gui.canvas.items import BlockItem
from app.gui.canvas.scene import PageScene
from app.gui.canvas.view import CanvasView
from app.gui.commands import (
    AddBlocksCommand,
    AddLinkCommand,
    MoveCommand,
    RemoveCommand,
    SetFieldCommand,
    SetPinCommand,
)
from app.gui.inspector import Inspector
from app.gui.palette import Palette, QuickSearch
from app.gui.results import ResultsDock
from app.gui.stored import results_from_json
from app.page import BlockInstance, Link, Page

Prompt = Callable[[str, str, Any], Any]
MAX_RECENT = 8


def config_dir() -> Path:
    env = os.environ.get("ENUFLOW_CONFIG_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "enuflow"


def is_native_page(path: str) -> bool:
    """True for an enuflow page file (Save may write over it); False for an enuSpace page (imported)."""
    if path.lower().endswith(".svg"):
        return False
    try:
        text, _ = read_text(path)
        doc = json.loads(text)
    except (PageFileError, ValueError):
        return False
    return isinstance(doc, dict) and "blocks" in doc and doc.get("format", "enuflow.page") == "enuflow.page"


class _WorkerBridge(QObject):
    """Carries worker events from its reader thread to the GUI thread."""

    event = Signal(object)


def _ask(parent: QWidget, title: str, text: str, buttons: Any) -> Any:
    return QMessageBox.question(parent, title, text, buttons)


class MainWindow(QMainWindow):
    """One page in one window. ``event_handled`` is emitted after a worker event has been shown."""

    event_handled = Signal(object)

    def __init__(self, page: Page | None = None, path: str | None = None, start_worker: bool = True) -> None:
        super().__init__()
        self.page = page if page is not None else Page("untitled")
        self.path: str | None = path
        self.undo = QUndoStack(self)
        self.prompt: Prompt = lambda title, text, buttons: _ask(self, title, text, buttons)
        self.warn: Callable[[str, str], None] = lambda title, text: QMessageBox.warning(self, title, text)
        self.values: dict[tuple[str, str], Any] = {}
        self.history: dict[tuple[str, str], list[float]] = {}
        self.static_errors: dict[str, list[str]] = {}
        self.run_errors: list[dict[str, Any]] = []
        self.page_errors: list[str] = []
        self.last_event: Any = None
        self.run_id = 0
        self._restored_dirty = False
        self.analysis: Any = None
        self._catalogue_loaded = False

        self.scene = PageScene(self.page, self)
        self.view = CanvasView(self.scene, self)
        self.setCentralWidget(self.view)
        self.palette = Palette()
        self.inspector = Inspector(self.page, self._commit_pin, self._commit_field)
        self.results = ResultsDock()
        self.problems = QListWidget()
        self._docks: dict[str, QDockWidget] = {}
        self._dock("Blocks", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Results", self.results, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resizeDocks([self._docks["Problems"]], [110], Qt.Orientation.Vertical)
        self.resizeDocks([self._docks["Inspector"], self._docks["Results"]], [380, 320], Qt.Orientation.Vertical)
        self.resizeDocks([self._docks["Inspector"], self._docks["Blocks"]], [330, 250], Qt.Orientation.Horizontal)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.status_label = QLabel("TensorFlow is loading in the background...")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.progress)

        self._actions()
        self.scene.link_requested.connect(self._link_requested)
        self.scene.link_refused.connect(self._link_refused)
        self.scene.blocks_moved.connect(self._blocks_moved)
        # selecting thousands of blocks sends thousands of signals: follow the selection once per batch
        self._selection_timer = QTimer(self)
        self._selection_timer.setSingleShot(True)
        self._selection_timer.setInterval(0)
        self._selection_timer.timeout.connect(self._selection_changed)
        self.scene.selectionChanged.connect(self._selection_timer.start)
        self.view.block_requested.connect(self.add_block_at)
        self.view.quick_search_requested.connect(self.quick_search)
        self.palette.block_activated.connect(self._palette_activated)
        self.problems.itemClicked.connect(self._problem_clicked)
        self.undo.cleanChanged.connect(self._clean_changed)

        self._analysis_timer = QTimer(self)
        self._analysis_timer.setSingleShot(True)
        self._analysis_timer.setInterval(150)
        self._analysis_timer.timeout.connect(self.revalidate)
        self.recovery = recovery.Recovery(parent=self)
        self.recovery.attach(self.page, self.path)
        self.page.subscribe(self._on_page)

        self.bridge = _WorkerBridge(self)
        self.bridge.event.connect(self._on_worker_event)
        self.worker: Any = None
        self._want_worker = start_worker
        self.resize(1400, 860)
        self._load_page_extras()
        self._update_title()
        self.revalidate()
        QTimer.singleShot(0, self._after_show)

    # -- construction helpers ----------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        d = QDockWidget(title, self)
        d.setObjectName(title)
        d.setWidget(widget)
        self.addDockWidget(area, d)
        self._docks[title] = d

    def _act(self, menu: Any, text: str, slot: Callable[[], Any], shortcut: Any = None,
             toolbar: QToolBar | None = None) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        a.triggered.connect(lambda _checked=False: slot())
        menu.addAction(a)
        if toolbar is not None:
            toolbar.addAction(a)
        return a

    def _actions(self) -> None:
        mb = self.menuBar()
        tb = QToolBar("Main")
        tb.setObjectName("Main")
        self.addToolBar(tb)
        f = mb.addMenu("&File")
        self._act(f, "&New", self.new_page, QKeySequence.StandardKey.New)
        self._act(f, "&Open...", self.open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = f.addMenu("Open &Recent")
        self._act(f, "&Save", self.save, QKeySequence.StandardKey.Save)
        self._act(f, "Save &As...", self.save_as, QKeySequence.StandardKey.SaveAs)
        f.addSeparator()
        self._act(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        e = mb.addMenu("&Edit")
        self.undo_action = self.undo.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence.StandardKey.Redo])
        e.addAction(self.undo_action)
        e.addAction(self.redo_action)
        e.addSeparator()
        self._act(e, "Cu&t", self.cut, QKeySequence.StandardKey.Cut)
        self._act(e, "&Copy", self.copy, QKeySequence.StandardKey.Copy)
        self._act(e, "&Paste", self.paste, QKeySequence.StandardKey.Paste)
        self._act(e, "&Duplicate", self.duplicate, "Ctrl+D")
        self._act(e, "De&lete", self.delete_selection, [QKeySequence.StandardKey.Delete, QKeySequence("Backspace")])
        self._act(e, "Select &All", self.select_all, QKeySequence.StandardKey.SelectAll)
        self._act(e, "Add &Block...", lambda: self.quick_search(self.view.last_scene_pos), "Ctrl+Space")
        v = mb.addMenu("&View")
        self._act(v, "&Fit Page", self.view.fit, "F", tb)
        self._act(v, "Zoom &In", lambda: self.view.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        self._act(v, "Zoom &Out", lambda: self.view.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        self._act(v, "Auto &Layout", self.auto_layout, "Ctrl+L", tb)
        for d in self._docks.values():
            v.addAction(d.toggleViewAction())
        r = mb.addMenu("&Run")
        tb.addSeparator()
        self.run_action = self._act(r, "&Run", self.run_page, "F5", tb)
        self.stop_action = self._act(r, "&Stop", self.stop_run, "Shift+F5", tb)
        self.kill_action = self._act(r, "&Kill Worker", self.kill_run, "Ctrl+F5", tb)
        self.stop_action.setEnabled(False)
        self.kill_action.setEnabled(False)
        self._fill_recent()

    # -- start-up ---------------------------------------------------------------------------------------
    def _after_show(self) -> None:
        self.restore_view()
        if self._want_worker:
            self.ensure_worker()
        # a catalogue cache left by an earlier run: the whole palette right after the first frame
        QTimer.singleShot(50, self.load_catalogue)

    def load_catalogue(self) -> bool:
        """Make every cached op block known (palette, ports, checks); False while there is no cache."""
        if self._catalogue_loaded:
            return True
        if not self.isVisible():
            return False  # a closed (or never shown) window: nothing to fill
        blocktypes.refresh()
        if not blocktypes.catalogue_ready():
            return False
        self._catalogue_loaded = True
        self.palette.fill(full=True)
        self.scene.refresh_types()
        self.revalidate()
        return True

    def ensure_worker(self) -> Any:
        if self.worker is None:
            from app.worker import WorkerClient

            self.worker = WorkerClient(self.bridge.event.emit)
            self.worker.start()
        return self.worker

    # -- title, dirty state --------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return self._restored_dirty or not self.undo.isClean()

    def _update_title(self) -> None:
        where = Path(self.path).name if self.path else "not saved"
        self.setWindowTitle(f"{self.page.name} ({where})[*] - enuflow")
        self.setWindowModified(self.dirty)

    # -- page events --------------------------------------------------------------------------------
    def _on_page(self, event: str, d: dict[str, Any]) -> None:
        self._analysis_timer.start()
        if event != "reset":
            self.recovery.touch()

    def revalidate(self) -> None:
        """Check the page (without TensorFlow) and show the problems with the last run's errors."""
        an = blocktypes.analyse_safely(self.page)
        self.analysis = an
        self.static_errors = {}
        self.page_errors = []
        if an is not None:
            for e in an.errors:
                if e.block is None:
                    self.page_errors.append(e.message)
                elif e.block in self.page and not self._type_pending(self.page.block(e.block).type):
                    self.static_errors.setdefault(e.block, []).append(str(e))
        self._show_errors()

    @staticmethod
    def _type_pending(type_name: str) -> bool:
        # an op block is only known once the catalogue cache exists: no error for it before then
        return blocktypes.lookup(type_name) is None and not blocktypes.catalogue_ready()

    def _show_errors(self) -> None:
        errors: dict[str, list[str]] = {k: list(v) for k, v in self.static_errors.items()}
        loose: list[str] = list(self.page_errors)
        for e in self.run_errors:
            bid = e.get("block")
            text = f"{bid}.{e['port']}: {e['message']}" if e.get("port") else f"{bid}: {e.get('message')}"
            if bid and bid in self.page:
                if text not in errors.get(bid, []):
                    errors.setdefault(bid, []).append(text)
            else:
                loose.append(str(e.get("message")))
        self.scene.set_errors(errors)
        self.problems.clear()
        for bid, msgs in errors.items():
            for m in msgs:
                it = QListWidgetItem(m)
                it.setData(Qt.ItemDataRole.UserRole, bid)
                self.problems.addItem(it)
        for m in loose:
            self.problems.addItem(QListWidgetItem(m))
        sel = self.scene.selected_block_ids()
        self.inspector.set_problems(errors.get(sel[0], []) if len(sel) == 1 else [])
        self.block_errors = errors

    def _problem_clicked(self, item: QListWidgetItem) -> None:
        bid = item.data(Qt.ItemDataRole.UserRole)
        if bid and bid in self.scene.blocks:
            self.select([bid])
            self.view.centerOn(self.scene.blocks[bid])

    def select(self, ids: list[str]) -> None:
        """Select these blocks and show the first in the inspector and results at once."""
        self.scene.select_blocks(ids)
        self._selection_timer.stop()
        self._selection_changed()

    def _selection_changed(self) -> None:
        ids = self.scene.selected_block_ids()
        bid = ids[0] if len(ids) == 1 else None
        if bid != self.inspector.block_id:
            self.inspector.show_block(bid)
        self.inspector.set_problems(getattr(self, "block_errors", {}).get(bid, []) if bid else [])
        if bid is not None or not ids:
            self.results.show_block(bid)

    # -- edits ------------------------------------------------------------------------------------------
    def _link_requested(self, link: Link) -> None:
        self.undo.push(AddLinkCommand(self.page, link))

    def _link_refused(self, why: str) -> None:
        self.status_label.setText(f"Link refused: {why}")

    def _blocks_moved(self, old: dict, new: dict) -> None:
        self.undo.push(MoveCommand(self.page, old, new))

    def _palette_activated(self, name: str) -> None:
        self.add_block_at(name, self.view.mapToScene(self.view.viewport().rect().center()))

    def _clean_changed(self, _clean: bool) -> None:
        self._update_title()

    def add_block_at(self, type_name: str, pos: QPointF) -> str | None:
        """Place a new block of ``type_name`` with its top-left corner near ``pos``; returns its id."""
        decl = blocktypes.lookup(type_name)
        if decl is None and not blocktypes.catalogue_ready():
            known = set(self.palette.items)
            if type_name not in known:
                self.status_label.setText(f"Unknown block type '{type_name}'")
                return None
        bid = self.page.new_id(type_name)
        block = BlockInstance(bid, type_name, (round(pos.x() - 20), round(pos.y() - 10)), {})
        self.undo.push(AddBlocksCommand(self.page, [block], text=f"Add {type_name}"))
        self.select([bid])
        return bid

    def quick_search(self, pos: QPointF) -> QuickSearch:
        qs = QuickSearch(self.palette.entries, pos, self)
        qs.chosen.connect(lambda name, p: self.add_block_at(name, p))
        qs.move(self.view.mapToGlobal(self.view.mapFromScene(pos)))
        qs.show()
        qs.edit.setFocus()
        self._quick = qs
        return qs

    def add_link(self, src: str, src_port: str, dst: str, dst_port: str) -> bool:
        """Wire two ports as a drag would; returns False (with the reason in the status bar) if refused."""
        check = blocktypes.check_link(self.page, src, src_port, True, dst, dst_port, False)
        if not check.ok:
            self.status_label.setText(f"Link refused: {check.reason}")
            return False
        self.undo.push(AddLinkCommand(self.page, check.link))
        return True

    def _commit_pin(self, block_id: str, pin: str, value: Any) -> None:
        self.undo.push(SetPinCommand(self.page, block_id, pin, value))

    def _commit_field(self, block_id: str, name: str, value: Any) -> None:
        self.undo.push(SetFieldCommand(self.page, block_id, name, value))

    def delete_selection(self) -> None:
        ids = self.scene.selected_block_ids()
        links = self.scene.selected_links()
        if ids or links:
            self.undo.push(RemoveCommand(self.page, ids, links, text=f"Delete {len(ids)} blocks"))

    def select_all(self) -> None:
        for it in self.scene.blocks.values():
            it.setSelected(True)

    def copy(self) -> dict[str, Any] | None:
        ids = self.scene.selected_block_ids()
        if not ids:
            return None
        clip = editing.copy_blocks(self.page, ids)
        QApplication.clipboard().setText(editing.clip_text(clip))
        return clip

    def cut(self) -> None:
        if self.copy() is not None:
            self.undo.push(RemoveCommand(self.page, self.scene.selected_block_ids(), [], text="Cut"))

    def paste(self, clip: dict[str, Any] | None = None) -> list[str]:
        if clip is None:
            clip = editing.parse_clip(QApplication.clipboard().text())
        if clip is None:
            return []
        blocks, links = editing.paste_blocks(self.page, clip)
        if not blocks:
            return []
        self.undo.push(AddBlocksCommand(self.page, blocks, links, text=f"Paste {len(blocks)} blocks"))
        ids = [b.id for b in blocks]
        self.scene.select_blocks(ids)
        return ids

    def duplicate(self) -> list[str]:
        ids = self.scene.selected_block_ids()
        if not ids:
            return []
        return self.paste(editing.copy_blocks(self.page, ids))

    def auto_layout(self) -> None:
        heights = {bid: it.height for bid, it in self.scene.blocks.items()}
        new = editing.auto_layout(self.page, heights)
        old = {bid: self.page.block(bid).pos for bid in new}
        changed = {k: v for k, v in new.items() if tuple(old[k]) != tuple(v)}
        if changed:
            self.undo.push(MoveCommand(self.page, {k: old[k] for k in changed}, changed, text="Auto layout"))
        self.view.fit()

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

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open page", str(Path(self.path).parent) if self.path else "",
                                              "Pages (*.json *.svg);;All files (*)")
        if path:
            self.open_path(path, ask=False)

    def open_path(self, path: str, ask: bool = True) -> bool:
        """Open a page file (enuflow .json, or an enuSpace .json/.svg page); False when it failed."""
        if ask and not self.maybe_save():
            return False
        try:
            page = load(path)
        except PageFileError as e:
            self.warn("Cannot open page", str(e))
            return False
        native = is_native_page(path)
        self._set_page(page, path if native else None)
        self.status_label.setText(f"Opened {path}" if native else
                                  f"Imported {path}; Save As to keep it in enuflow's format")
        self._add_recent(path)
        return True

    def _set_page(self, page: Page, path: str | None) -> None:
        self.page.replace_with(page)
        self.path = path
        self.undo.clear()
        self.undo.setClean()
        self._restored_dirty = False
        self.recovery.discard()
        self.recovery.attach(self.page, path)
        self.run_errors = []
        self.values, self.history = {}, {}
        self._load_page_extras()
        self.inspector.show_block(None)
        self._update_title()
        self.revalidate()
        self.restore_view()

    def restore_view(self) -> None:
        """The zoom and centre saved with the page, else the whole page fitted into the window."""
        v = self.page.view
        try:
            zoom = float(v["zoom"])
            cx, cy = (float(x) for x in v["center"])
        except (TypeError, KeyError, ValueError):
            self.view.fit()
            return
        self.view.resetTransform()
        z = min(max(zoom, 0.03), 6.0)
        self.view.scale(z, z)
        self.view.centerOn(cx, cy)

    def _load_page_extras(self) -> None:
        stored = results_from_json(self.page.results) if self.page.results else {}
        self.values = stored
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
            from app.formats.native import write_atomic

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

    # -- running ---------------------------------------------------------------------------------------
    def run_page(self, steps: int | None = None) -> int | None:
        """Run the page in the worker; returns the run id (None if a run is in progress)."""
        worker = self.ensure_worker()
        if worker.busy:
            self.status_label.setText("A run is in progress: Stop it first")
            return None
        allow_io = False
        io_blocks = [b.id for b in self.page if (d := blocktypes.lookup(b.type)) is not None and d.io]
        if io_blocks:
            B = QMessageBox.StandardButton
            allow_io = self.prompt("Run blocks that use files?",
                                   "These blocks read or write files or act on the process: "
                                   + ", ".join(io_blocks) + ". Allow them for this run?", B.Yes | B.No) == B.Yes
        if self._analysis_timer.isActive():  # an edit not checked yet: check it now
            self._analysis_timer.stop()
            self.revalidate()
        an = self.analysis  # the last check (parsing large pin values again would stall the window)
        total = 0
        if an is not None and an.plan.block is not None and not an.plan.infinite:
            total = an.plan.steps if steps is None else steps
        elif an is not None and an.plan.block is None:
            total = 1 if steps is None else steps
        self.run_id = worker.run(page_to_doc(self.page), steps=steps, allow_io=allow_io)
        self.history = {}
        self.results.history = {}
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(0)
        self.progress.setFormat("step %v / %m" if total else "running...")
        self.progress.show()
        self.run_action.setEnabled(False)
        self.stop_action.setEnabled(True)
        self.kill_action.setEnabled(True)
        self.status_label.setText("Running..." if worker.ready else "Running (TensorFlow is still loading)...")
        return self.run_id

    def stop_run(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.status_label.setText("Stopping after this step...")

    def kill_run(self) -> None:
        if self.worker is not None:
            self.worker.kill()

    def _run_ended(self) -> None:
        self.progress.hide()
        self.run_action.setEnabled(True)
        self.stop_action.setEnabled(False)
        self.kill_action.setEnabled(False)

    def _on_worker_event(self, ev: Any) -> None:
        self.last_event = ev
        if ev.kind == "ready":
            self.load_catalogue()
            self.status_label.setText(f"Ready: TensorFlow loaded in {ev.seconds:.1f} s" if ev.seconds else "Ready")
        elif ev.kind == "step" and ev.run_id == self.run_id:
            if self.progress.maximum() > 0:
                self.progress.setValue(min(ev.step, self.progress.maximum()))
            else:
                self.progress.setFormat(f"step {ev.step}")
            self.results.add_step(ev.scalars)
        elif ev.kind == "done" and ev.run_id == self.run_id:
            self._run_ended()
            self.values = ev.results
            self.history = ev.history
            self.run_errors = list(ev.errors)
            self.scene.set_results(self.values)
            self.results.set_results(self.values, self.history)
            self._show_errors()
            what = "stopped" if ev.stopped else "done"
            self.status_label.setText(f"Run {what}: {ev.steps_done} step(s), {len(ev.errors)} error(s)")
        elif ev.kind == "crashed":
            self._run_ended()
            self.run_errors = list(ev.errors) or [{"block": None, "port": None, "message": ev.message.splitlines()[0]}]
            self._show_errors()
            first = ev.message.splitlines()[0] if ev.message else "The worker process ended."
            self.status_label.setText(first)
        elif ev.kind == "log":
            self.statusBar().showMessage(ev.message[:200], 5000)
        self.event_handled.emit(ev)

    # -- queries for tests and tools --------------------------------------------------------------------
    def block_item(self, block_id: str) -> BlockItem:
        return self.scene.blocks[block_id]

    def link_items(self) -> list[Link]:
        return list(self.scene.wires)
