"""The canvas of issue 21, driven as a person does: every shipped scene opens fitted with no text under 8 px on
screen and no two blocks overlapping, before and after Run; paste and duplicate land in free space; collapse and
undo; the minimap moves the view; zoom below 50 %; context menus; and the smaller defects (trend steps, results
of the previous page, a scalar's heat map, the Data Folder menu's name, "Yes, for this page" for file blocks).

Text sizes are measured independently of the blocks' own logic: each block paints into a recording painter at the
view's zoom, and every string it draws is checked with Qt's ``QFontInfo`` pixel size times the zoom."""

from __future__ import annotations

import json
import os
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QColor, QFontInfo, QMouseEvent, QTransform
from PySide6.QtWidgets import QMessageBox, QStyleOptionGraphicsItem

from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.gui.canvas.items import BlockItem
from enuflow.app.gui.style import theme
from tests.test_gui import drop_from_palette

ROOT = Path(__file__).resolve().parent.parent
SCENES = sorted((ROOT / "scenes").glob("*.json"))
MEDIUM = ("xor.json", "linear_regression.json")
RUN_TIMEOUT_MS = 180_000


class RecordingPainter:
    """Stands in for a QPainter at zoom ``z``: keeps each string drawn with the font it was drawn in."""

    def __init__(self, z: float) -> None:
        self.transform = QTransform.fromScale(z, z)
        self.font = None
        self.texts: list[tuple[str, Any]] = []

    def worldTransform(self) -> QTransform:
        return self.transform

    def setFont(self, f: Any) -> None:
        self.font = f

    def drawText(self, *args: Any) -> None:
        self.texts.append((next(a for a in args if isinstance(a, str)), self.font))

    def drawStaticText(self, _at: Any, st: Any) -> None:
        self.texts.append((st.text(), self.font))

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


def drawn_text(item: BlockItem, z: float) -> list[tuple[str, float]]:
    """(text, height in screen pixels) of every string the block draws at zoom ``z``."""
    p = RecordingPainter(z)
    item.paint(p, QStyleOptionGraphicsItem(), None)
    return [(t, QFontInfo(f).pixelSize() * z) for t, f in p.texts]


def bodies(w) -> list[tuple[str, Any]]:
    return [(bid, it.mapRectToScene(it.body_rect())) for bid, it in w.scene.blocks.items()]


def assert_no_overlap(w, where: str) -> None:
    for (a, ra), (b, rb) in combinations(bodies(w), 2):
        assert not ra.intersects(rb), f"{where}: {a} overlaps {b}"


@pytest.fixture
def window(new_window, gui_catalogue):
    return new_window(size=(1600, 1000), load=True)


# -- every shipped scene, opened and run ---------------------------------------------------------------------
def test_every_scene_opens_readable_and_runs_without_overlap(new_window, gui_catalogue, qtbot):
    w = new_window(start_worker=True, size=(1600, 1000), load=True)
    try:
        for path in SCENES:
            assert w.open_path(str(path), ask=False), path
            qtbot.wait(20)
            z = w.view.zoom()
            shown = w.view.visible_rect()
            assert shown.contains(w.scene.itemsBoundingRect()), f"{path.name}: not the whole page"
            for bid, it in w.scene.blocks.items():
                texts = drawn_text(it, z)
                assert texts and texts[0][0], f"{path.name}: {bid} shows no name at {z:.2f}"
                if path.name in MEDIUM or z >= 0.67:
                    small = [(t, round(px, 1)) for t, px in texts if px < 8.0]
                    assert not small, f"{path.name} at {z:.2f}: {bid} draws {small}"
            assert_no_overlap(w, path.name)
            sizes = {bid: (it.width, it.height) for bid, it in w.scene.blocks.items()}
            rid = w.run_page()
            assert rid is not None
            qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.kind in ("done", "crashed")
                            and w.last_event.run_id == rid and not w.worker.busy, timeout=RUN_TIMEOUT_MS)
            assert w.last_event.kind == "done", path.name
            assert any(it.previews for it in w.scene.blocks.values()), path.name
            assert_no_overlap(w, path.name + " after Run")
            assert {bid: (it.width, it.height) for bid, it in w.scene.blocks.items()} == sizes, path.name
    finally:
        if w.worker is not None:
            w.worker.close()
            w.worker = None


