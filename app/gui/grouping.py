"""The editor's composite commands (issue 21): Group (Ctrl+G), Ungroup (Ctrl+Shift+G), entering an instance
(double-click; a breadcrumb bar, Esc leaves one level), exposing an inner pin from the inspector and no longer
exposing it, and renaming a composite (its definition and every instance).

Entering shows a composite's *definition*: a ``DefinitionPage`` holds its blocks and links as a page the canvas,
the inspector and the ordinary undo commands work on, and writes every change back into the page's definition
(so every instance of it changes). Group, Ungroup, Rename and Stop exposing are ``SnapshotCommand``s: one undo step
that puts the whole page back. ``GroupingCommands`` is a part of the editor window (a mixin, like ``FileCommands``).
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QLabel, QMenu, QToolBar, QToolButton, QWidget

from enuflow.app.document import grouping
from enuflow.app.document.composite_files import library_name_problem
from enuflow.app.document.composites import Composite, ExposedInput, ExposedOutput, ExposedPin, needed
from enuflow.app.document.page import BlockInstance, Page, prefer, unlist
from enuflow.app.gui import blocktypes


class DefinitionPage(Page):
    """The blocks and links of the composite ``definition`` of ``root``, as a page: each change is written back
    into ``root``'s definition at once. Its exposed ports and pins are kept whole here (an exposed port of a
    deleted block comes back with the block on undo); the definition written gets those whose block is there."""

    def __init__(self, root: Page, definition: str) -> None:
        super().__init__(definition)
        self.root = root
        self.definition = definition
        self.inputs: list[ExposedInput] = []
        self.outputs: list[ExposedOutput] = []
        self.pins: list[ExposedPin] = []
        self.written: Composite | None = None  # the definition this page last read or wrote
        self._loading = False
        self._comp: Composite | None = None
        self.reload()
        self.subscribe(self._write_back)

    @property  # type: ignore[override]
    def composites(self) -> dict[str, Composite]:
        return self.root.composites  # nested instances are the root's composites

    @composites.setter
    def composites(self, value: dict[str, Composite]) -> None:
        pass

    def set_composite(self, name: str, composite: Composite | None) -> None:
        """Definitions are the page's: placing a composite inside this one adds its definition to the page."""
        self.root.set_composite(name, composite)

    def reload(self) -> bool:
        """Read the definition again (listeners are told ``reset``); False when the root no longer has it."""
        comp = self.root.composites.get(self.definition)
        if comp is None:
            return False
        self._loading = True
        try:
            self._blocks = {b.id: b.copy() for b in comp.blocks}
            self._links = list(comp.links)
            self._link_count = Counter(self._links)
            self.inputs, self.outputs = copy.deepcopy(comp.inputs), copy.deepcopy(comp.outputs)
            self.pins = copy.deepcopy(comp.pins)
            self._comp, self.written = comp, comp
            self._emit("reset")
        finally:
            self._loading = False
        return True

    def definition_now(self) -> Composite:
        """The definition as this page holds it (exposed ports and pins of blocks that are there)."""
        have = set(self._blocks)
        inputs = [ExposedInput(p.name, [t for t in p.to if t[0] in have]) for p in self.inputs]
        old = self._comp
        return Composite(self.definition, [b.copy() for b in self._blocks.values()], list(self._links),
                         [p for p in inputs if p.to], [copy.copy(p) for p in self.outputs if p.src[0] in have],
                         [copy.copy(p) for p in self.pins if p.block in have],
                         old.doc if old else None, copy.deepcopy(old.extra) if old else {})

    def set_exposed_pins(self, pins: list[ExposedPin]) -> None:
        """Replace the exposed pins; listeners are told ``page_changed`` {field: "pins"}."""
        self.pins = copy.deepcopy(pins)
        self._emit("page_changed", field="pins")

    def _write_back(self, _event: str, _details: dict[str, Any]) -> None:
        if self._loading:
            return
        comp = self.definition_now()
        self.written = comp
        self.root.set_composite(self.definition, comp)


class SnapshotCommand(QUndoCommand):
    """Replace the whole page by ``after`` (Group, Ungroup); undo puts back the page as it was."""

    def __init__(self, page: Page, after: Page, text: str, done: Any = None) -> None:
        super().__init__(text)
        self.page = page
        self.done = done  # called after each redo and undo (the recovery file is written soon)
        self.before = page.copy()
        self.after = after
        for p in (self.before, self.after):  # held for undo: not where the editor looks instances' types up
            unlist(p)

    def _put(self, state: Page) -> None:
        now = state.copy()
        unlist(now)
        self.page.replace_with(now)
        if self.done is not None:
            self.done()

    def redo(self) -> None:
        self._put(self.after)

    def undo(self) -> None:
        self._put(self.before)


