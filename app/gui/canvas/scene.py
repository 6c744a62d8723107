"""The canvas scene: draws a ``Page`` and follows its events; turns gestures into requests.

The scene never edits the page. It creates, updates and removes items when the page says a block or
link was added, moved, changed or removed. A person's gestures (drag a wire, move blocks) come out as
Qt signals (``link_requested``, ``blocks_moved``) that the window turns into undo commands.
Items do not follow their own moves (no Python call per move): the scene moves a block and redraws its
wires; in a bulk move (the page's ``blocks_moved`` event: an Auto Layout) each wire once, after the blocks.
Far out, the view draws the scene's ``Overview`` instead of the items (``set_overview``).
Wiring is a small state machine (``_WireDrag``): press on a port, move (the port under the cursor
shows green or red), release.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen, QTransform
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
)

from enuflow.app.gcpause import paused_gc, settle, thaw
from enuflow.app.gui import blocktypes
from enuflow.app.gui.canvas.annotations import AnnotationLayer
from enuflow.app.gui.canvas.exposed import tag_exposed_ports
from enuflow.app.gui.canvas.items import BlockItem, WireItem, curve, preview_text
from enuflow.app.gui.canvas.overview import Overview
from enuflow.app.gui.style import font
from enuflow.app.document.static_types import type_text
from enuflow.app.document.page import Link, Page


class _WireDrag:
    """The wire being drawn: where it starts and what the port under the cursor would allow."""

    def __init__(self, scene: PageScene, item: BlockItem, port: str, is_output: bool) -> None:
        self.scene = scene
        self.item = item
        self.port = port
        self.is_output = is_output
        self.start = item.port_scene_pos(port, is_output)
        self.path = QGraphicsPathItem()
        self.path.setPen(QPen(QColor("#ff9800"), 2, Qt.PenStyle.DashLine))
        self.path.setZValue(10)
        scene.addItem(self.path)
        self.target: BlockItem | None = None
        self.last: QPointF | None = None  # where the cursor is (None until it moves)
        self.check: blocktypes.LinkCheck | None = None
        # the verdict on the port under the cursor, written beside that port while dragging
        self.label = QGraphicsSimpleTextItem()
        self.label.setFont(font(9, True))
        self.label.setZValue(11)
        self.label.hide()
        self.label_bg = QGraphicsRectItem()
        self.label_bg.setZValue(10.5)
        self.label_bg.setPen(QPen(Qt.PenStyle.NoPen))
        self.label_bg.hide()
        scene.addItem(self.label_bg)
        scene.addItem(self.label)

    def move(self, pos: QPointF) -> None:
        self.last = pos
        a, b = (self.start, pos) if self.is_output else (pos, self.start)
        self.path.setPath(curve(a, b))
        hit = self.scene.port_at(pos)
        if self.target is not None and (hit is None or hit[0] is not self.target):
            self.target.highlight = None
            self.target.update()
            self.target = None
        self.check = None
        if hit is None:
            self.label.hide()
            self.label_bg.hide()
            return
        item, port, is_output = hit
        self.check = blocktypes.check_link(self.scene.page, self.item.block_id, self.port, self.is_output,
                                           item.block_id, port, is_output)
        item.highlight = (port, is_output, self.check.ok)
        item.setToolTip(self.check.reason if not self.check.ok else "")
        item.update()
        self.target = item
        self._show_verdict(item, port, is_output)

    def _show_verdict(self, item: BlockItem, port: str, is_output: bool) -> None:
        ok = self.check is not None and self.check.ok
        self.label.setText(f"{port}: ok" if ok else f"{port}: {self.check.reason if self.check else ''}")
        self.label.setBrush(QColor("#1b5e20") if ok else QColor("#b71c1c"))
        at = item.port_scene_pos(port, is_output)
        r = self.label.boundingRect()
        x = at.x() + 14 if is_output else at.x() - 14 - r.width()
        self.label.setPos(x, at.y() - r.height() - 8)
        self.label_bg.setRect(QRectF(x - 4, at.y() - r.height() - 10, r.width() + 8, r.height() + 4))
        self.label_bg.setBrush(QColor(255, 255, 255, 235))
        self.label.show()
        self.label_bg.show()

    def finish(self) -> blocktypes.LinkCheck | None:
        self.scene.removeItem(self.path)
        self.scene.removeItem(self.label)
        self.scene.removeItem(self.label_bg)
        if self.target is not None:
            self.target.highlight = None
            self.target.setToolTip("\n".join(self.target.errors))
            self.target.update()
        return self.check


#: a page of at least this many blocks, once drawn, is moved out of the cyclic collector's way (``settle``)
SETTLE_BLOCKS = 2000
#: the canvas's area at first (page units); a page larger than it makes it grow (``CanvasView.fit``)
CANVAS_AREA = QRectF(-50_000, -50_000, 100_000, 100_000)
#: a bulk move of at least this many blocks is made without Qt's item index (made afresh after)
REINDEX_MOVES = 1000


class PageScene(QGraphicsScene):
    """Draws the page; emits what a person asks for."""

    link_requested = Signal(object)        # Link
    link_refused = Signal(str)             # why
    blocks_moved = Signal(dict, dict)      # old {id: pos}, new {id: pos}
    block_opened = Signal(str)             # a block double-clicked (a composite instance is entered)
    wire_dropped = Signal(str, str, bool, QPointF)  # a wire let go on no port: from (block, port, is_output), where

    def __init__(self, page: Page, parent: Any = None) -> None:
        super().__init__(parent)
        self.page = page
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        # the canvas's area, given (the view grows it for a bigger page): without it Qt measured every item of the
        # page again whenever a view took the scene or the item index was made afresh
        self.setSceneRect(CANVAS_AREA)
        self.blocks: dict[str, BlockItem] = {}
        self.wires: dict[Link, WireItem] = {}  # the first wire of each link
        self._repeats: dict[Link, list[WireItem]] = {}  # the second and later wires of a link (list ports)
        self._loose: set[WireItem] = set()  # wires made while the overview draws the page: not scene items yet
        self._drag: _WireDrag | None = None
        self._press_pos: dict[str, tuple[float, float]] = {}
        self._results: dict[tuple[str, str], Any] = {}
        self.stale: set[str] = set()
        self.snap_step: float | None = 10.0  # blocks dragged by a person land on this grid (None: free)
        self.dragging = False
        self.annotations = AnnotationLayer(self)  # the page's frames and notes
        #: the worker's last static check: (block path, port) -> {"dtype", "shape"}
        self.static_types: dict[tuple[str, str], dict[str, Any]] = {}
        #: the instance path whose definition is shown ("" for the page): results are keyed below it
        self.path = ""
        self._stale_kept: dict[str, set[str]] = {}
        self.overview_on = False  # items paint nothing, the view draws ``overview`` (set by ``rebuild``)
        self.overview = Overview(self.blocks, self.wire_items)
        self.destroyed.connect(thaw)
        #: blocks whose results the last run took from the run before (paths: ``d1/mm``; a cached re-run)
        self.cached: set[str] = set()
        page.subscribe(self._on_page)
        self.rebuild()

    def show_page(self, page: Page, path: str = "") -> None:
        """Draw ``page`` from now on: a composite's definition entered at instance ``path``, or the page."""
        self.page.unsubscribe(self._on_page)
        self._stale_kept[self.path] = self.stale  # each level's stale results are marked again on return
        self.page = page
        self.path = path
        self.stale = self._stale_kept.pop(path, set())
        page.subscribe(self._on_page)
        self.rebuild()
        self.set_static_types(self.static_types)  # the last check's types, for the level now shown

    def refresh_instances(self) -> None:
        """Draw composite instances afresh (their definitions' exposed ports may have changed)."""
        comps = self.page.composites
        for bid, item in self.blocks.items():
            b = self.page.get(bid)
            if b is not None and b.type in comps:
                self._refresh_item(bid)

    # -- following the page -------------------------------------------------------------------------
    @paused_gc
    def rebuild(self) -> None:
        if len(self.blocks) >= SETTLE_BLOCKS:
            thaw()  # the old page's items may be garbage now
        for w in self.wire_items():
            if not w.loose:
                self.removeItem(w)
        for b in self.blocks.values():
            self.removeItem(b)
        self.wires.clear()
        self._repeats.clear()
        self._loose.clear()
        self.blocks.clear()
        # a big page is drawn by the overview until the view says otherwise (it opens fitted: far out, most likely)
        self.overview_on = len(self.page.blocks) >= SETTLE_BLOCKS
        wired: dict[str, set[str]] = {}
        for ln in self.page.links:
            if ln.src_port.endswith("]"):
                wired.setdefault(ln.src, set()).add(ln.src_port)
        for b in self.page:
            self._add_block(b, wired.get(b.id), bulk=True)
        self._add_wires()
        self._apply_results()
        self.annotations.rebuild()
        self.overview.invalidate()
        if len(self.blocks) >= SETTLE_BLOCKS:
            settle()

    def _add_block(self, block: Any, wired_out: set[str] | None = None, bulk: bool = False) -> None:
        """Draw ``block`` (``bulk``: one of a whole page drawn afresh, which says what changed once at the end)."""
        item = BlockItem(block, wired_out, self.overview_on)
        self.blocks[block.id] = item
        self.addItem(item)
        if block.id in self.stale:
            item.set_stale(True)
        if self.cached and self._path_of(block.id) in self.cached:
            item.set_cached(True)
        if not bulk:
            self.overview.invalidate()
        if getattr(self.page, "inputs", None) is not None:  # a composite's definition: exposed ports are tagged
            tag_exposed_ports(item, self.page)

    def _add_wires(self) -> None:
        """Draw every link of the page (after its blocks): most are drawn once, straight from one port to another."""
        blocks, wires, quiet = self.blocks, self.wires, self.overview_on
        for ln in self.page.links:
            if ln in wires or ln.src_port.endswith("]"):  # a repeated link, an element of a list output
                self._add_wire(ln, self.wire_count(ln) if ln in wires else 0)
                continue
            w = wires[ln] = WireItem(ln, blocks.get(ln.src), blocks.get(ln.dst), quiet, loose=quiet)
            self._place_wire(w)

    def _place_wire(self, w: WireItem) -> None:
        """Put a new wire in the scene; far out (the overview draws the page) it stays loose: no scene item
        until the items paint again (``set_overview``), so a big page opens and moves without 10,000 of them."""
        if w.loose:
            self._loose.add(w)
        else:
            self.addItem(w)

    def wire_items(self) -> list[WireItem]:
        """Every wire drawn, one per link of the page (a link repeated into a list port has one per copy)."""
        return [*self.wires.values(), *(w for ws in self._repeats.values() for w in ws)]

    def wire_count(self, ln: Link) -> int:
        return (ln in self.wires) + len(self._repeats.get(ln, ()))

    def _copies(self, ln: Link) -> list[WireItem]:
        first = self.wires.get(ln)
        return ([first] if first is not None else []) + self._repeats.get(ln, [])

    def _set_copies(self, ln: Link, items: list[WireItem]) -> None:
        self.wires.pop(ln, None)
        self._repeats.pop(ln, None)
        if items:
            self.wires[ln] = items[0]
        if len(items) > 1:
            self._repeats[ln] = items[1:]
        for k, w in enumerate(items):
            w.set_ordinal(k)

    def _add_wire(self, ln: Link, ordinal: int = 0) -> None:
        """Draw the ``ordinal``-th copy of ``ln`` (0 unless the link is repeated)."""
        src = self.blocks.get(ln.src)
        if src is not None and ln.src_port.endswith("]") and ln.src_port not in src.wired_out:
            # an element of a list output: its own dot, not the first element's
            src.wired_out.add(ln.src_port)
            self._refresh_item(ln.src)
        w = WireItem(ln, src, self.blocks.get(ln.dst), self.overview_on, loose=self.overview_on)
        self._place_wire(w)
        self.overview.invalidate()
        if ln not in self.wires:
            self.wires[ln] = w
            return
        items = self._copies(ln)
        items.insert(min(ordinal, len(items)), w)
        self._set_copies(ln, items)

    def _remove_wire(self, ln: Link, ordinal: int | None = None) -> None:
        """Remove the ``ordinal``-th copy of ``ln`` (None: every copy)."""
        items = self._copies(ln)
        gone = items if ordinal is None else items[ordinal:ordinal + 1]
        for w in gone:
            w.detach()
            if w.loose:
                self._loose.discard(w)
            else:
                self.removeItem(w)
        self.overview.invalidate()
        self._set_copies(ln, [w for w in items if w not in gone] if ordinal is not None else [])
        src = self.blocks.get(ln.src)
        if src is not None and ln.src_port in src.wired_out and \
                not any(x.link.src == ln.src and x.link.src_port == ln.src_port for x in src.wires):
            src.wired_out.discard(ln.src_port)
            self._refresh_item(ln.src)

    def _refresh_item(self, bid: str) -> None:
        item = self.blocks.get(bid)
        if item is None or bid not in self.page:
            return
        item.refresh(self.page.block(bid))
        tag_exposed_ports(item, self.page)
        for w in item.wires:
            w.adjust()
        item.update()
        self.overview.invalidate()

    def link_position(self, wire: WireItem) -> int:
        """The position in the page's link list of the link that ``wire`` draws."""
        items = self._copies(wire.link)
        return self.page.link_index(wire.link, items.index(wire) if wire in items else 0)

    def _on_page(self, event: str, d: dict[str, Any]) -> None:
        if event == "block_added":
            self._add_block(d["block"])
            self._apply_results(d["block"].id)
        elif event == "block_removed":
            item = self.blocks.pop(d["block"].id, None)
            if item is not None:
                for w in list(item.wires):
                    self._remove_wire(w.link)  # the page removed the block's links before the block
                self.removeItem(item)
                self.overview.invalidate()
        elif event == "block_moved":
            self._move_item(d["id"], d["pos"])
        elif event == "blocks_moved":
            self._move_items(d["positions"])
        elif event in ("pin_changed", "block_changed"):
            self._refresh_item(d["id"])
        elif event == "link_added":
            ln = d["link"]
            self._add_wire(ln, self.page.occurrence(ln, d["index"]) if ln in self.wires else 0)
        elif event == "link_removed":
            ln = d["link"]
            self._remove_wire(ln, self.page.occurrence(ln, d["index"]) if ln in self._repeats else 0)
        elif event.startswith("annotation_"):
            self.annotations.on_page(event, d)
        elif event == "reset":
            self.rebuild()

    def _move_item(self, bid: str, pos: tuple[float, float]) -> None:
        item = self.blocks.get(bid)
        if item is None or (item.px, item.py) == (pos[0], pos[1]):
            return
        item.place(pos[0], pos[1])
        self.overview.invalidate()
        for w in item.wires:
            w.follow()

    @paused_gc
    def _move_items(self, positions: dict[str, tuple[float, float]]) -> None:
        """Move many blocks, then redraw the wires of those that moved (each once). Many blocks move without Qt's
        index of the items, which is made afresh after (cheaper than taking each item out of it and putting it
        back: a third of the time of an Auto Layout's move of 10,000 blocks)."""
        blocks = self.blocks
        moved: set[WireItem] = set()
        big = len(positions) >= REINDEX_MOVES
        if big:
            self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        try:
            for bid, (x, y) in positions.items():
                item = blocks.get(bid)
                if item is not None and (item.px != x or item.py != y):
                    item.place(x, y)
                    moved.update(item.wires)
            self.overview.invalidate()
            for w in moved:
                w.follow()
        finally:
            if big:
                self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)

    @paused_gc
    def set_overview(self, on: bool) -> None:
        """Let the view draw the batched overview (``on``) or every item paint itself again."""
        if on == self.overview_on:
            return
        self.overview_on = on
        if not on:
            for w in self._loose:
                w.settle_in(self)
            self._loose.clear()
        for it in self.blocks.values():
            it.set_quiet(on)
        for w in self.wire_items():
            w.set_quiet(on)

    def page_rect(self) -> QRectF:
        """The rectangle of every block and wire drawn, ports included (``itemsBoundingRect`` of a page's
        items, read from the overview's cached geometry), and of its frames and notes."""
        rect = self.overview.items_rect()
        for r, _colour, _frame in self.annotations.overview():
            rect = rect.united(r)
        return rect

    def refresh_types(self) -> None:
        """Re-read the declarations of blocks whose type was not known (after the catalogue became known)."""
        changed = False
        for bid, item in self.blocks.items():
            if item.known:
                continue
            item.refresh(self.page.block(bid))
            for w in item.wires:
                w.adjust()
            changed = True
        if changed:
            self.overview.invalidate()
            self.update()

    # -- results and errors -------------------------------------------------------------------------
    def set_results(self, values: dict[tuple[str, str], Any]) -> None:
        self._results = values
        self._apply_results()

    def _apply_results(self, only: str | None = None) -> None:
        per: dict[str, dict[str, str]] = {}
        prefix = f"{self.path}/" if self.path else ""
        for (bid, port), arr in self._results.items():
            if prefix:  # inside a composite: its blocks' results are keyed by path ("d1/mm")
                if not bid.startswith(prefix):
                    continue
                bid = bid[len(prefix):]
            if only is not None and bid != only:
                continue
            try:
                per.setdefault(bid, {})[port] = preview_text(arr)
            except Exception:  # noqa: BLE001 - an odd result must not break drawing
                per.setdefault(bid, {})[port] = "?"
        items = self.blocks.items() if only is None else [(only, self.blocks[only])] if only in self.blocks else []
        for bid, item in items:
            found = per.get(bid)
            if found or item.previews:  # (a page opened without results: nothing to tell its blocks)
                item.set_previews(found or {})

    def set_stale(self, ids: set[str]) -> None:
        """Grey and tag the results of these blocks: an edit since the last run made them out of date. No blocks
        (a run ended, a page opened) clears the marks of the composites' levels not shown, too."""
        self.stale = set(ids)
        if not ids:
            self._stale_kept.clear()
        stale = self.stale
        for bid, item in self.blocks.items():
            on = bid in stale
            if on != item.stale:  # (only the blocks whose mark changes are told)
                item.set_stale(on)

    def set_cached(self, paths: set[str]) -> None:
        """Tag the blocks (paths, ``d1/mm`` inside ``d1``) whose results the last run took from the run before."""
        cached = self.cached = set(paths)
        prefix = f"{self.path}/" if self.path else ""  # (``_path_of``)
        for bid, item in self.blocks.items():
            on = (prefix + bid) in cached
            if on != item.cached:  # (only the blocks whose tag changes are told)
                item.set_cached(on)

    def _path_of(self, bid: str) -> str:
        return f"{self.path}/{bid}" if self.path else bid

    def add_stale(self, ids: set[str], path: str = "") -> None:
        """Grey the results of blocks ``ids`` of the level ``path`` ("" the page, ``d1`` inside ``d1``), shown or
        kept for when it is."""
        if path == self.path:
            if not ids <= self.stale:
                self.set_stale(self.stale | ids)
        elif ids:
            self._stale_kept[path] = self._stale_kept.get(path, set()) | ids

    def stale_paths(self) -> set[str]:
        """Every stale mark of every level, as the path results are keyed by (``d1/mm``)."""
        levels = {**self._stale_kept, self.path: self.stale}
        return {f"{p}/{b}" if p else b for p, ids in levels.items() for b in ids}

    def set_static_types(self, types: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Each wire's tooltip gives its source's static type (``f32[?,784]``) from the worker's check (kept, keyed
        by path, for the levels of composites entered later)."""
        self.static_types = types
        ports: dict[str, dict[tuple[str, bool], str]] = {bid: {} for bid in self.blocks}
        for bid in self.blocks:
            for port in self.blocks[bid].outputs:
                st = types.get((self._path_of(bid), port))
                if st:
                    ports[bid][(port, True)] = st["dtype"]
        for w in self.wire_items():
            st = types.get((self._path_of(w.link.src), w.link.src_port))
            w.set_type_text(type_text(st["dtype"], st["shape"]) if st else "")
            if st and w.link.dst in ports:
                ports[w.link.dst][(w.link.dst_port, False)] = st["dtype"]
        for bid, found in ports.items():  # ports coloured by the dtype they carry
            self.blocks[bid].set_port_dtypes(found)

    def set_errors(self, errors: dict[str, list[str]]) -> None:
        none: list[str] = []
        for bid, item in self.blocks.items():
            found = errors.get(bid, none)
            if found or item.errors:  # (most blocks of a big page had none and have none)
                item.set_errors(found)
        self.overview.invalidate_marks()

    # -- hit tests ------------------------------------------------------------------------------------
    def port_at(self, pos: QPointF) -> tuple[BlockItem, str, bool] | None:
        for it in self.items(pos):
            if isinstance(it, BlockItem):
                hit = it.port_at(it.mapFromScene(pos))
                if hit is not None:
                    return it, hit[0], hit[1]
        return None

    def block_sizes(self) -> dict[str, tuple[float, float]]:
        """Each block's (width, height) as drawn."""
        return {bid: (it.width, it.height) for bid, it in self.blocks.items()}

    def port_anchors(self) -> dict[tuple[str, str, bool], float]:
        """How far below its block's top each wired port is drawn, keyed (block, port, is_output)."""
        out: dict[tuple[str, str, bool], float] = {}
        blocks = self.blocks
        for src, src_port, dst, dst_port in self.page.links:
            it = blocks.get(src)
            y = it.out_ys.get(src_port) if it is not None else None  # (a port its block has: ``port_y``)
            if y is not None:
                out[(src, src_port, True)] = y
            it = blocks.get(dst)
            y = it.in_ys.get(dst_port) if it is not None else None
            if y is not None:
                out[(dst, dst_port, False)] = y
        return out

    def overlapping(self) -> list[tuple[str, str]]:
        """Pairs of blocks whose bodies overlap (sorted sweep on x)."""
        rects = []
        for bid, it in self.blocks.items():
            r = it.mapRectToScene(it.body_rect())
            rects.append((r.left(), r.right(), r.top(), r.bottom(), bid))
        rects.sort(key=lambda r: r[0])
        out = []
        n = len(rects)
        for i in range(n):  # plain floats and indices: a layered page has columns of hundreds of blocks
            _, right, top, bottom, a = rects[i]
            j = i + 1
            while j < n and rects[j][0] < right:
                _, _, top2, bottom2, b = rects[j]
                if top2 < bottom and top < bottom2:
                    out.append((a, b))
                j += 1
        return out

    def selected_block_ids(self) -> list[str]:
        ids = {it.block_id for it in self.selectedItems() if isinstance(it, BlockItem)}
        return [b.id for b in self.page if b.id in ids]

    def selected_link_positions(self) -> list[int]:
        """Positions in the page's link list of the selected wires (each copy of a repeated link on its own)."""
        return sorted(self.link_position(it) for it in self.selectedItems() if isinstance(it, WireItem))

    def select_blocks(self, ids: list[str]) -> None:
        self.clearSelection()
        for bid in ids:
            if bid in self.blocks:
                self.blocks[bid].setSelected(True)

    # -- gestures -----------------------------------------------------------------------------------
    def start_wire(self, item: BlockItem, port: str, is_output: bool) -> None:
        self._drag = _WireDrag(self, item, port, is_output)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            hit = self.port_at(event.scenePos())
            if hit is not None:
                self.start_wire(*hit)
                self._drag.move(event.scenePos())
                event.accept()
                return
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_pos = {bid: (it.pos().x(), it.pos().y()) for bid, it in self.blocks.items()
                               if it.isSelected()}
            self.dragging = bool(self._press_pos)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        views = self.views()
        item = self.itemAt(event.scenePos(), views[0].transform() if views else QTransform())
        while item is not None and not isinstance(item, BlockItem):
            item = item.parentItem()
        if event.button() == Qt.MouseButton.LeftButton and isinstance(item, BlockItem):
            self.block_opened.emit(item.block_id)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._drag is not None:
            self._drag.move(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)  # Qt moves the selected blocks
        if self.dragging:
            self._follow_drag()

    def _follow_drag(self) -> None:
        """The dragged blocks land on the grid (when snapping) and their wires follow."""
        snap = self.snap_step
        wires: set[WireItem] = set()
        for bid in self._press_pos:
            it = self.blocks.get(bid)
            if it is None:
                continue
            p = it.pos()
            x, y = p.x(), p.y()
            if snap:
                x, y = round(x / snap) * snap, round(y / snap) * snap
            it.place(x, y)
            wires.update(it.wires)
        for w in wires:
            w.follow()
        self.overview.invalidate()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._drag is not None:
            self.finish_wire()
            event.accept()
            return
        super().mouseReleaseEvent(event)
        self.dragging = False
        self.finish_move()

    def finish_wire(self) -> None:
        drag, self._drag = self._drag, None
        if drag is None:
            return
        check = drag.finish()
        if check is None:
            at = drag.last
            if at is not None and self.port_at(at) is None and not isinstance(self.itemAt(at, QTransform()), BlockItem):
                self.wire_dropped.emit(drag.item.block_id, drag.port, drag.is_output, at)
            return
        if check.ok and check.link is not None:
            self.link_requested.emit(check.link)
        else:
            self.link_refused.emit(check.reason)

    def finish_move(self) -> None:
        old, new = {}, {}
        for bid, pos in self._press_pos.items():
            it = self.blocks.get(bid)
            if it is None:
                continue
            now = (it.pos().x(), it.pos().y())
            if now != pos:
                old[bid], new[bid] = pos, now
        self._press_pos = {}
        if new:
            self.blocks_moved.emit(old, new)
