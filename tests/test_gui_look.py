"""What a person sees on the canvas (issue 9): every example scene and imported enuSpace page opens fitted
(the whole page) with full labels and no overlapping blocks; Ctrl+L lays pages out without overlaps and with fewer wire
crossings than a plain column layout; readable sizes; title contrast (WCAG AA); grid, snapping, hover,
themes; the quick search stays inside the window. Checked on the scene items, against independent
measurements (Qt's font metrics, the WCAG formula, segment intersection)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from itertools import combinations
from pathlib import Path

import networkx as nx
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QGuiApplication, QImage, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QGraphicsSceneHoverEvent

from enuflow.app.gui import style
from enuflow.app.gui.canvas import items
from enuflow.app.gui.canvas.items import BlockItem
from enuflow.app.gui.window import MainWindow
from tests.test_gui import _mouse, drop_from_palette

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from fixtures_enuspace import EnuPage, basic_add, out_pin, write_utf16  # noqa: E402


@pytest.fixture
def window(new_window, gui_catalogue):
    return new_window(size=(1400, 860), load=True)


def gradient_page() -> EnuPage:
    """An enuSpace training page drawn tightly (enuSpace's blocks are smaller than ours)."""
    pg = EnuPage()
    pg.block("ID_X", "Const", (60, 60), val=("1,2,3,4", "double", "[4]"), output=out_pin())
    pg.block("ID_Y", "Const", (60, 110), val=("3,5,7,9", "double", "[4]"), output=out_pin())
    pg.block("ID_W", "Variable", (60, 160), initvalues=("0.5", "double", ""), ref=out_pin("ref"))
    pg.block("ID_MUL", "Mul", (160, 80), x="", y="", z=out_pin("z"))
    pg.block("ID_SUB", "Sub", (220, 100), x="", y="", z=out_pin("z"))
    pg.block("ID_SQ", "Square", (280, 100), x="", y=out_pin("y"))
    pg.block("ID_S", "ClientSession", (340, 100), device="/cpu:0", fetch_outputs="", run_outputs="",
             SHOW_DEBUG=("FALSE", "bool"), INFINITE_LOOP=("FALSE", "bool"))
    pg.link("ID_X", "output", "ID_MUL", "x")
    pg.link("ID_W", "ref", "ID_MUL", "y")
    pg.link("ID_MUL", "z", "ID_SUB", "x")
    pg.link("ID_Y", "output", "ID_SUB", "y")
    pg.link("ID_SUB", "z", "ID_SQ", "x")
    pg.link("ID_SQ", "y", "ID_S", "fetch_outputs")
    return pg


def pages(tmp: Path) -> list[Path]:
    out = sorted((ROOT / "scenes").glob("*.json"))
    for name, pg in (("basic_add", basic_add()), ("gradient", gradient_page())):
        out.append(write_utf16(tmp / f"{name}.svg", pg.svg(4)))
        out.append(write_utf16(tmp / f"{name}_3.svg", pg.svg(3)))
        (tmp / f"{name}.json").write_text(pg.json(), encoding="utf-8")
        out.append(tmp / f"{name}.json")
    return out


def body(item: BlockItem):
    return item.mapRectToScene(item.body_rect())


def check_readable(w: MainWindow, where: str) -> None:
    """No overlaps; every block's full label, type and port labels fit in it, drawn at full detail."""
    blocks = list(w.scene.blocks.values())
    assert blocks, where
    for a, b in combinations(blocks, 2):
        assert not body(a).intersects(body(b)), f"{where}: {a.block_id} overlaps {b.block_id}"
    title_font, port_font = QFont(), QFont()
    title_font.setPointSize(items.TITLE_PT)
    title_font.setBold(True)
    port_font.setPointSize(items.PORT_PT)
    fm_t, fm_p = QFontMetricsF(title_font), QFontMetricsF(port_font)
    for it in blocks:
        blk = w.page.block(it.block_id)
        assert it.title == (blk.label or blk.id), f"{where}: {it.block_id} title cut to {it.title!r}"
        assert fm_t.horizontalAdvance(it.title) + 20 <= it.width, f"{where}: {it.block_id} title does not fit"
        w_in = max((fm_p.horizontalAdvance(n) for n in it.inputs), default=0)
        w_out = max((fm_p.horizontalAdvance(n) for n in it.outputs), default=0)
        assert w_in + w_out + 2 * items.PORT_R + 10 <= it.width, f"{where}: {it.block_id} port labels collide"
    # the whole page is shown (issue 21: no zoom floor; how big the text is drawn: tests/test_gui_canvas.py)
    shown = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    rect = w.scene.itemsBoundingRect()
    assert shown.contains(rect), f"{where}: not fitted"


def test_every_scene_and_import_opens_readable(window, tmp_path, qtbot):
    for path in pages(tmp_path):
        assert window.open_path(str(path), ask=False), path
        qtbot.wait(10)
        check_readable(window, path.name)


def _independent_crossings(page, pos, sizes) -> int:
    segs = []
    for ln in page.links:
        (ax, ay), (bx, by) = pos[ln.src], pos[ln.dst]
        segs.append(((ax + sizes[ln.src][0], ay + sizes[ln.src][1] / 2), (bx, by + sizes[ln.dst][1] / 2), ln))

    def side(p, q, r):
        v = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
        return (v > 0) - (v < 0)

    n = 0
    for (p1, p2, l1), (q1, q2, l2) in combinations(segs, 2):
        if {l1.src, l1.dst} & {l2.src, l2.dst}:
            continue
        if side(p1, p2, q1) * side(p1, p2, q2) < 0 and side(q1, q2, p1) * side(q1, q2, p2) < 0:
            n += 1
    return n


def _lines_across_blocks(page, pos, sizes) -> int:
    n = 0
    for ln in page.links:
        (ax, ay), (bx, by) = pos[ln.src], pos[ln.dst]
        p = (ax + sizes[ln.src][0], ay + sizes[ln.src][1] / 2)
        q = (bx, by + sizes[ln.dst][1] / 2)
        for bid, (x, y) in pos.items():
            if bid in (ln.src, ln.dst):
                continue
            w, h = sizes[bid]
            if any(x < p[0] + (q[0] - p[0]) * k / 50 < x + w and y < p[1] + (q[1] - p[1]) * k / 50 < y + h
                   for k in range(51)):
                n += 1
    return n


def _clutter(page, pos, sizes) -> int:
    return _independent_crossings(page, pos, sizes) + _lines_across_blocks(page, pos, sizes)


def test_ctrl_l_lays_out_without_overlaps_and_fewer_crossings(window, tmp_path, qtbot):
    for path in pages(tmp_path)[:4] + [tmp_path / "gradient.json"]:
        window.open_path(str(path), ask=False)
        page = window.page
        sizes = {bid: (it.width, it.height) for bid, it in window.scene.blocks.items()}
        # the plain layout: networkx's generations as columns, blocks stacked in page order
        g = nx.DiGraph()
        g.add_nodes_from(b.id for b in page)
        g.add_edges_from((ln.src, ln.dst) for ln in page.links)
        order = {b.id: i for i, b in enumerate(page)}
        plain = {}
        for c, gen in enumerate(nx.topological_generations(g)):
            y = 0.0
            for bid in sorted(gen, key=order.get):
                plain[bid] = (c * 400.0, y)
                y += sizes[bid][1] + 30
        window.view.setFocus()
        qtbot.keyClick(window.view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
        pos = {b.id: b.pos for b in page}
        assert pos != {bid: tuple(p) for bid, p in plain.items()}
        for a, b in combinations(window.scene.blocks.values(), 2):
            assert not body(a).intersects(body(b)), f"{path.name}: {a.block_id} overlaps {b.block_id}"
        for ln in page.links:  # left to right by dependency, with room for the wire
            assert pos[ln.dst][0] >= pos[ln.src][0] + sizes[ln.src][0] + 40, (path.name, ln)
        # clutter: wires crossing wires, plus wires drawn straight across a block (worse: they hide it)
        assert _clutter(page, pos, sizes) <= _clutter(page, plain, sizes), path.name
        window.undo.undo()


def _wcag(c: QColor) -> float:
    def ch(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * ch(c.red()) + 0.7152 * ch(c.green()) + 0.0722 * ch(c.blue())


def _contrast(a: QColor, b: QColor) -> float:
    """WCAG's contrast ratio of two colours (AA for text: at least 4.5)."""
    hi, lo = sorted((_wcag(a), _wcag(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


#: (window, list background) of a dark and of a light system palette
THEMES = (("#2b2b2b", "#1e1e1e"), ("#efefef", "#ffffff"))


@contextlib.contextmanager
def _system_palette(qtbot):
    """Gives ``use(window_bg, base)``, which sets the system palette's window and list colours as a desktop theme
    would; the palette the test started with is back afterwards."""
    app = QApplication.instance()
    old = QGuiApplication.palette()

    def use(window_bg: str, base: str) -> None:
        pal = QPalette(old)
        pal.setColor(QPalette.ColorRole.Window, QColor(window_bg))
        pal.setColor(QPalette.ColorRole.Base, QColor(base))
        app.setPalette(pal)
        qtbot.wait(200)  # the widgets repaint and recolour on the next turns of the event loop

    try:
        yield use
    finally:
        app.setPalette(old)
        style.theme_changed()


def test_title_contrast_is_wcag_aa_for_every_category(window):
    cats = {e.category for e in window.palette.entries}
    cats |= {k for k in json.loads((ROOT / "assets" / "categories.json").read_text()) if not k.startswith("_")}
    cats.add("unknown")
    assert len(cats) > 20
    for c in cats:
        bg, fg = style.header_colours(c)
        assert _contrast(bg, fg) >= 4.5, c


def test_sizes_dots_and_fonts_at_100_percent(window):
    bid = drop_from_palette(window, "SparseFillEmptyRowsGrad", QPointF(0, 0))
    it = window.block_item(bid)
    assert 2 * items.PORT_R >= 10
    assert min(items.TITLE_PT, items.SUB_PT, items.PORT_PT, items.PREVIEW_PT) >= 9
    # a press 9 px beside a port's centre still takes it
    c = it.port_local(it.inputs[1], False)
    assert it.port_at(QPointF(c.x() - 9, c.y() + 4)) == (it.inputs[1], False)
    # no unexplained black squares: a block rendered at 100 % has no near-black pixels
    img = QImage(int(it.boundingRect().width()) + 4, int(it.boundingRect().height()) + 4, QImage.Format.Format_RGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    p.translate(-it.boundingRect().left() + 2, -it.boundingRect().top() + 2)
    window.scene.render(p, img.rect(), it.sceneBoundingRect().adjusted(-2, -2, 2, 2))
    p.end()
    dark = sum(1 for x in range(img.width()) for y in range(img.height()) if QColor(img.pixel(x, y)).lightness() < 25)
    assert dark < 40, dark  # text antialiasing only, no filled squares


def test_wires_beneath_blocks_and_highlighted_on_hover(window):
    w = window
    a = drop_from_palette(w, "Const", QPointF(0, 0))
    b = drop_from_palette(w, "Identity", QPointF(400, 0))
    w.add_link(a, "output", b, "input")
    wire = next(iter(w.scene.wires.values()))
    assert wire.zValue() < w.block_item(a).zValue()
    mid = wire.path().pointAtPercent(0.5)
    ev = QGraphicsSceneHoverEvent(QEvent.Type.GraphicsSceneHoverEnter)
    ev.setScenePos(mid)
    ev.setPos(mid)
    w.scene.sendEvent(wire, ev)
    assert wire.hot and ("output", True) in w.block_item(a).hot_ports and ("input", False) in w.block_item(b).hot_ports
    ev = QGraphicsSceneHoverEvent(QEvent.Type.GraphicsSceneHoverLeave)
    w.scene.sendEvent(wire, ev)
    assert not wire.hot and not w.block_item(a).hot_ports


def test_grid_and_snapping(window):
    w = window
    w.view.resetTransform()
    img = QImage(200, 200, QImage.Format.Format_RGB32)
    p = QPainter(img)
    w.view.drawBackground(p, QRectF(0, 0, 200, 200))  # at 100 %: one image pixel a page unit
    p.end()
    colours = {img.pixel(x, 110) for x in range(200)}
    assert len(colours) >= 2  # lines on the canvas colour
    bid = drop_from_palette(w, "Const", QPointF(0, 0))
    it = w.block_item(bid)
    start = it.mapToScene(QPointF(it.width / 2, 8))
    left = Qt.MouseButton.LeftButton
    _mouse(w, QEvent.Type.MouseButtonPress, start, left)
    _mouse(w, QEvent.Type.MouseMove, start + QPointF(13, 7), left)
    _mouse(w, QEvent.Type.MouseMove, start + QPointF(27, 14), left)
    _mouse(w, QEvent.Type.MouseButtonRelease, start + QPointF(27, 14), Qt.MouseButton.NoButton)
    x, y = w.page.block(bid).pos
    assert x % 10 == 0 and y % 10 == 0 and (x, y) != (-20, -10)
    w.snap_action.trigger()  # snapping off: the block goes where it is dropped
    start = it.mapToScene(QPointF(it.width / 2, 8))
    before = w.page.block(bid).pos
    _mouse(w, QEvent.Type.MouseButtonPress, start, left)
    _mouse(w, QEvent.Type.MouseMove, start + QPointF(13, 7), left)
    _mouse(w, QEvent.Type.MouseButtonRelease, start + QPointF(13, 7), Qt.MouseButton.NoButton)
    after = w.page.block(bid).pos
    assert (after[0] - before[0], after[1] - before[1]) == pytest.approx((13, 7), abs=0.6)


def test_dark_and_light_theme_follow_the_system_palette(window, qtbot):
    app = QApplication.instance()
    old = QGuiApplication.palette()
    try:
        dark = QPalette(old)
        dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
        dark.setColor(QPalette.ColorRole.Base, QColor("#181818"))
        app.setPalette(dark)
        qtbot.wait(20)
        assert style.theme().dark and style.theme().canvas.lightness() < 60
        assert style.contrast(style.theme().text, style.theme().body) >= 4.5
        light = QPalette(old)
        light.setColor(QPalette.ColorRole.Window, QColor("#f0f0f0"))
        app.setPalette(light)
        qtbot.wait(20)
        assert not style.theme().dark and style.theme().canvas.lightness() > 200
        assert style.contrast(style.theme().text, style.theme().body) >= 4.5
    finally:
        app.setPalette(old)
        style.theme_changed()


def test_quick_search_stays_inside_the_window(window):
    w = window
    corner = w.view.mapToScene(w.view.viewport().rect().bottomRight())
    qs = w.quick_search(corner)
    top_left = w.mapToGlobal(w.rect().topLeft())
    bottom_right = w.mapToGlobal(w.rect().bottomRight())
    g = qs.frameGeometry()
    assert g.left() >= top_left.x() and g.top() >= top_left.y()
    assert g.right() <= bottom_right.x() + 1 and g.bottom() <= bottom_right.y() + 1
    qs.close()


def wires_through_blocks(w: MainWindow) -> list[tuple[str, str]]:
    """(wire, block) pairs where a drawn wire runs across the body of a block it does not join."""
    hits = []
    for wire in w.scene.wire_items():
        path = wire.path()
        for bid, it in w.scene.blocks.items():
            if bid in (wire.link.src, wire.link.dst):
                continue
            r = body(it).adjusted(2, 2, -2, -2)
            if any(r.contains(path.pointAtPercent(k / 200)) for k in range(201)):
                hits.append((str(wire.link), bid))
    return hits


def test_shipped_scenes_and_ctrl_l_keep_wires_off_blocks(window, qtbot):
    """Each example opens (as shipped) with no wire drawn across a block, and Ctrl+L keeps it so: long
    wires get a corridor through the layers they pass."""
    for path in sorted((ROOT / "scenes").glob("*.json")):
        assert window.open_path(str(path), ask=False), path
        qtbot.wait(10)
        check_readable(window, path.name)
        assert wires_through_blocks(window) == [], path.name
        window.view.setFocus()
        qtbot.keyClick(window.view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
        assert not window.scene.overlapping(), path.name


def test_ctrl_l_keeps_wires_off_blocks(window, qtbot):
    for path in sorted((ROOT / "scenes").glob("*.json")):
        assert window.open_path(str(path), ask=False), path
        window.view.setFocus()
        qtbot.keyClick(window.view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
        assert wires_through_blocks(window) == [], path.name


def test_palette_category_names_readable_in_both_themes(window, qtbot):
    """The palette writes each category in its colour; in a dark and in a light system palette every
    category name keeps WCAG AA contrast against the list's background (dark blues on a dark list and
    yellows on a white one did not)."""
    tree = window.palette.tree
    with _system_palette(qtbot) as use:
        for window_bg, base in THEMES:
            use(window_bg, base)
            groups = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
            assert len(groups) > 20

            def recoloured() -> bool:  # the palette follows the theme a few turns of the event loop later
                bg = tree.palette().color(QPalette.ColorRole.Base)
                return bg == QColor(base) and all(_contrast(g.foreground(0).color(), bg) >= 4.5 for g in groups)

            try:
                qtbot.waitUntil(recoloured, timeout=3000)
            except Exception:  # noqa: BLE001 - the asserts below say which name is not readable
                pass
            bg = tree.palette().color(QPalette.ColorRole.Base)
            assert bg == QColor(base)
            for g in groups:
                fg = g.foreground(0).color()
                assert _contrast(fg, bg) >= 4.5, (base, g.text(0), fg.name())


def test_block_header_is_square_where_it_meets_the_body(window):
    """The header is rounded on top only: all along its bottom edge, corners included, it is the header's
    colour (its two outlines once cancelled out where they overlap, notching both corners)."""
    bid = drop_from_palette(window, "Const", QPointF(0, 0))
    it = window.block_item(bid)
    window.scene.clearSelection()
    scale = 4
    r = it.sceneBoundingRect()
    img = QImage(int(r.width() * scale), int(r.height() * scale), QImage.Format.Format_RGB32)
    img.fill(QColor("magenta"))
    p = QPainter(img)
    window.scene.render(p, QRectF(img.rect()), r)
    p.end()
    header = it.colour if it.known else style.theme().unknown
    for x in (1.5, 4.0, 8.0, it.width / 2, it.width - 8.0, it.width - 4.0, it.width - 1.5):
        at = it.mapToScene(QPointF(x, it.header - 2.5)) - r.topLeft()
        got = QColor(img.pixel(int(at.x() * scale), int(at.y() * scale)))
        assert max(abs(got.red() - header.red()), abs(got.green() - header.green()),
                   abs(got.blue() - header.blue())) < 40, (x, got.name(), header.name())


def test_problem_warnings_readable_in_both_themes(window, tmp_path, qtbot):
    """Warnings in Problems (an enuSpace page's inert blocks) keep WCAG AA contrast on the list's
    background in a dark and in a light system palette (a dark yellow did not on a dark list)."""
    page = write_utf16(tmp_path / "gradient.svg", gradient_page().svg(4))
    with _system_palette(qtbot) as use:
        for window_bg, base in THEMES:
            use(window_bg, base)
            assert window.open_path(str(page), ask=False)
            items = [window.problems.item(i) for i in range(window.problems.count())]
            warnings = [it for it in items if it.text().startswith("warning:")]
            assert warnings
            bg = window.problems.palette().color(QPalette.ColorRole.Base)
            for it in warnings:
                fg = it.foreground().color()
                assert _contrast(fg, bg) >= 4.5, (base, it.text(), fg.name())