class ExposePinsCommand(QUndoCommand):
    """Set the exposed pins of an entered definition."""

    def __init__(self, page: DefinitionPage, pins: list[ExposedPin], text: str) -> None:
        super().__init__(text)
        self.page = page
        self.old = copy.deepcopy(page.pins)
        self.new = copy.deepcopy(pins)

    def redo(self) -> None:
        self.page.set_exposed_pins(self.new)

    def undo(self) -> None:
        self.page.set_exposed_pins(self.old)


def _downstream(page: Page, ids: list[str]) -> set[str]:
    """``ids`` and every block of ``page`` they feed, directly or not."""
    feeds: dict[str, list[str]] = {}
    for ln in page.links:
        feeds.setdefault(ln.src, []).append(ln.dst)
    seen, todo = set(ids), list(ids)
    while todo:
        for nxt in feeds.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


class Breadcrumb(QWidget):
    """``page > d1 > inner``: one button per level; clicking one goes back to that level."""

    def __init__(self, go: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.go = go
        self.parts: list[QWidget] = []  # a button per level above, the level shown in bold last
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(4, 0, 4, 0)
        self.row.setSpacing(2)

    def show_trail(self, names: list[tuple[str, str]]) -> None:
        """``names``: (text, tooltip) of each level, the page first."""
        while self.row.count():
            w = self.row.takeAt(0).widget()
            if w is not None:
                w.hide()  # gone at once, not when the event loop gets to deleting it
                w.deleteLater()
        self.parts = []
        for depth, (text, tip) in enumerate(names):
            if depth:
                self.row.addWidget(QLabel(">"))
            if depth == len(names) - 1:
                part: QWidget = QLabel(text)
                part.setTextFormat(Qt.TextFormat.PlainText)
                bold = part.font()
                bold.setBold(True)
                part.setFont(bold)
            else:
                part = QToolButton()
                part.setText(text)
                part.setAutoRaise(True)
                part.clicked.connect(lambda _c=False, d=depth: self.go(d))
            part.setToolTip(tip)
            self.row.addWidget(part)
            self.parts.append(part)
        self.row.addStretch(1)


class GroupingCommands:
    """Part of the editor window: Group, Ungroup, entering and leaving composites, exposing inner pins."""

    page: Page

    def _init_grouping(self) -> None:
        #: the instances entered, outermost first, each with the definition page the canvas shows for it
        self.trail: list[tuple[str, DefinitionPage]] = []
        self._views: list[tuple[Any, Any]] = []  # each level's zoom and centre, to go back to
        self._definitions: dict[str, DefinitionPage] = {}
        prefer(self.page)  # instances' ports from this page's definitions, whatever other pages are in memory
        self.page.subscribe(self._root_changed)
        self.scene.block_opened.connect(self.enter_block)
        self.breadcrumb = Breadcrumb(self.leave_to)
        self.breadcrumb_bar = QToolBar("Composite")
        self.breadcrumb_bar.setObjectName("Composite")
        self.breadcrumb_bar.setMovable(False)
        self.breadcrumb_bar.addWidget(self.breadcrumb)
        self.addToolBarBreak()
        self.addToolBar(self.breadcrumb_bar)
        self.breadcrumb_bar.hide()
        self.inspector.expose = None
        self.inspector.unexpose = None
        self.inspector.rename = self.rename_composite
        self.rename_dialog: QInputDialog | None = None

    def _grouping_actions(self, menu: Any) -> None:
        menu.addSeparator()
        self.group_action = self._act(menu, "&Group", self.group_selection, "Ctrl+G")
        self.group_action.setToolTip("Make the selected blocks one composite block (Ctrl+G)")
        self.ungroup_action = self._act(menu, "U&ngroup", self.ungroup_selection, "Ctrl+Shift+G")
        self.leave_action = self._act(menu, "Leave Composite", self.leave, "Esc")
        self.leave_action.setEnabled(False)

    def _grouping_menu(self, menu: QMenu, block_id: str | None) -> None:
        """The Group, Ungroup and Enter entries of a block's context menu (or the canvas's: Leave)."""
        if block_id is None:
            if self.trail:
                menu.addAction("Leave Composite", lambda: self.leave())
            return
        menu.addSeparator()
        menu.addAction("&Group", lambda: self.group_selection())
        if self._is_instance(block_id):
            menu.addAction("U&ngroup", lambda: self.ungroup_selection())
            menu.addAction("&Enter Composite", lambda: self.enter_block(block_id))
            menu.addAction("Re&name Composite...", lambda: self.rename_composite(block_id))

    # -- where the canvas is -------------------------------------------------------------------------------
    @property
    def canvas_page(self) -> Page:
        """The page the canvas shows and edits go to: the page, or the definition of the composite entered."""
        return self.scene.page

    @property
    def canvas_path(self) -> str:
        """The path of the instance entered (``d1/inner``); "" on the page."""
        return "/".join(i for i, _ in self.trail)

    def block_path(self, block_id: str) -> str:
        """The id by which results and errors name a block of the canvas (``d1/mm`` inside ``d1``)."""
        return f"{self.canvas_path}/{block_id}" if self.trail else block_id

    def _is_instance(self, block_id: str) -> bool:
        b = self.canvas_page.get(block_id)
        return b is not None and b.type in self.page.composites

    def _sizer(self) -> grouping.Sizer:
        """Each block's drawn size: measured on the canvas, or by a probe item for a block not drawn yet."""
        from enuflow.app.gui.canvas.items import BlockItem

        drawn = self.scene.block_sizes()
        page = self.canvas_page

        def size(b: BlockInstance) -> tuple[float, float]:
            held = page.get(b.id)
            if b.id in drawn and held is not None and held.type == b.type:
                return drawn[b.id]
            probe = BlockItem(b)
            return probe.width, probe.height

        return size

    # -- group and ungroup ---------------------------------------------------------------------------------
    def group_selection(self, name: str | None = None) -> str | None:
        """Make the selected blocks a new composite (named ``name``, else ``group``, ``group_2``, ...), replaced
        by one instance of it: one undo step. Returns the instance's id (None when nothing was grouped)."""
        ids = self.scene.selected_block_ids()
        if not ids:
            self.status_label.setText("Group: select the blocks to group first")
            return None
        comps = self.page.composites
        name = name or grouping.unique("group", lambda n: n in comps or blocktypes.registry().get(n) is not None)
        try:
            if self.trail:
                made = grouping.group_in_composite(self.page, self.trail[-1][1].definition, ids, name, self._sizer())
            else:
                made = grouping.group(self.page, ids, name, self._sizer())
        except grouping.GroupError as e:
            self.status_label.setText(f"Group: {e}")
            return None
        self.undo.push(SnapshotCommand(self.page, made.page, f"Group {len(ids)} blocks into {name}",
                                       self.recovery.touch))
        self.select([made.instance])
        self.status_label.setText(f"Grouped {len(ids)} blocks into the composite {name!r} (block {made.instance}); "
                                  "double-click it to enter")
        return made.instance

    def ungroup_selection(self, ids: list[str] | None = None) -> list[str]:
        """Put the selected instances' inner blocks in their place: one undo step. Returns the inner blocks' ids."""
        ids = [b for b in (ids if ids is not None else self.scene.selected_block_ids()) if self._is_instance(b)]
        if not ids:
            self.status_label.setText("Ungroup: select a composite block first")
            return []
        page, placed = self.page, []
        try:
            for bid in ids:
                if self.trail:
                    done = grouping.ungroup_in_composite(page, self.trail[-1][1].definition, bid, self._sizer())
                else:
                    done = grouping.ungroup(page, bid, self._sizer())
                page = done.page
                placed += list(done.ids.values())
        except grouping.GroupError as e:
            self.status_label.setText(f"Ungroup: {e}")
            return []
        self.undo.push(SnapshotCommand(self.page, page, f"Ungroup {', '.join(ids[:3])}", self.recovery.touch))
        self.select(placed)
        return placed

    # -- entering and leaving ------------------------------------------------------------------------------
    def enter_block(self, block_id: str) -> bool:
        """Show the definition of the instance ``block_id`` (of the canvas); False when it is not an instance."""
        if not self._is_instance(block_id):
            return False
        name = self.canvas_page.block(block_id).type
        dp = self._definitions.get(name)
        if dp is None or dp.written is not self.page.composites.get(name):
            if dp is None:
                dp = self._definitions[name] = DefinitionPage(self.page, name)
                dp.subscribe(lambda event, d, n=name: self._definition_edited(n, event, d))
            else:
                dp.reload()
        self._views.append((self.view.transform(), self.view.mapToScene(self.view.viewport().rect().center())))
        self.trail.append((block_id, dp))
        self._show_level()
        self.view.fit()
        return True

    def leave(self) -> None:
        """Go up one level (Esc)."""
        if self.trail:
            self.leave_to(len(self.trail) - 1)

    def leave_to(self, depth: int) -> None:
        """Show level ``depth`` (0: the page), the instance it was left by selected."""
        if depth >= len(self.trail):
            return
        left = self.trail[depth][0]
        del self.trail[depth:]
        view = self._views[depth]
        del self._views[depth:]
        self._show_level()
        self.view.setTransform(view[0])
        self.view.centerOn(view[1])
        if left in self.scene.blocks:
            self.select([left])

    def forget_composites(self) -> None:
        """Back to the page, every definition page dropped (another page is being opened)."""
        if self.trail:
            self.leave_to(0)
        self._definitions.clear()

    def _show_level(self) -> None:
        page = self.trail[-1][1] if self.trail else self.page
        self.scene.show_page(page, self.canvas_path)
        self.inspector.show_page(page)
        self.inspector.expose = self.expose_pin if self.trail else None
        self.inspector.unexpose = self.unexpose_pin if self.trail else None
        names = [(self.page.name, "the page")]
        names += [(bid, f"{bid}: an instance of the composite {dp.definition}") for bid, dp in self.trail]
        self.breadcrumb.show_trail(names)
        self.breadcrumb_bar.setVisible(bool(self.trail))
        self.leave_action.setEnabled(bool(self.trail))
        self.scene.set_results(self.values)
        self._show_errors()
        self._selection_changed()

    def _root_changed(self, event: str, details: dict[str, Any]) -> None:
        """The page's definitions changed (an undo, a group, an edit inside): the entered ones are read again,
        the trail is cut where its instances are gone, the instances' ports are drawn afresh."""
        if event != "reset" and not (event == "page_changed" and details.get("field") == "composites"):
            return
        for name, dp in self._definitions.items():
            comp = self.page.composites.get(name)
            if comp is not None and comp is not dp.written:
                dp.reload()
        parent: Page = self.page
        for depth, (bid, dp) in enumerate(self.trail):
            b = parent.get(bid)
            if b is None or b.type != dp.definition or dp.definition not in self.page.composites:
                self.leave_to(depth)
                break
            parent = dp
        if event == "page_changed":  # (after a reset the canvas is drawn afresh anyway)
            self.scene.refresh_instances()

    def _definition_edited(self, name: str, event: str, d: dict[str, Any]) -> None:
        """An edit inside the definition ``name``: the results of the page's blocks that use it, of the edited inner
        block and of what they feed are out of date (greyed until the next run)."""
        if not self.values or event not in ("pin_changed", "block_changed", "link_added", "link_removed",
                                            "block_added", "block_removed"):
            return
        comps = self.page.composites
        users = {n for n in comps if name in needed(comps, n)}
        self.scene.add_stale(_downstream(self.page, [b.id for b in self.page if b.type in users]), "")
        dp = self.trail[-1][1] if self.trail else None
        if dp is not None and dp.definition == name:
            edited = d["link"].dst if "link" in d else d["block"].id if "block" in d else d["id"]
            self.scene.add_stale(_downstream(dp, [edited]), self.canvas_path)
        self.results.set_stale(self.scene.stale_paths())

    def canvas_errors(self, errors: dict[str, list[str]]) -> dict[str, list[str]]:
        """The errors to draw on the canvas's blocks: ``errors`` (by page block) on the page; inside a composite,
        those of the analysis and the last run named by a path below the instance entered."""
        if not self.trail:
            return errors
        from enuflow.app.engine.analysis import BuildError

        prefix = self.canvas_path + "/"
        found = [(e.block, str(e)) for e in (self.analysis.errors if self.analysis is not None else [])]
        found += [(e.get("block"), str(BuildError(e.get("block"), e.get("port"), str(e.get("message")))))
                  for e in self.run_errors]
        out: dict[str, list[str]] = {}
        for bid, text in found:
            if bid and bid.startswith(prefix):
                local = bid[len(prefix):].split("/", 1)[0]
                if text not in out.setdefault(local, []):
                    out[local].append(text)
        return out

    # -- exposing inner pins -------------------------------------------------------------------------------
    def expose_pin(self, block_id: str, pin: str, name: str | None = None) -> str | None:
        """Expose ``block_id.pin`` of the definition entered as a pin of its instances (one undo step); returns
        the exposed name."""
        if not self.trail:
            return None
        dp = self.trail[-1][1]
        try:
            made = grouping.expose_pin(dp.definition_now(), block_id, pin, name)
        except grouping.GroupError as e:
            self.status_label.setText(f"Expose: {e}")
            return None
        added = made.pins[-1]
        self.undo.push(ExposePinsCommand(dp, [*dp.pins, added], f"Expose {block_id}.{pin} as {added.name}"))
        self.status_label.setText(f"{block_id}.{pin} is the pin {added.name!r} of every {dp.definition} block")
        return added.name


    def unexpose_pin(self, name: str) -> bool:
        """Stop exposing the pin ``name`` of the definition entered (one undo step): the instances' values for it
        are dropped, the inner block's own value applies. Returns whether it was done."""
        if not self.trail:
            return False
        dp = self.trail[-1][1]
        pin = next((p for p in dp.pins if p.name == name), None)
        try:
            after = grouping.unexpose_pin(self.page, dp.definition, name)
        except grouping.GroupError as e:
            self.status_label.setText(f"Stop exposing: {e}")
            return False
        n = grouping.instances_setting(self.page, dp.definition, name)
        where = f"{pin.block}.{pin.pin}" if pin is not None else name
        dropped = (f"{n} instance value{'s' if n != 1 else ''} of {name} dropped, the inner default applies" if n
                   else "no instance set it")
        self.undo.push(SnapshotCommand(self.page, after, f"Stop exposing {where} as {name} ({dropped})",
                                       self.recovery.touch))
        if pin is not None and pin.block in self.scene.blocks:
            self.select([pin.block])
        self.status_label.setText(f"{where} is no longer a pin of the {dp.definition} blocks ({dropped})")
        return True

    # -- renaming a composite ------------------------------------------------------------------------------
    def composite_name_problem(self, old: str, new: str) -> str | None:
        """Why the composite ``old`` cannot be named ``new`` (a block type's name, another composite's, a name
        the library cannot hold), or None when it can."""
        problem = library_name_problem(new)
        if problem is not None:
            return problem
        if new != old and new in self.page.composites:
            return f"the page already has a composite named {new!r}; give this one another name"
        if blocktypes.registry().get(new) is not None:
            return f"{new!r} is the name of a block type; give the composite another name"
        return None

    def rename_composite(self, block_id: str, new: str | None = None) -> bool:
        """Rename the composite of the instance ``block_id`` (of the canvas) to ``new``: its definition, every
        instance of it and the composites that use it, one undo step. ``new`` None asks for the name in a dialog
        (which asks again, saying why, for a name that cannot be). Returns whether it was renamed."""
        if not self._is_instance(block_id):
            return False
        old = self.canvas_page.block(block_id).type
        if new is None:
            self._ask_name(block_id, old, old, "")
            return False
        new = new.strip()
        if new == old:
            return False
        problem = self.composite_name_problem(old, new)
        if problem is not None:
            self.status_label.setText(f"Rename: {problem}")
            self._ask_name(block_id, old, new, problem)
            return False
        after = grouping.rename_composite(self.page, old, new)
        self.undo.push(SnapshotCommand(self.page, after, f"Rename composite {old} to {new}", self.recovery.touch))
        if block_id in self.scene.blocks:
            self.select([block_id])
        self.status_label.setText(f"The composite {old!r} is {new!r} now, with every block of it")
        return True

    def _ask_name(self, block_id: str, old: str, typed: str, problem: str) -> None:
        """The rename dialog (not modal: the window stays usable; Enter renames, Esc leaves it)."""
        if self.rename_dialog is not None:
            self.rename_dialog.close()
        d = self.rename_dialog = QInputDialog(self)  # type: ignore[arg-type]
        d.setWindowTitle("Rename Composite")
        text = f"New name of the composite {old!r} (every block of it on the page is renamed):"
        d.setLabelText(f"{problem}\n\n{text}" if problem else text)
        d.setTextValue(typed)
        d.textValueSelected.connect(lambda name: self.rename_composite(block_id, name))
        d.open()


__all__ = ["Breadcrumb", "DefinitionPage", "ExposePinsCommand", "GroupingCommands", "SnapshotCommand"]