# -- free space ------------------------------------------------------------------------------------------------
def test_paste_duplicate_and_drop_land_in_free_space(window):
    w = window
    a = drop_from_palette(w, "SparseFillEmptyRowsGrad", QPointF(0, 0))
    b = drop_from_palette(w, "Const", QPointF(400, 0))
    w.add_link(b, "output", a, "grad_values")
    w.select([a, b])
    clip = w.copy()
    w.paste(clip)
    w.paste(clip)
    w.select([a])
    w.duplicate()
    assert len(w.page) == 7
    assert_no_overlap(w, "paste/duplicate")
    # a drop onto a block goes next to it instead
    c = drop_from_palette(w, "Identity", w.block_item(a).mapToScene(QPointF(10, 10)))
    assert c is not None
    assert_no_overlap(w, "drop")


# -- collapse ------------------------------------------------------------------------------------------------
def test_collapse_to_title_bar_expand_makes_room_and_undo(window, tmp_path):
    w = window
    a = drop_from_palette(w, "SparseFillEmptyRowsGrad", QPointF(0, 0))
    full = w.block_item(a).height
    w.select([a])
    w.toggle_collapse()
    it = w.block_item(a)
    assert w.page.block(a).collapsed is True
    assert it.height < full / 2 and it.port_at(QPointF(0, it.height / 2)) is None
    # a block placed just under the collapsed one: expanding must not cover it
    below = drop_from_palette(w, "Const", it.mapToScene(QPointF(0, it.height + 25)))
    assert w.page.block(below).pos[1] < w.page.block(a).pos[1] + full
    w.select([a])
    w.toggle_collapse()
    assert not w.page.block(a).collapsed and w.block_item(a).height == full
    assert_no_overlap(w, "expanded")
    w.undo.undo()  # expand (and the room it made) in one step
    assert w.page.block(a).collapsed is True
    assert w.block_item(a).height < full / 2
    w.undo.undo()  # the Const
    w.undo.undo()  # collapse
    assert not w.page.block(a).collapsed and w.block_item(a).height == full
    w.undo.redo()
    path = tmp_path / "collapsed.json"
    assert w.save_to(str(path))
    doc = json.loads(path.read_text())
    assert next(b for b in doc["blocks"] if b["id"] == a)["collapsed"] is True


# -- zoom, fit, minimap, menus -----------------------------------------------------------------------------------
def test_zoom_out_below_half_and_fit_shows_the_whole_page(window, qtbot):
    w = window
    page = Page("wide")
    for i in range(40):
        page.add_block(BlockInstance(f"c{i}", "Const", (i * 400.0, (i % 3) * 200.0), {}))
    w._set_page(page, None)
    qtbot.wait(20)
    assert w.view.zoom() < 0.5
    assert w.view.visible_rect().contains(w.scene.itemsBoundingRect())
    for _ in range(10):
        w.view.zoom_by(0.8)
    assert w.view.zoom() < 0.05
    # far out, every block still shows its name, at 8 px or more on screen
    z = w.view.zoom()
    for it in list(w.scene.blocks.values())[:5]:
        assert all(px >= 8 for _t, px in drawn_text(it, 0.2))
        assert drawn_text(it, 0.2)[0][0].startswith("c")
    qtbot.keyClick(w.view, Qt.Key.Key_F)
    assert w.view.zoom() > z and w.view.visible_rect().contains(w.scene.itemsBoundingRect())
    # a page far wider than 100,000 units (a big model) is still shown whole
    huge = Page("huge")
    for i in range(40):
        huge.add_block(BlockInstance(f"h{i}", "Const", (i * 4000.0, 0.0), {}))
    w._set_page(huge, None)
    qtbot.wait(20)
    assert w.view.visible_rect().contains(w.scene.itemsBoundingRect())


