"""The editor window: the controller that ties the page, the canvas, the docks and the run worker.

It owns one ``Page`` and its ``QUndoStack``. Gestures from the canvas, palette and inspector become
undo commands (``app.gui.commands``) that change only the page; the canvas and inspector follow the
page's events. File commands live in ``app.gui.files`` and running in ``app.gui.running`` (parts of the
window, as mixins); this module builds the window and handles editing, selection and problems.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QPointF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QPalette, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QToolBar,
    QWidget,
)

from enuflow.app.gui import blocktypes, editing, recovery
from enuflow.app.gui.annotating import AnnotationCommands
from enuflow.app.gui.canvas.items import BlockItem, WireItem
from enuflow.app.gui.canvas.scene import PageScene
from enuflow.app.gui.canvas.view import CanvasView
from enuflow.app.gui.commands import (
    AddBlocksCommand,
    AddLinkCommand,
    MoveCommand,
    RemoveAnnotationsCommand,
    RemoveCommand,
    SetFieldCommand,
    SetPageFieldCommand,
    SetPinCommand,
)
from enuflow.app.gui.files import FileCommands
from enuflow.app.gui.grouping import GroupingCommands
from enuflow.app.gui.inspector import Inspector
from enuflow.app.gui.interop import InteropCommands
from enuflow.app.gui.library import LibraryCommands
from enuflow.app.gui.palette import Palette, QuickSearch
from enuflow.app.gui.wire_search import WireSearch
from enuflow.app.gui.fixes import FIX_ROLE, ProblemFixes, fix_title
from enuflow.app.gui.console import ConsoleDock
from enuflow.app.gui.results import ResultsDock
from enuflow.app.gui.running import RunCommands, _WorkerBridge
from enuflow.app.gui.static_check import StaticChecks
from enuflow.app.gui.style import readable_on
from enuflow.app.gui.target import TargetCommands
from enuflow.app.gui.training import TrainingCommands
from enuflow.app.gcpause import paused_gc
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.engine.analysis import BuildError

Prompt = Callable[[str, str, Any], Any]
MAX_RECENT = 8
PROBLEM_ROWS = 500  # rows the Problems list shows of each kind; one more row counts the rest


def _ask(parent: QWidget, title: str, text: str, buttons: Any) -> Any:
    """A question; its "Yes to All" button (where there is one) reads "Yes, for this page"."""
    if not buttons & QMessageBox.StandardButton.YesToAll:
        return QMessageBox.question(parent, title, text, buttons)
    box = QMessageBox(QMessageBox.Icon.Question, title, text, buttons, parent)
    every = box.button(QMessageBox.StandardButton.YesToAll)
    if every is not None:
        every.setText("Yes, for this page")
    return QMessageBox.StandardButton(box.exec())


#: page events that change nothing the page's check reads (where a block stands, the brackets of a bulk edit)
_NO_CHECK = frozenset({"block_moved", "blocks_moved"})


class MainWindow(FileCommands, RunCommands, InteropCommands, TargetCommands, LibraryCommands, AnnotationCommands,
                 GroupingCommands, StaticChecks, WireSearch, ProblemFixes, TrainingCommands, QMainWindow):
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
        self.run_warnings: list[dict[str, Any]] = []
        self.continuing = False  # the run in progress is a Step that continues the last one
        self.page_errors: list[str] = []
        self.last_event: Any = None
        self.run_id = 0
        self._restored_dirty = False
        self.analysis: Any = None
        self._catalogue_loaded = False
        self._checked_with_catalogue = False  # the last check of the page knew every op block
        self.io_allowed: set[str] = set()  # blocks allowed to use files for as long as this page is open
        self.step_total = 0  # steps run since the Variables started (the last history entry's step number)

        self.scene = PageScene(self.page, self)
        self.view = CanvasView(self.scene, self)
        self.setCentralWidget(self.view)
        self._make_docks()
        self.progress = QProgressBar()
        # wide enough for the longest text it shows ("step 1000000 / 1000000"), never clipped
        self.progress.setMinimumWidth(self.progress.fontMetrics().horizontalAdvance("step 0000000 / 0000000") + 40)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.status_label = QLabel("TensorFlow is loading in the background...")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.device_legend = QLabel()  # a coloured square per cluster task the blocks are placed on
        self.device_legend.hide()
        self.target_label = QLabel("Target: this machine")
        self.statusBar().addPermanentWidget(self.device_legend)
        self.statusBar().addPermanentWidget(self.target_label)
        self.run_target: dict[str, str] | None = None
        self.target_devices: list[str] = []

        self._actions()
        self.scene.link_requested.connect(self._link_requested)
        self._connect_wire_search()
        self.scene.link_refused.connect(self._link_refused)
        self.scene.blocks_moved.connect(self._blocks_moved)
        self._connect_annotations()
        # selecting thousands of blocks sends thousands of signals: follow the selection once per batch
        self._selection_timer = QTimer(self)
        self._selection_timer.setSingleShot(True)
        self._selection_timer.setInterval(0)
        self._selection_timer.timeout.connect(self._selection_changed)
        self.scene.selectionChanged.connect(self._selection_timer.start)
        self.view.block_requested.connect(self.add_block_at)
        self.view.quick_search_requested.connect(self.quick_search)
        self.view.menu_builder = self.canvas_menu
        self.palette.block_activated.connect(self._palette_activated)
        self.problems.itemClicked.connect(self._problem_clicked)
        self._connect_fixes()
        self.undo.cleanChanged.connect(self._clean_changed)
        self._init_grouping()

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
    def _make_docks(self) -> None:
        self.palette = Palette()
        self.inspector = Inspector(self.page, self._commit_pin, self._commit_field)
        self.results = ResultsDock()
        self.problems = QListWidget()
        self.console = ConsoleDock()  # what the worker printed during the current run
        self._docks: dict[str, QDockWidget] = {}
        self._dock("Blocks", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Results", self.results, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._dock("Console", self.console, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self._docks["Problems"], self._docks["Console"])
        self._make_training_dock()
        self._docks["Problems"].raise_()
        self.resizeDocks([self._docks["Problems"]], [110], Qt.Orientation.Vertical)
        self.resizeDocks([self._docks["Inspector"], self._docks["Results"]], [380, 320], Qt.Orientation.Vertical)
        self.resizeDocks([self._docks["Inspector"], self._docks["Blocks"]], [300, 220], Qt.Orientation.Horizontal)

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
        self.export_savedmodel_action = self._act(f, "Export &SavedModel...", self.export_savedmodel_dialog)
        self.data_folder_action = self._act(f, "Data &Folder...", self.choose_data_folder)
        self.data_folder_action.setToolTip("Where the page's data files (named by Windows paths in imported "
                                           "enuSpace pages) are read and written; saved with the page")
        self.save_to_library_action = self._act(f, "Save Composite to &Library...", self.save_composite_to_library)
        f.addSeparator()
        self._act(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        e = mb.addMenu("&Edit")
        self.undo_action = self.undo.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo.createRedoAction(self, "&Redo")
        # both usual redo keys, each once (Qt's Redo key on Linux is Ctrl+Shift+Z itself: listing it twice made
        # the key "ambiguous" and dead)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
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
        self._annotation_actions(e)
        v = mb.addMenu("&View")
        self._act(v, "&Fit Page", self.view.fit, "F", tb)
        self._act(v, "Zoom &In", lambda: self.view.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        self._act(v, "Zoom &Out", lambda: self.view.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        self._act(v, "Auto &Layout", self.auto_layout, "Ctrl+L", tb)
        self.minimap_action = self._act(v, "&Minimap", lambda: self.view.minimap.setVisible(
            self.minimap_action.isChecked()))
        self.minimap_action.setCheckable(True)
        self.minimap_action.setChecked(True)
        self.minimap_action.setToolTip("An overview of the page in the canvas's corner: click or drag to move")
        self.collapse_action = self._act(e, "C&ollapse / Expand", self.toggle_collapse, "Ctrl+E")
        self._grouping_actions(e)
        self.snap_action = self._act(v, "&Snap to Grid", lambda: self.set_snap(self.snap_action.isChecked()))
        self.snap_action.setCheckable(True)
        self.snap_action.setChecked(True)
        self.snap_action.setToolTip("Blocks you drag land on a 10-unit grid")
        for d in self._docks.values():
            v.addAction(d.toggleViewAction())
        r = mb.addMenu("&Run")
        tb.addSeparator()
        self.run_action = self._act(r, "&Run", self.run_page, "F5", tb)
        self._epochs_box(tb)
        self.step_action = self._act(r, "S&tep", self.step_page, "F10", tb)
        self.step_action.setToolTip("One more step, continuing from the Variables' current values (F10)")
        self.run_to_action = self._act(r, "Run to &Here", self.run_to_here, "Ctrl+F10")
        self.run_to_action.setToolTip("Run only what the selected blocks need; the other blocks keep their results "
                                      "(Ctrl+F10)")
        self.stop_action = self._act(r, "&Stop", self.stop_run, "Shift+F5", tb)
        self.kill_action = self._act(r, "&Kill Worker", self.kill_run, "Ctrl+F5", tb)
        r.addSeparator()
        self.target_action = self._act(r, "Run &Target...", self.choose_target)
        self.target_action.setToolTip("Run on this machine, on a TensorFlow cluster (a cluster file) or at a grpc "
                                      "address")
        self.stop_action.setEnabled(False)
        self.kill_action.setEnabled(False)
        r.addSeparator()
        self.logdir_action = self._act(r, "&TensorBoard Log Folder...", self.choose_logdir)
        self.logdir_action.setCheckable(True)
        self.logdir_action.setToolTip("Write TensorBoard event files (scalar results per step, the graph) "
                                      "on every run")
        self._fill_recent()

    # -- start-up ---------------------------------------------------------------------------------------
    def _after_show(self) -> None:
        self.restore_view()
        if self._want_worker:
            try:
                self.ensure_worker()
            except (ImportError, OSError, RuntimeError) as e:
                self.status_label.setText(f"The run worker cannot start: {e}")
        # a catalogue cache left by an earlier run: the whole palette right after the first frame
        QTimer.singleShot(50, self.load_catalogue)

    def load_catalogue(self) -> bool:
        """Make every cached op block known (palette, ports, checks); False while there is no cache."""
        if self._catalogue_loaded:
            return True
        blocktypes.refresh()
        if not blocktypes.catalogue_ready():
            return False
        self._catalogue_loaded = True
        if not self.palette.full:
            self.palette.fill(full=True)
        self.scene.refresh_types()
        if not (self.path is None and self.undo.isClean() and self.tidy_import()) and self.view.untouched:
            self.view.fit()  # the blocks have their real sizes now: the page opened fitted stays fitted
        if not self._checked_with_catalogue:  # a model opened here made the op blocks known before the first check
            self.revalidate()
        return True

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
        if event in _NO_CHECK:
            self.recovery.touch()  # once for a bulk move
            return
        self._analysis_timer.start()
        self.schedule_check()
        if event != "reset":
            self.recovery.touch()
        if self.values and event in ("pin_changed", "block_changed", "link_added", "link_removed"):
            self._mark_stale(d["link"].dst if "link" in d else d["id"])

    def _mark_stale(self, block_id: str) -> None:
        """An edit of ``block_id``: its results and those of every block downstream are out of date."""
        with_results = {b for (b, _p) in self.values}
        todo, seen = [block_id], {block_id}
        downstream: dict[str, list[str]] = {}
        for ln in self.page.links:
            downstream.setdefault(ln.src, []).append(ln.dst)
        while todo:
            for nxt in downstream.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        self.scene.add_stale(seen & with_results, "")  # the page's blocks, also while a composite is shown
        self.results.set_stale(self.scene.stale_paths())

    def choose_data_folder(self, folder: str | None = None) -> None:
        """Ask for the page's data folder (``folder`` skips the dialog; "" removes it); one undoable edit."""
        from enuflow.app.document.data_folder import FIELD

        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Data folder of the page",
                                                      str(self.page.extra.get(FIELD) or ""))
            if not folder:
                return
        value = folder or None
        if value != self.page.extra.get(FIELD):
            self.undo.push(SetPageFieldCommand(self.page, FIELD, value, text="Set data folder"))

    @paused_gc
    def revalidate(self) -> None:
        """Check the page (without TensorFlow) and show the problems with the last run's errors."""
        self.update_device_legend()
        self._checked_with_catalogue = blocktypes.catalogue_loaded()
        an = blocktypes.analyse_safely(self.page)
        self.analysis = an
        self.static_errors = {}
        self.page_errors = []
        pending: dict[str, bool] = {}  # per block type (a big page has thousands of errors of a few types)
        if an is not None:
            for e in an.errors:
                if e.block is None:
                    self.page_errors.append(e.message)
                elif e.block in self.page and not self._type_pending(self.page.block(e.block).type, pending):
                    self.static_errors.setdefault(e.block, []).append(str(e))
                elif e.block.split("/", 1)[0] in self.page:  # inside a composite: shown on its instance
                    self.static_errors.setdefault(e.block.split("/", 1)[0], []).append(str(e))
        # dtype clashes of drawn wires (a float Const into Reshape.shape) show before Run, too
        for bid, msgs in blocktypes.link_problems(self.page).items():
            self.static_errors.setdefault(bid, []).extend(msgs)
        self._show_errors()
        self.update_epochs_box()

    @staticmethod
    def _type_pending(type_name: str, known: dict[str, bool]) -> bool:
        # an op block is only known once the catalogue cache exists: no error for it before then
        got = known.get(type_name)
        if got is None:
            got = known[type_name] = blocktypes.lookup(type_name) is None and not blocktypes.catalogue_ready()
        return got

    def _show_errors(self) -> None:
        # a port the worker's check found a problem on: its words (naming both dtypes, offering a fix) replace the
        # editor's own quick check of the same port
        checked = {f"block '{e.get('block')}', port '{e.get('port')}':" for e in self.check_errors if e.get("port")}
        errors: dict[str, list[str]] = {k: [m for m in v if not any(m.startswith(c) for c in checked)]
                                        for k, v in self.static_errors.items()} if checked else \
            {k: list(v) for k, v in self.static_errors.items()}
        loose: list[str] = list(self.page_errors)
        fixes: dict[str, Any] = {}  # an error's text -> the fix it offers
        for e in [*self.run_errors, *self.check_errors]:  # (the worker's static check: clashes, shapes)
            bid = e.get("block")
            # the run checks the page again: its errors read like the analysis's, so each shows once
            text = str(BuildError(bid, e.get("port"), str(e.get("message"))))
            if isinstance(e.get("fix"), dict) and bid in self.page:
                fixes[text] = e["fix"]
            if bid and bid not in self.page and bid.split("/", 1)[0] in self.page:
                bid = bid.split("/", 1)[0]  # a block inside a composite: its error shows on the instance
            if bid and bid in self.page:
                if text not in errors.get(bid, []):
                    errors.setdefault(bid, []).append(text)
            elif str(e.get("message")) not in loose:
                loose.append(str(e.get("message")))
        shown = self.canvas_errors(errors)  # inside a composite: its blocks' errors, by path
        self.scene.set_errors(shown)
        self.problems.clear()
        self._add_problem_rows([(m, bid, fixes.get(m)) for bid, msgs in errors.items() for m in msgs],
                               "problems (the canvas marks every block that has one)")
        for m in loose:
            self.problems.addItem(QListWidgetItem(m))
        # warnings (inert blocks, what an import changed or could not find) do not stop a run, but are listed
        warn_colour = readable_on(QColor("#8a6d00"), self.problems.palette().color(QPalette.ColorRole.Base))
        warnings: list[tuple[Any, str, Any]] = [
            (w.block, str(w), None) for w in (self.analysis.warnings if self.analysis is not None else [])]
        for w in [*self.run_warnings, *self.check_warnings]:
            bid, port = w.get("block"), w.get("port")
            where = [f"block '{bid}'"] if bid else []
            where += [f"port '{port}'"] if port else []
            warnings.append((bid, (", ".join(where) + ": " if where else "") + str(w.get("message")), w.get("fix")))
        extra = self.page.extra.get("import_warnings")
        if isinstance(extra, list):
            # data files and .dat values are checked afresh above (the data folder may have changed since)
            warnings += [(None, str(w), None) for w in extra if "names the data file" not in str(w)
                         and "is stored in" not in str(w)]
        seen: set[str] = set()
        warnings = [w for w in warnings if not (w[1] in seen or seen.add(w[1]))]
        self._add_problem_rows([(f"warning: {text}", bid if bid and bid in self.page else None,
                                 fix if isinstance(fix, dict) else None) for bid, text, fix in warnings],
                               "warnings", warn_colour)
        sel = self.scene.selected_block_ids()
        self.inspector.set_problems(shown.get(sel[0], []) if len(sel) == 1 else [])
        self.block_errors = shown

    def _add_problem_rows(self, rows: list[tuple[str, str | None, dict | None]], more: str,
                          colour: QColor | None = None) -> None:
        """Add (text, block, fix) rows to Problems: at most PROBLEM_ROWS of them, then one row counting the rest
        (Qt lays out every row of the list: thousands on a big page, that nobody reads)."""
        for text, bid, fix in rows[:PROBLEM_ROWS]:
            it = QListWidgetItem(text)
            if colour is not None:
                it.setForeground(colour)
            if bid is not None:
                it.setData(Qt.ItemDataRole.UserRole, bid)
            if fix is not None:
                it.setData(FIX_ROLE, fix)
                it.setToolTip("Right click: " + fix_title(fix))
            self.problems.addItem(it)
        if len(rows) > PROBLEM_ROWS:
            self.problems.addItem(QListWidgetItem(f"\u2026 and {len(rows) - PROBLEM_ROWS:,} more {more}"))

    def _problem_clicked(self, item: QListWidgetItem) -> None:
        bid = item.data(Qt.ItemDataRole.UserRole)
        if bid and self.trail:
            self.leave_to(0)  # problems name the page's blocks
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
            self.results.show_block(self.block_path(bid) if bid is not None else None)

    # -- edits ------------------------------------------------------------------------------------------
    def _link_requested(self, link: Link) -> None:
        self.undo.push(AddLinkCommand(self.canvas_page, link))

    def _link_refused(self, why: str) -> None:
        self.status_label.setText(f"Link refused: {why}")

    def _blocks_moved(self, old: dict, new: dict) -> None:
        self.undo.push(MoveCommand(self.canvas_page, old, new))

    def _palette_activated(self, name: str) -> None:
        self.add_block_at(name, self.view.mapToScene(self.view.viewport().rect().center()))

    def _clean_changed(self, _clean: bool) -> None:
        self._update_title()

    def add_block_at(self, type_name: str, pos: QPointF) -> str | None:
        """Place a new block of ``type_name`` (or a composite of the library) with its top-left corner near ``pos``;
        returns its id."""
        if self.palette.library_composite(type_name) is not None:
            return self.place_composite(type_name, pos)
        decl = blocktypes.lookup(type_name)
        if decl is None and not blocktypes.catalogue_ready():
            known = set(self.palette.items)
            if type_name not in known:
                self.status_label.setText(f"Unknown block type '{type_name}'")
                return None
        bid = self.canvas_page.new_id(type_name)
        block = BlockInstance(bid, type_name, (round(pos.x() - 20), round(pos.y() - 10)), {})
        self.free_place(block)
        self.undo.push(AddBlocksCommand(self.canvas_page, [block], text=f"Add {type_name}"))
        self.select([bid])
        return bid

    def free_place(self, block: BlockInstance, page: Page | None = None) -> None:
        """Move ``block``, about to be added to ``page`` (default: the page on the canvas), to a free place near its
        ``pos``, by its drawn size: clear of the blocks and of the notes."""
        probe = BlockItem(block)
        block.pos = editing.free_spot(page or self.canvas_page, self.scene.block_sizes(), block.pos,
                                      (probe.width, probe.height), others=self.scene.annotations.note_rects())

    def quick_search(self, pos: QPointF, entries: list[Any] | None = None,
                     place: Callable[[str, QPointF], Any] | None = None) -> QuickSearch:
        """The quick search at page point ``pos`` over ``entries`` (default: every palette entry); the chosen one
        goes to ``place`` (default: ``add_block_at``)."""
        qs = QuickSearch(self.palette.entries if entries is None else entries, pos, self)
        qs.chosen.connect(place or (lambda name, p: self.add_block_at(name, p)))
        qs.move(self._inside_window(self.view.mapToGlobal(self.view.mapFromScene(pos)), qs.size()))
        qs.show()
        # a window manager may add a frame: move back by what still sticks out
        g = qs.frameGeometry()
        fixed = self._inside_window(g.topLeft(), g.size())
        if fixed != g.topLeft():
            qs.move(qs.pos() + fixed - g.topLeft())
        qs.edit.setFocus()
        self._quick = qs
        return qs

    def _inside_window(self, at: QPoint, size: QSize) -> QPoint:
        """``at`` moved so that a popup of ``size`` there stays inside the window."""
        top_left = self.mapToGlobal(self.rect().topLeft())
        bottom_right = self.mapToGlobal(self.rect().bottomRight())
        x = max(min(at.x(), bottom_right.x() + 1 - size.width()), top_left.x())
        y = max(min(at.y(), bottom_right.y() + 1 - size.height()), top_left.y())
        return QPoint(x, y)

    def add_link(self, src: str, src_port: str, dst: str, dst_port: str) -> bool:
        """Wire two ports as a drag would; returns False (with the reason in the status bar) if refused."""
        check = blocktypes.check_link(self.canvas_page, src, src_port, True, dst, dst_port, False)
        if not check.ok:
            self.status_label.setText(f"Link refused: {check.reason}")
            return False
        self.undo.push(AddLinkCommand(self.canvas_page, check.link))
        return True

    def _commit_pin(self, block_id: str, pin: str, value: Any) -> None:
        self._push_making_room(lambda: SetPinCommand(self.canvas_page, block_id, pin, value), block_id)

    def _commit_field(self, block_id: str, name: str, value: Any) -> None:
        self._push_making_room(lambda: SetFieldCommand(self.canvas_page, block_id, name, value), block_id)

    def _push_making_room(self, make: Callable[[], Any], bid: str) -> None:
        """Push the edit ``make()`` of block ``bid``; when it grew the block over others (more list outputs, a
        longer label), they move down out of its way in the same undo step."""
        before = self.scene.block_sizes().get(bid)
        self.undo.push(make())
        sizes = self.scene.block_sizes()
        if bid not in sizes or before is None or sizes[bid] == before:
            return
        page = self.canvas_page
        rects = {b.id: (float(b.pos[0]), float(b.pos[1]), *sizes[b.id]) for b in page if b.id in sizes}
        moved = editing.make_room(rects, bid)
        if not moved:
            return
        old = {m: tuple(page.block(m).pos) for m in moved}
        self.undo.undo()  # again, as one step with the moves
        self.undo.beginMacro(make().text())
        self.undo.push(make())
        self.undo.push(MoveCommand(page, old, moved, text="Make room"))
        self.undo.endMacro()

    def delete_selection(self) -> None:
        ids = self.scene.selected_block_ids()
        at = self.scene.selected_link_positions()  # one wire of a link repeated into a list port is one link
        marks = self.scene.annotations.selected_ids()  # frames and notes
        if marks:
            self.undo.beginMacro(f"Delete {len(ids) + len(marks)} items")
        if ids or at:
            self.undo.push(RemoveCommand(self.canvas_page, ids, text=f"Delete {len(ids)} blocks", link_indices=at))
        if marks:
            self.undo.push(RemoveAnnotationsCommand(self.page, marks))
            self.undo.endMacro()

    def select_all(self) -> None:
        for it in self.scene.blocks.values():
            it.setSelected(True)

    def copy(self) -> dict[str, Any] | None:
        ids = self.scene.selected_block_ids()
        if not ids:
            return None
        clip = editing.copy_blocks(self.canvas_page, ids)
        QApplication.clipboard().setText(editing.clip_text(clip))
        return clip

    def cut(self) -> None:
        if self.copy() is not None:
            self.undo.push(RemoveCommand(self.canvas_page, self.scene.selected_block_ids(), [], text="Cut"))

    def paste(self, clip: dict[str, Any] | None = None) -> list[str]:
        if clip is None:
            clip = editing.parse_clip(QApplication.clipboard().text())
        if clip is None:
            return []
        page = self.canvas_page
        blocks, links = editing.paste_blocks(page, clip, offset=editing.free_offset(page, clip, self._clip_sizes(clip)))
        if not blocks:
            return []
        self._carry_data(blocks, clip)
        self.undo.push(AddBlocksCommand(page, blocks, links, text=f"Paste {len(blocks)} blocks"))
        ids = [b.id for b in blocks]
        self.scene.select_blocks(ids)
        return ids

    def _clip_sizes(self, clip: dict[str, Any]) -> dict[str, tuple[float, float]]:
        """The drawn size of every block on the page and of every block in ``clip`` (as a probe item draws it:
        a clip from another page brings blocks this page does not have)."""
        sizes = self.scene.block_sizes()
        for d in clip.get("blocks", []):
            if isinstance(d, dict) and isinstance(d.get("id"), str) and d["id"] not in sizes \
                    and isinstance(d.get("type"), str):
                pins = d.get("pins") if isinstance(d.get("pins"), dict) else {}
                probe = BlockItem(BlockInstance(d["id"], d["type"], (0.0, 0.0), pins, d.get("label"),
                                                d.get("collapsed") if isinstance(d.get("collapsed"), bool) else None))
                sizes[d["id"]] = (probe.width, probe.height)
        return sizes

    def _carry_data(self, blocks: list[Any], clip: dict[str, Any]) -> None:
        """Pasted blocks whose values the copied page kept in its data file bring them into this page (inline when
        small, else into a new data file for this page, in the cache until Save puts it beside the page)."""
        from enuflow.app.document import datafile
        from enuflow.app.worker.client import cache_dir

        source = clip.get("data") if isinstance(clip.get("data"), str) else None
        new, problems = datafile.carry([b.pins for b in blocks], source, self.page.data_path,
                                       cache_dir() / "pasted")
        if new is not None:
            self.page.data_path = new
        if problems:
            self.status_label.setText("Pasted blocks lack values: " + "; ".join(problems[:3]))

    def duplicate(self) -> list[str]:
        ids = self.scene.selected_block_ids()
        if not ids:
            return []
        return self.paste(editing.copy_blocks(self.canvas_page, ids))

    def set_snap(self, on: bool) -> None:
        """Snap dragged blocks to the grid, or let them go anywhere."""
        self.scene.snap_step = 10.0 if on else None
        if self.snap_action.isChecked() != on:
            self.snap_action.setChecked(on)

    @paused_gc
    def auto_layout(self) -> None:
        """Ctrl+L: the level shown laid out afresh (a long chain wrapped into bands to the canvas's shape), its
        frames drawn around their blocks again; one undo step."""
        page = self.canvas_page
        vp = self.view.viewport()
        new = editing.auto_layout(page, self.scene.block_sizes(), self.scene.port_anchors(),
                                  wrap=vp.width() / max(vp.height(), 1))
        old = {bid: page.block(bid).pos for bid in new}
        changed = {k: v for k, v in new.items() if tuple(old[k]) != tuple(v)}
        if changed:
            framed = self.frame_contents()
            self.undo.beginMacro("Auto layout")
            self.undo.push(MoveCommand(page, {k: old[k] for k in changed}, changed, text="Auto layout"))
            self.refit_frames(framed)
            self.undo.endMacro()
        self.view.fit()

    # -- canvas menus, collapse, help ---------------------------------------------------------------------
    def canvas_menu(self, pos: QPointF) -> QMenu:
        """The context menu for page point ``pos``: of the block or wire there, else of the canvas."""
        item = self.scene.itemAt(pos, self.view.transform())
        menu = QMenu(self)
        if self.annotation_menu(menu, item):  # a frame's title or a note
            return menu
        if isinstance(item, BlockItem):
            if not item.isSelected():
                self.select([item.block_id])
            menu.addAction("&Run to Here", lambda: self.run_to_here())
            menu.addSeparator()
            menu.addAction("&Copy", lambda: self.copy())
            menu.addAction("&Duplicate", lambda: self.duplicate())
            menu.addAction("De&lete", lambda: self.delete_selection())
            menu.addSeparator()
            menu.addAction("E&xpand" if item.collapsed else "C&ollapse", lambda: self.toggle_collapse())
            if item.type_name in self.page.composites:
                menu.addAction("Save to Li&brary...", lambda: self.save_composite_to_library(item.block_id))
            menu.addAction("&Help", lambda: self.show_help(item.type_name))
            self.canvas_annotation_entries(menu, pos, on_canvas=False)
            self._grouping_menu(menu, item.block_id)
        elif isinstance(item, WireItem):
            self.scene.clearSelection()
            item.setSelected(True)
            menu.addAction("De&lete", lambda: self.delete_selection())
        else:
            paste = menu.addAction("&Paste", lambda: self.paste())
            paste.setEnabled(editing.parse_clip(QApplication.clipboard().text()) is not None)
            menu.addAction("&Add Block...", lambda: self.quick_search(pos))
            menu.addSeparator()
            menu.addAction("&Fit Page", lambda: self.view.fit())
            menu.addAction("Auto &Layout", lambda: self.auto_layout())
            self.canvas_annotation_entries(menu, pos, on_canvas=True)
            self._grouping_menu(menu, None)
        return menu

    def toggle_collapse(self, ids: list[str] | None = None) -> None:
        """Collapse the selected blocks to their title bars, or expand them if the first is collapsed: one undo
        step, which also moves down whatever an expanded block would now cover."""
        page = self.canvas_page
        ids = [b for b in (ids if ids is not None else self.scene.selected_block_ids()) if b in page]
        if not ids:
            return
        collapse = not page.block(ids[0]).collapsed
        self.undo.beginMacro(("Collapse " if collapse else "Expand ") + ", ".join(ids[:3]))
        for bid in ids:
            if bool(page.block(bid).collapsed) != collapse:
                self.undo.push(SetFieldCommand(page, bid, "collapsed", True if collapse else None))
        if not collapse:
            sizes = self.scene.block_sizes()
            rects = {b.id: (float(b.pos[0]), float(b.pos[1]), *sizes[b.id]) for b in page if b.id in sizes}
            old_pos = {b.id: tuple(b.pos) for b in page}
            for bid in ids:
                moved = editing.make_room(rects, bid)
                for m, p in moved.items():
                    rects[m] = (p[0], p[1], rects[m][2], rects[m][3])
            new = {m: (r[0], r[1]) for m, r in rects.items() if (r[0], r[1]) != old_pos[m]}
            if new:
                self.undo.push(MoveCommand(page, {m: old_pos[m] for m in new}, new, text="Make room"))
        self.undo.endMacro()

    def show_help(self, type_name: str) -> None:
        """The block type's doc in the Blocks panel's help."""
        dock = self._docks["Blocks"]
        dock.show()
        dock.raise_()
        it = self.palette.items.get(type_name)
        if it is not None:
            self.palette.tree.setCurrentItem(it)

    # -- queries for tests and tools --------------------------------------------------------------------
    def block_item(self, block_id: str) -> BlockItem:
        return self.scene.blocks[block_id]

    def link_items(self) -> list[Link]:
        """The link each wire on the canvas draws (a link repeated into a list port once per copy)."""
        return [w.link for w in self.scene.wire_items()]