def test_minimap_click_and_drag_move_the_view(window, qtbot):
    w = window
    page = Page("wide")
    for i in range(30):
        page.add_block(BlockInstance(f"c{i}", "Const", (i * 400.0, 0.0), {}))
    w._set_page(page, None)
    qtbot.wait(20)
    w.view.resetTransform()  # 100 %: only the first blocks in view
    w.view.centerOn(0, 0)
    mm = w.view.minimap
    assert mm.isVisible()
    target = w.scene.blocks["c25"].sceneBoundingRect().center()
    at = mm.to_map(target)
    qtbot.mouseClick(mm, Qt.MouseButton.LeftButton, pos=at.toPoint())
    assert w.view.visible_rect().contains(target)
    back = mm.to_map(w.scene.blocks["c2"].sceneBoundingRect().center())
    ev = QMouseEvent(QEvent.Type.MouseMove, back, mm.mapToGlobal(back), Qt.MouseButton.NoButton,
                     Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    mm.mouseMoveEvent(ev)
    assert w.view.visible_rect().contains(w.scene.blocks["c2"].sceneBoundingRect().center())
    w.minimap_action.trigger()
    assert not mm.isVisible()


def test_minimap_follows_a_bulk_move_and_notes(window, qtbot):
    """The minimap is told of edits by the scene (not by Qt's ``changed`` signal): an Auto Layout's one bulk move
    and a note added far away both reach it."""
    from enuflow.app.gui.commands import MoveCommand

    w = window
    page = Page("few")
    for i in range(3):
        page.add_block(BlockInstance(f"c{i}", "Const", (i * 400.0, 0.0), {}))
    w._set_page(page, None)
    qtbot.wait(20)
    mm = w.view.minimap
    mm.reread()
    assert not mm._dirty and mm._page.bottom() < 1000
    w.undo.push(MoveCommand(w.page, {"c2": (800.0, 0.0), "c1": (400.0, 0.0)},
                            {"c2": (800.0, 3000.0), "c1": (400.0, -2000.0)}))
    qtbot.waitUntil(lambda: mm._dirty, timeout=2000)
    mm.reread()
    assert mm._page.bottom() > 3000 and mm._page.top() <= -2000
    w.undo.undo()
    qtbot.waitUntil(lambda: mm._dirty, timeout=2000)
    mm.reread()
    assert mm._page.bottom() < 1000
    w.add_note(QPointF(0, 6000), "far")
    qtbot.waitUntil(lambda: mm._dirty, timeout=2000)
    mm.reread()
    assert any(r.top() >= 5000 for r, _c, is_frame in mm._annotations if not is_frame)


def test_blocks_found_where_a_bulk_move_put_them(window, qtbot):
    """A move of many blocks (made without Qt's item index, rebuilt after): clicks find each block at its new place
    and nothing at its old one."""
    from enuflow.app.gui.canvas.scene import REINDEX_MOVES
    from enuflow.app.gui.commands import MoveCommand

    w = window
    n = REINDEX_MOVES + 10
    page = Page("many")
    for i in range(n):
        page.add_block(BlockInstance(f"c{i}", "Const", ((i % 40) * 300.0, (i // 40) * 200.0), {}))
    w._set_page(page, None)
    qtbot.wait(20)
    old = {b.id: b.pos for b in w.page}
    new = {bid: (x + 100_000.0, y + 50_000.0) for bid, (x, y) in old.items()}
    w.undo.push(MoveCommand(w.page, old, new))

    def block_at(x: float, y: float) -> str | None:
        hit = [it for it in w.scene.items(QPointF(x, y)) if isinstance(it, BlockItem)]
        return hit[0].block_id if hit else None

    for bid in ("c0", f"c{n // 2}", f"c{n - 1}"):
        (ox, oy), (nx, ny) = old[bid], new[bid]
        assert block_at(nx + 10, ny + 10) == bid
        assert block_at(ox + 10, oy + 10) is None
    w.undo.undo()
    assert block_at(old["c7"][0] + 10, old["c7"][1] + 10) == "c7"


def test_context_menus_on_canvas_block_and_wire(window):
    w = window
    a = drop_from_palette(w, "Const", QPointF(0, 0))
    b = drop_from_palette(w, "Identity", QPointF(400, 0))
    w.add_link(a, "output", b, "input")

    def texts(menu):
        return [x.text().replace("&", "") for x in menu.actions() if not x.isSeparator()]

    canvas = w.canvas_menu(QPointF(-3000, -3000))
    assert {"Paste", "Add Block...", "Fit Page", "Auto Layout"} <= set(texts(canvas))
    block = w.canvas_menu(w.block_item(a).mapToScene(QPointF(30, 10)))
    assert {"Copy", "Duplicate", "Delete", "Collapse", "Help"} <= set(texts(block))
    next(x for x in block.actions() if x.text().replace("&", "") == "Collapse").trigger()
    assert w.page.block(a).collapsed is True
    wire = next(iter(w.scene.wires.values()))
    menu = w.canvas_menu(wire.path().pointAtPercent(0.5))
    assert texts(menu) == ["Delete"]
    menu.actions()[0].trigger()
    assert not w.page.links


# -- smaller defects -------------------------------------------------------------------------------------------
def test_trend_counts_real_steps_when_history_was_cut(window):
    """The worker keeps the latest steps only: 200 values ending at step 22,818 are steps 22,619 to 22,818."""
    dock = window.results
    vals = list(np.linspace(1.0, 0.1, 200))
    dock.set_results({("s", "cost"): np.float32(0.1)}, {("s", "cost"): vals}, last_step=22_818)
    dock.show_block("s")
    dock._show_trend("s.cost")
    x, y = dock.trend.shown()
    assert x[0] == 22_619 and x[-1] == 22_818 and len(y) == 200
    # live steps as reported (the worker sends only some steps)
    dock.start_live(22_818)
    dock.add_step({("s", "cost"): 0.05}, 22_900)
    x, _ = dock.trend.shown()
    assert x[-1] == 22_900 and x[-2] == 22_818


def test_results_of_the_previous_page_are_gone_after_opening_another(window, tmp_path):
    w = window
    dock = w.results
    dock.set_results({("m", "value"): np.arange(400.0).reshape(20, 20)}, {("m", "value"): [5.0, 6.0, 7.0]})
    dock.show_block("m")
    dock._show_trend("m.value")
    assert dock.heat.plot.viewRange()[0][1] > 10
    w.new_page()
    assert dock.block_id is None and not dock.values
    assert dock.heat.plot.viewRange()[0][1] <= 1.0 + 1e-6
    x, _ = dock.trend.shown()
    assert len(x) == 0


def test_scalar_has_no_empty_heat_map_tab(window):
    dock = window.results
    dock.set_results({("k", "v"): np.float32(3.5), ("m", "v"): np.ones((3, 3))}, {})
    dock.show_block("k")
    assert not dock.tabs.isTabVisible(dock.tabs.indexOf(dock.heat))
    assert "3.5" in dock.table_model.data(dock.table_model.index(0, 0))
    dock.show_block("m")
    assert dock.tabs.isTabVisible(dock.tabs.indexOf(dock.heat))


def test_data_folder_warning_names_the_real_menu(window):
    from enuflow.app.document import data_folder

    src = Path(data_folder.__file__).read_text(encoding="utf-8")
    assert "Page > Data Folder" not in src and "File > Data Folder" in src
    file_menu = next(m for m in window.menuBar().actions() if m.text().replace("&", "") == "File").menu()
    assert "Data Folder..." in [a.text().replace("&", "") for a in file_menu.actions()]


def test_file_blocks_asked_once_with_yes_for_this_page(window):
    w = window
    asked: list[str] = []
    answer = [QMessageBox.StandardButton.YesToAll]

    def prompt(title, text, buttons):
        asked.append(title)
        assert buttons & QMessageBox.StandardButton.YesToAll
        return answer[0]

    w.prompt = prompt
    assert w.allow_io(["reader"]) is True
    assert w.allow_io(["reader"]) is True and len(asked) == 1  # remembered for this page
    answer[0] = QMessageBox.StandardButton.No
    assert w.allow_io(["reader", "writer"]) is False and len(asked) == 2  # a new file block: asked again
    w.new_page()  # another page: asked again
    answer[0] = QMessageBox.StandardButton.Yes
    assert w.allow_io(["reader"]) is True and len(asked) == 3
    assert w.allow_io(["reader"]) is True and len(asked) == 4  # "Yes" is for one run only


def test_a_longer_label_moves_the_covered_block_down_in_one_undo_step(window):
    w = window
    a = drop_from_palette(w, "Const", QPointF(0, 0))
    it = w.block_item(a)
    b = drop_from_palette(w, "Const", QPointF(it.width + 60, 0))
    assert w.page.block(b).pos[1] < it.height  # beside it, not below
    pos_b = tuple(w.page.block(b).pos)
    w._commit_field(a, "label", "a label long enough to reach the next block and beyond it")
    assert w.block_item(a).width > pos_b[0]
    assert_no_overlap(w, "longer label")
    w.undo.undo()
    assert w.page.block(a).label is None and tuple(w.page.block(b).pos) == pos_b


def test_a_fitted_page_stays_whole_when_the_window_shrinks_until_the_person_zooms(window, qtbot):
    """A page opens fitted before the window's docks settle: the fit follows the view's size (the right-most
    block was cut at the edge under X11) until the person zooms or pans."""
    w = window
    page = Page("wide")
    for i in range(12):
        page.add_block(BlockInstance(f"c{i}", "Const", (i * 300.0, (i % 2) * 150.0), {}))
    w._set_page(page, None)
    qtbot.wait(20)
    w.resize(900, 700)
    qtbot.waitUntil(lambda: w.view.viewport().width() < 800)
    qtbot.wait(20)
    assert w.view.visible_rect().contains(w.scene.itemsBoundingRect())
    w.view.zoom_by(1.5)  # the person zooms: a resize no longer changes what they chose
    z, narrow = w.view.zoom(), w.view.viewport().width()
    w.resize(1400, 900)
    qtbot.waitUntil(lambda: w.view.viewport().width() > narrow)
    assert w.view.zoom() == pytest.approx(z)


# -- a big page: bulk moves, the far-out overview ------------------------------------------------------------
def test_ctrl_l_on_a_3000_block_page_moves_every_wire_draws_it_far_out_and_undoes(window, qtbot):
    """Auto Layout moves 3,000 blocks in one bulk edit: afterwards every wire starts and ends at its ports (read
    from the blocks' positions), no two blocks overlap, Fit shows every item Qt knows of, the far-out picture is
    not blank, and one undo puts every block and wire back."""
    import random

    from PySide6.QtGui import QImage, QPainter

    w = window
    rng = random.Random(5)
    page = Page("big")
    n = 3000
    for i in range(n):
        page.add_block(BlockInstance(f"b{i}", "Identity", (250.0 * (i % 60), 140.0 * (i // 60)), {}))
    for i in range(1, n):
        page.add_link(Link(f"b{rng.randrange(max(0, i - 6), i)}", "output", f"b{i}", "input"))
    w._set_page(page, None)
    qtbot.wait(20)

    def wires_at_ports() -> None:
        for wire in w.scene.wire_items():
            ln = wire.link
            a = w.block_item(ln.src).port_scene_pos(ln.src_port, True)
            b = w.block_item(ln.dst).port_scene_pos(ln.dst_port, False)
            path = wire.path()
            assert path.pointAtPercent(0) == a and path.pointAtPercent(1) == b, ln

    before = {bid: it.pos() for bid, it in w.scene.blocks.items()}
    w.auto_layout()
    assert any(w.page.block(b).pos != (p.x(), p.y()) for b, p in before.items())
    for bid, it in w.scene.blocks.items():
        assert (it.pos().x(), it.pos().y()) == w.page.block(bid).pos
    wires_at_ports()
    rects = sorted((r.left(), r.right(), r.top(), r.bottom()) for r in (it.mapRectToScene(it.body_rect())
                                                                         for it in w.scene.blocks.values()))
    for i, (_l, right, top, bottom) in enumerate(rects):
        for l2, _r2, t2, b2 in rects[i + 1:]:
            if l2 >= right:
                break
            assert not (t2 < bottom and top < b2)
    shown = w.view.visible_rect()
    assert shown.contains(w.scene.itemsBoundingRect())
    assert w.scene.overview_on  # this far out the view draws the page in one batch
    img = QImage(w.view.viewport().size(), QImage.Format.Format_RGB32)
    painter = QPainter(img)
    w.view.render(painter)
    painter.end()
    canvas = img.pixel(2, 2)
    colours = {img.pixel(x, y) for x in range(0, img.width(), 3) for y in range(0, img.height(), 3)}
    header = w.block_item("b0").colour.rgb()  # the boxes in their category's colour, and grey wires: not blank
    assert header in colours and any(c not in (canvas, header) for c in colours)
    w.undo.undo()
    for bid, it in w.scene.blocks.items():
        assert it.pos() == before[bid]
    wires_at_ports()


def test_a_big_page_far_out_draws_its_wires_and_zoomed_in_they_can_be_picked_and_deleted(window, qtbot, tmp_path):
    """A 2,500-block page opened far out: its wires are drawn (grey lines between the boxes) but, that far out, a
    press where a wire runs finds no wire; links added and removed there follow the page. Zoomed in to 100 %, a
    press on a wire's middle finds that wire, and selecting it and pressing Delete removes its link."""
    from PySide6.QtGui import QImage, QPainter

    from enuflow.app.gui.canvas.items import WireItem

    w = window
    n = 2500
    doc = {"format": "enuflow.page", "version": 1, "name": "chain",
           "blocks": [{"id": f"b{i}", "type": "Identity", "pos": [250 * (i % 125), 140 * (i // 125)]}
                      for i in range(n)],
           "links": [{"from": [f"b{i - 1}", "output"], "to": [f"b{i}", "input"]} for i in range(1, n)]}
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert w.open_path(str(path), ask=False)
    qtbot.wait(20)
    assert w.view.zoom() < 0.05  # opened fitted, far out

    def wires_at(wire: Any) -> list[Any]:
        ax, ay, bx, by = wire.ends
        return [it for it in w.scene.items(QPointF((ax + bx) / 2, (ay + by) / 2)) if isinstance(it, WireItem)]

    def grey_pixels() -> int:
        img = QImage(w.view.viewport().size(), QImage.Format.Format_RGB32)
        painter = QPainter(img)
        w.view.render(painter)
        painter.end()
        wire = QColor(theme().wire).rgb()
        return sum(img.pixel(x, y) == wire for x in range(img.width()) for y in range(0, img.height(), 2))

    assert grey_pixels() > 100  # the wires are drawn far out
    first = w.scene.wires[Link("b0", "output", "b1", "input")]
    assert wires_at(first) == []  # but a press there picks no wire
    w.page.remove_link(Link("b0", "output", "b1", "input"))
    w.page.add_link(Link("b0", "output", "b2", "input"))
    assert len(w.scene.wire_items()) == len(w.page.links) == n - 1
    w.view.resetTransform()
    w.view.centerOn(w.block_item("b1"))
    qtbot.wait(20)
    w.view.viewport().repaint()
    assert not w.scene.overview_on
    assert all(x.link != first.link for x in wires_at(first))  # the removed link's wire is gone
    added = w.scene.wires[Link("b0", "output", "b2", "input")]
    kept = w.scene.wires[Link("b1", "output", "b2", "input")]
    assert kept in wires_at(kept) and added in wires_at(added)
    w.scene.clearSelection()
    kept.setSelected(True)
    w.delete_selection()
    assert Link("b1", "output", "b2", "input") not in w.page.links and len(w.page.links) == n - 2
    w.undo.undo()
    assert Link("b1", "output", "b2", "input") in w.page.links


def test_a_control_link_is_drawn_dashed_and_says_what_it_orders(window, tmp_path):
    doc = {"format": "enuflow.page", "version": 1, "name": "ordered",
           "blocks": [{"id": "first", "type": "Const", "pos": [0, 0], "pins": {"val": 1.0}},
                      {"id": "then", "type": "Const", "pos": [300, 0], "pins": {"val": 2.0}}],
           "links": [{"from": ["first", "^"], "to": ["then", "^"]}]}
    path = tmp_path / "ordered.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert window.open_path(str(path), ask=False)
    (wire,) = window.scene.wire_items()
    assert wire.link.src_port == "^" and wire.pen(1.0).style() == Qt.PenStyle.DashLine
    assert wire.tip() == "control: then runs after first"
    a, b = window.block_item("first"), window.block_item("then")
    ax, ay, bx, by = wire.ends
    assert ax == a.px + a.width and bx == b.px  # from the reader's right side to the waiting block's left
    assert a.py <= ay <= a.py + a.height and b.py <= by <= b.py + b.height


def test_wires_are_cached_as_pictures_unless_long_and_follow_a_move(window):
    """A wire is cached as a picture (panning blits it) unless it is about a screen long (drawn afresh): set when
    it is made and again when a move changes its length."""
    from PySide6.QtWidgets import QGraphicsItem

    from enuflow.app.gui.canvas.items import LONG_WIRE, WireItem

    cached, plain = QGraphicsItem.CacheMode.DeviceCoordinateCache, QGraphicsItem.CacheMode.NoCache
    page = Page("p")
    page.add_block(BlockInstance("a", "Const", (0.0, 0.0), {"val": "1"}))
    page.add_block(BlockInstance("b", "Identity", (300.0, 0.0), {}))
    page.add_block(BlockInstance("far", "Identity", (LONG_WIRE + 600.0, 0.0), {}))
    page.add_link(Link("a", "output", "b", "input"))
    page.add_link(Link("a", "output", "far", "input"))
    window._set_page(page, None)
    near, far = (window.scene.wires[ln] for ln in page.links)
    assert near.cacheMode() == cached and far.cacheMode() == plain
    window.page.move_blocks({"far": (400.0, 200.0)})
    assert far.cacheMode() == cached
    window.page.move_blocks({"b": (LONG_WIRE + 900.0, 0.0)})
    assert near.cacheMode() == plain
    assert WireItem(page.links[0], None, None).cacheMode() == cached  # a wire with no ends yet
