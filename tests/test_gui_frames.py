"""Frames and notes (issue 21, ARCHITECTURE.md section 4), driven as a person does: select blocks and press
Ctrl+Shift+F, drag the frame's title (its blocks move by the same amount, one undo step), rename it by
double-clicking its title, recolour and delete it from its menu, resize it by its corner; add a note from the
canvas menu, type Markdown into it, move and delete it; save, reload and compare with hand-written JSON; a broken
entry in a page file is refused with a message naming the file and the entry; a page with frames and notes runs
with the same results as without.

The frame's title is checked readable at every zoom with a recording painter (as ``test_gui_canvas`` checks
blocks): the strings drawn, at Qt's ``QFontInfo`` pixel size times the zoom, must include the title at 8 px or
more on screen."""

from __future__ import annotations

import json
import os
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFontInfo, QFontMetricsF, QTextCursor
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QStyleOptionGraphicsItem

from enuflow.app import cli
from enuflow.app.document.formats import load
from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.document.formats.native import page_from_doc
from tests.test_gui import drop_from_palette, mouse_drag
from enuflow.app.gui.style import font
from tests.test_gui_canvas import RecordingPainter

ROOT = Path(__file__).resolve().parent.parent
GRAD = ROOT / "scenes" / "sparse_fill_empty_rows_grad.json"
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def window(new_window):
    return new_window(size=(1600, 1000))


def menu_action(menu, *path: str):
    """The action reached by following ``path`` (texts without '&') through ``menu`` and its submenus."""
    for i, text in enumerate(path):
        act = next(a for a in menu.actions() if a.text().replace("&", "") == text)
        if i == len(path) - 1:
            return act
        menu = act.menu()


def body(w, bid: str) -> QRectF:
    it = w.block_item(bid)
    return it.mapRectToScene(it.body_rect())


def double_click(qtbot, w, scene_pt: QPointF) -> None:
    qtbot.mouseDClick(w.view.viewport(), Qt.MouseButton.LeftButton, pos=w.view.mapFromScene(scene_pt))


def three_blocks(w) -> tuple[str, str, str]:
    a = drop_from_palette(w, "Const", QPointF(40, 60))
    b = drop_from_palette(w, "Const", QPointF(40, 260))
    c = drop_from_palette(w, "Const", QPointF(700, 60))
    return a, b, c


def frame_by_keys(qtbot, w, ids: list[str]) -> str:
    w.select(ids)
    before = set(w.page.frames)
    qtbot.keyClick(w.view, Qt.Key.Key_F, CTRL_SHIFT)
    (fid,) = set(w.page.frames) - before
    return fid


def title_point(w, fid: str) -> QPointF:
    x, y, _w, _h = w.page.frames[fid].rect
    return QPointF(x + 60, y + 12)


def test_frame_selection_drag_moves_its_blocks_and_one_undo_puts_them_back(window, qtbot):
    w = window
    a, b, c = three_blocks(w)
    fid = frame_by_keys(qtbot, w, [a, b])
    frame = w.scene.annotations.frames[fid]
    box = QRectF(*w.page.frames[fid].rect)
    assert box.contains(body(w, a)) and box.contains(body(w, b)) and not box.intersects(body(w, c))
    assert frame.zValue() < w.block_item(a).zValue() and frame.zValue() < min(x.zValue() for x in w.scene.wire_items()
                                                                                 or [w.block_item(a)])
    start = {bid: w.page.block(bid).pos for bid in (a, b, c)}
    rect0 = w.page.frames[fid].rect
    steps = w.undo.count()
    mouse_drag(w, title_point(w, fid), title_point(w, fid) + QPointF(200, 120))
    assert w.undo.count() == steps + 1
    for bid in (a, b):
        assert w.page.block(bid).pos == (start[bid][0] + 200, start[bid][1] + 120)
        assert w.block_item(bid).pos() == QPointF(*w.page.block(bid).pos)
    assert w.page.block(c).pos == start[c]
    assert w.page.frames[fid].rect == (rect0[0] + 200, rect0[1] + 120, rect0[2], rect0[3])
    qtbot.keyClick(w.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert {bid: w.page.block(bid).pos for bid in (a, b, c)} == start
    assert w.page.frames[fid].rect == rect0
    assert frame.pos() == QPointF(rect0[0], rect0[1]) and w.block_item(a).pos() == QPointF(*start[a])
    w.undo.redo()
    assert w.page.block(a).pos == (start[a][0] + 200, start[a][1] + 120)
    # dragging inside the frame (not its title) is a rubber band there, not a frame move
    inside = QPointF(rect0[0] + 200 + rect0[2] - 8, rect0[1] + 120 + rect0[3] / 2)
    mouse_drag(w, inside, inside + QPointF(-30, 30))
    assert w.page.frames[fid].rect[:2] == (rect0[0] + 200, rect0[1] + 120)


def test_frame_rename_colour_resize_delete_each_undoable(window, qtbot):
    w = window
    a, b, _c = three_blocks(w)
    fid = frame_by_keys(qtbot, w, [a, b])
    double_click(qtbot, w, title_point(w, fid))
    editor = w.view.viewport().findChild(QLineEdit, "inline_editor")
    assert editor is not None and editor.isVisible()
    qtbot.keyClicks(editor, "Training loop")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert w.page.frames[fid].title == "Training loop"
    # Esc leaves the title as it was
    double_click(qtbot, w, title_point(w, fid))
    editor = w.inline.widget
    qtbot.keyClicks(editor, "nothing")
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert w.page.frames[fid].title == "Training loop"
    menu = w.canvas_menu(title_point(w, fid))
    menu_action(menu, "Frame Colour", "Red").trigger()
    assert w.page.frames[fid].color == "red"
    # the corner resizes (the blocks stay)
    x, y, fw, fh = w.page.frames[fid].rect
    before = {bid: w.page.block(bid).pos for bid in (a, b)}
    mouse_drag(w, QPointF(x + fw - 3, y + fh - 3), QPointF(x + fw + 97, y + fh + 57))
    assert w.page.frames[fid].rect == (x, y, fw + 100, fh + 60)
    assert {bid: w.page.block(bid).pos for bid in (a, b)} == before
    # delete from the menu of the frame's inside; the blocks stay
    inside = w.canvas_menu(QPointF(x + 10, y + fh - 10))
    menu_action(inside, "Delete Frame 'Training loop'").trigger()
    assert fid not in w.page.frames and fid not in w.scene.annotations.frames and {a, b} <= set(w.scene.blocks)
    for expected in (None, (x, y, fw + 100, fh + 60), (x, y, fw, fh)):
        if expected is not None:
            assert w.page.frames[fid].rect == expected
        w.undo.undo()
    assert w.page.frames[fid].color != "red"
    w.undo.undo()
    assert w.page.frames[fid].title.startswith("Frame ")
    # selected with a click on its title, the Delete key removes it
    w.undo.redo()
    qtbot.mouseClick(w.view.viewport(), Qt.MouseButton.LeftButton, pos=w.view.mapFromScene(title_point(w, fid)))
    assert w.scene.annotations.selected_ids() == [fid] and not w.scene.selected_block_ids()
    qtbot.keyClick(w.view, Qt.Key.Key_Delete)
    assert not w.page.frames and {a, b} <= set(w.page._blocks)


def drawn_title(w, fid: str, zoom: float) -> tuple[list[tuple[str, float]], float]:
    """(text, pixels on screen) of every string frame ``fid`` draws at ``zoom`` (its band, scaled by the view,
    and its label, which is not), and the width of its label's tab in pixels (0 when it draws none)."""
    item = w.scene.annotations.frames[fid]
    band, label = RecordingPainter(zoom), RecordingPainter(1.0)
    item.paint(band, QStyleOptionGraphicsItem(), None)
    item.label.paint(label, QStyleOptionGraphicsItem(), None)
    drawn = [(t, QFontInfo(f).pixelSize() * zoom) for t, f in band.texts]
    drawn += [(t, QFontInfo(f).pixelSize()) for t, f in label.texts]
    return drawn, item.label.shape().boundingRect().width()


@pytest.mark.parametrize("zoom", [4.0, 1.0, 0.6, 0.3, 0.1, 0.02, 0.004])
def test_frame_titles_read_at_every_zoom_and_never_overlap(window, qtbot, zoom):
    w = window
    a, b, c = three_blocks(w)
    wide = w.frame_selection([a, c], title="Encoder stage one")
    narrow = w.frame_selection([b], title="Decoder")
    w.view.resetTransform()
    w.view.scale(zoom, zoom)
    tabs = []
    for fid in (wide, narrow):
        title = w.page.frames[fid].title
        on_screen = w.page.frames[fid].rect[2] * zoom
        drawn, tab = drawn_title(w, fid, zoom)
        assert len(drawn) <= 1, drawn  # in the band or on the tab, once
        if on_screen >= 300:
            assert [t for t, _px in drawn] == [title], (on_screen, drawn)
        for text, px in drawn:
            assert px >= 8.0, drawn
            assert text == title or (text.endswith("\u2026") and title.startswith(text[:-1])), text
        assert tab <= on_screen, (tab, on_screen)  # a tab is never wider than its frame
        if tab:
            at = w.view.mapFromScene(QPointF(*w.page.frames[fid].rect[:2]))
            tabs.append(QRectF(at.x(), at.y() - 30, tab, 30))
    assert len(tabs) < 2 or not tabs[0].intersects(tabs[1])
    if zoom == 0.3:  # the wide frame's title is a tab there, and a press on it takes the frame
        label = w.scene.annotations.frames[wide].label
        hit = w.scene.itemAt(label.sceneBoundingRect().center(), w.view.transform())
        assert w.scene.annotations.at(hit) == wide


def test_note_added_edited_moved_saved_and_reloaded(window, qtbot, tmp_path):
    w = window
    a, b, _c = three_blocks(w)
    fid = frame_by_keys(qtbot, w, [a, b])
    w.rename_frame(fid, "Inputs")
    menu = w.canvas_menu(QPointF(400, 600))
    menu_action(menu, "Add Note").trigger()
    editor = w.view.viewport().findChild(QPlainTextEdit, "inline_editor")
    assert editor is not None and editor.hasFocus()
    qtbot.keyClicks(editor, "# Plan")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.keyClicks(editor, "Train **fast**")
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    (nid,) = w.page.notes
    assert w.page.notes[nid].text == "# Plan\n\nTrain **fast**"
    # drawn as Markdown: a level-1 heading, then "fast" in bold
    doc = w.scene.annotations.notes[nid].doc
    assert doc.firstBlock().text() == "Plan" and doc.firstBlock().blockFormat().headingLevel() == 1
    para = doc.lastBlock()
    assert para.text() == "Train fast"
    bold = "".join(ch for i, ch in enumerate(para.text()) if _char_format(doc, para.position() + i).fontWeight() >= 700)
    assert bold == "fast"
    # moved by a drag, one undo step back
    item = w.scene.annotations.notes[nid]
    grip = item.sceneBoundingRect().topLeft() + QPointF(30, 10)
    mouse_drag(w, grip, grip + QPointF(100, -200))
    assert w.page.notes[nid].pos == (500.0, 400.0)
    w.undo.undo()
    assert w.page.notes[nid].pos == (400.0, 600.0)
    path = tmp_path / "annotated.json"
    assert w.save_to(str(path))
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["notes"] == [{"id": "note", "pos": [400, 600], "text": "# Plan\n\nTrain **fast**"}]
    # the blocks were dropped at (40, 60) and (40, 260): placed 20, 10 up-left of the drop, 140 wide (a Const's
    # least width); the frame keeps 20 around them and 30 more above for its title band
    (frame,) = saved["frames"]
    assert {k: v for k, v in frame.items() if k != "rect"} == {"id": "frame", "title": "Inputs", "color": "blue"}
    assert frame["rect"][:3] == [0, 0, 180]
    assert frame["rect"][3] == pytest.approx(body(w, b).bottom() + 20, abs=10)
    # reopened: the same frame and note drawn, and written back unchanged
    # a click selects the note, Delete removes it, undo brings it back
    qtbot.mouseClick(w.view.viewport(), Qt.MouseButton.LeftButton, pos=w.view.mapFromScene(QPointF(430, 610)))
    assert w.scene.annotations.selected_ids() == [nid]
    qtbot.keyClick(w.view, Qt.Key.Key_Delete)
    assert not w.page.notes and not w.scene.annotations.notes
    w.undo.undo()
    assert w.page.notes[nid].text == "# Plan\n\nTrain **fast**" and nid in w.scene.annotations.notes
    w2_ok = w.open_path(str(path), ask=False)
    assert w2_ok and set(w.scene.annotations.frames) == {"frame"} and set(w.scene.annotations.notes) == {"note"}
    assert w.scene.annotations.notes["note"].pos() == QPointF(400, 600)
    assert w.save_to(str(tmp_path / "again.json"))
    again = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    assert again["frames"] == saved["frames"] and again["notes"] == saved["notes"]


def _char_format(doc, at: int):
    """The character format of the character at ``at`` (a cursor placed just after it reports it)."""
    cur = QTextCursor(doc)
    cur.setPosition(at + 1)
    return cur.charFormat()


def test_notes_go_to_free_space_and_fit_and_minimap_show_them(window, qtbot):
    w = window
    a, b, c = three_blocks(w)
    w.select([a])
    notes = []
    for target in (body(w, a).center(), body(w, c).topLeft() + QPointF(5, 5), body(w, c).topLeft()):
        menu = w.canvas_menu(target)
        before = set(w.page.notes)
        menu_action(menu, "Add Note").trigger()
        w.inline.widget.setPlainText("A **note** with a few words that wrap onto a second line, at least")
        w.inline.finish(True)
        notes += list(set(w.page.notes) - before)
    rects = [w.scene.annotations.notes[n].sceneBoundingRect() for n in notes]
    for n, r in zip(notes, rects):
        for bid in (a, b, c):
            assert not r.intersects(body(w, bid)), (n, bid)
    for r1, r2 in combinations(rects, 2):
        assert not r1.intersects(r2)
    # a block dropped onto a note goes beside it
    d = drop_from_palette(w, "Const", rects[0].center())
    assert not body(w, d).intersects(w.scene.annotations.notes[notes[0]].sceneBoundingRect())
    # a longer text grows the note: it moves off the block below it in the same step
    low = notes[0]
    w.edit_note(low, "\n\n".join(f"line {i}" for i in range(40)))
    r = w.scene.annotations.notes[low].sceneBoundingRect()
    assert not any(r.intersects(body(w, bid)) for bid in (a, b, c, d))
    # a note far away: Fit shows it, and the tab of the frame at the page's top, the minimap draws them
    fid = w.frame_selection([a, c])
    far = w.add_note(QPointF(300, 5000), "far away")  # the page's height sets the zoom
    qtbot.keyClick(w.view, Qt.Key.Key_F)
    assert w.view.visible_rect().contains(w.scene.annotations.notes[far].sceneBoundingRect())
    label = w.scene.annotations.frames[fid].label
    assert label.fitted() is not None  # far out: the title is a tab of fixed size on the frame's top edge
    at = w.view.mapFromScene(QPointF(*w.page.frames[fid].rect[:2]))
    tab = label.shape().boundingRect().translated(at.x(), at.y())
    assert QRectF(w.view.viewport().rect()).contains(tab), tab
    mm = w.view.minimap
    mm.reread()
    shown = [r for r, _c, is_frame in mm._annotations if not is_frame]
    assert w.scene.annotations.notes[far].sceneBoundingRect() in shown
    assert QRectF(*w.page.frames[fid].rect) in [r for r, _c, is_frame in mm._annotations if is_frame]
    # undo of every step leaves the page without notes or frames, redo brings them back
    while w.undo.canUndo():
        w.undo.undo()
    assert not w.page.notes and not w.page.frames and not w.scene.annotations.notes
    while w.undo.canRedo():
        w.undo.redo()
    assert set(w.page.notes) == set(notes) | {far} and fid in w.scene.annotations.frames


def test_copy_paste_of_blocks_inside_a_frame_still_works(window, qtbot):
    w = window
    a, b, _c = three_blocks(w)
    frame_by_keys(qtbot, w, [a, b])
    w.add_note(QPointF(300, 700), "kept")
    w.select([a, b])
    pasted = w.paste(w.copy())
    assert len(pasted) == 2 and len(w.page) == 5
    assert len(w.page.frames) == 1 and len(w.page.notes) == 1


# -- page files --------------------------------------------------------------------------------------------------
def grad_doc() -> dict:
    return json.loads(GRAD.read_text(encoding="utf-8"))


BROKEN = {
    "frames not a list": ({"frames": {"id": "f"}}, ["'frames' must be a list"]),
    "frame not an object": ({"frames": ["f1"]}, ["frames[0]", "is not an object"]),
    "rect of two numbers": ({"frames": [{"id": "f1", "title": "A", "rect": [0, 0, 10, 10]},
                                        {"id": "f2", "title": "B", "rect": [0, 0]}]},
                            ["frames[1] 'f2'", "'rect'", "[0, 0]", "line "]),
    "rect of negative width": ({"frames": [{"id": "f1", "rect": [0, 0, -5, 10]}]}, ["frames[0] 'f1'", "width"]),
    "title not text": ({"frames": [{"id": "f1", "title": 3, "rect": [0, 0, 5, 5]}]}, ["frames[0] 'f1'", "'title'"]),
    "note without pos": ({"notes": [{"id": "n1", "text": "x"}]}, ["notes[0] 'n1'", "'pos'"]),
    "note text not text": ({"notes": [{"id": "n1", "pos": [0, 0], "text": ["x"]}]}, ["notes[0] 'n1'", "'text'"]),
    "note without id": ({"notes": [{"pos": [0, 0]}]}, ["notes[0]", "no id"]),
    "id of a frame and a note": ({"frames": [{"id": "x", "rect": [0, 0, 5, 5]}], "notes": [{"id": "x", "pos": [0, 0]}]},
                                 ["notes[0] 'x'", "twice"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_frame_or_note_is_refused_naming_the_file_and_the_entry(case, tmp_path, capsys):
    doc = grad_doc()
    doc.update(BROKEN[case][0])
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    with pytest.raises(PageFileError) as e:
        load(path)
    for word in [str(path), *BROKEN[case][1]]:
        assert word in str(e.value), (word, str(e.value))
    assert cli.main(["run", str(path)]) == 2  # refused before any TensorFlow, no traceback
    err = capsys.readouterr().err
    assert str(path) in err and BROKEN[case][1][0] in err and "Traceback" not in err


def test_the_editor_refuses_a_broken_entry_with_the_message_and_keeps_its_page(window, tmp_path):
    w = window
    drop_from_palette(w, "Const", QPointF(0, 0))
    doc = grad_doc()
    doc["notes"] = [{"id": "n1", "pos": "here"}]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    said = []
    w.warn = lambda title, text: said.append(text)
    assert not w.open_path(str(path), ask=False)
    assert said and str(path) in said[0] and "notes[0] 'n1'" in said[0]
    assert [b.id for b in w.page] == ["Const"]


def test_unknown_fields_of_frames_and_notes_are_kept(tmp_path):
    doc = grad_doc()
    doc["frames"] = [{"id": "f", "title": "T", "rect": [0, 0, 100.5, 50], "color": "#336699", "locked": True}]
    doc["notes"] = [{"id": "n", "pos": [1, 2], "text": "*hi*", "author": "me"}]
    page = page_from_doc("p.json", doc)
    from enuflow.app.document.formats.native import page_to_doc

    out = page_to_doc(page)
    assert out["frames"] == doc["frames"] and out["notes"] == doc["notes"]
    assert page.copy().frames["f"].extra == {"locked": True}


def test_a_page_with_frames_and_notes_runs_with_the_same_results(window, qtbot, tmp_path, capsys):
    """The editor frames every block and adds a note; the saved page runs (in-process and through ``enuflow run``)
    to the values worked out by hand: ``d_values = grad[rim] = [2, 1]``, ``d_default_value = sum(grad) -
    sum(d_values) = 3``, as the page without them does."""
    from enuflow.app.engine.runner import run_page

    w = window
    assert w.open_path(str(GRAD), ask=False)
    w.frame_selection([b.id for b in w.page], title="Gradient")
    w.add_note(QPointF(40, 400), "Checks **SparseFillEmptyRowsGrad**")
    path = tmp_path / "framed.json"
    assert w.save_to(str(path))
    framed = load(path)
    assert framed.frames and framed.notes
    plain, annotated = run_page(load(GRAD)), run_page(framed)
    for report in (plain, annotated):
        assert not report.errors, report.errors
        np.testing.assert_array_equal(report.results.values[("g", "d_values")], np.array([2, 1], np.float32))
        np.testing.assert_array_equal(report.results.values[("g", "d_default_value")], np.float32(3))
    assert set(plain.results.values) == set(annotated.results.values)
    assert cli.main(["run", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"]["g"]["d_values"]["value"] == [2, 1]
    assert out["results"]["g"]["d_default_value"]["value"] == 3


def test_auto_layout_draws_each_frame_around_its_blocks_again_in_one_undo_step(window, qtbot):
    w = window
    a, b, c = three_blocks(w)
    fid = frame_by_keys(qtbot, w, [a, b])
    w.page.move_block(c, (-2000.0, -1500.0))  # the layout starts from the top-left block: a and b move far
    start = {bid: w.page.block(bid).pos for bid in (a, b, c)}
    rect0 = w.page.frames[fid].rect
    steps = w.undo.count()
    w.view.setFocus()
    qtbot.keyClick(w.view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert w.undo.count() == steps + 1
    assert {bid: w.page.block(bid).pos for bid in (a, b, c)} != start
    box = QRectF(*w.page.frames[fid].rect)
    assert box.contains(body(w, a)) and box.contains(body(w, b)), (box, body(w, a), body(w, b))
    assert not box.intersects(body(w, c)) and box.top() < -1000
    w.undo.undo()
    assert {bid: w.page.block(bid).pos for bid in (a, b, c)} == start and w.page.frames[fid].rect == rect0



def note_lines(w, nid: str, zoom: float) -> list[tuple[str, float, float, float]]:
    """(text, pixel size on screen, width and line height in page units) of each string note ``nid`` draws at
    ``zoom``."""
    p = RecordingPainter(zoom)
    w.scene.annotations.notes[nid].paint(p, QStyleOptionGraphicsItem(), None)
    return [(t, QFontInfo(f).pixelSize() * zoom, QFontMetricsF(f).horizontalAdvance(t), QFontMetricsF(f).height())
            for t, f in p.texts]


@pytest.mark.parametrize("zoom", ["fit", 0.45, 0.25, 0.1])
def test_a_note_zoomed_out_reads_as_rendered_markdown_whole_or_cut_cleanly(window, qtbot, zoom):
    w = window
    assert w.open_path(str(ROOT / "scenes" / "digits_mlp.json"), ask=False)
    fit = zoom == "fit"
    if fit:
        w.view.fit()
        zoom = w.view.transform().m11()
    note = w.scene.annotations.notes["about"].boundingRect()
    assert QFontInfo(font(10)).pixelSize() * zoom < 8  # zoomed out: the note's own text would be too small
    read = ("Handwritten digits: 1,797 images of 8x8 pixels (scenes/data/README.md), 64 numbers in, a digit out. A "
            "hidden layer of 64 units and 10 logits, trained with Adam on softmax cross entropy; reaches about 97 % "
            "test accuracy. Press Run to train (30 epochs, each followed by a test pass over a fifth of the data); "
            "the Training dock draws the curves. Double-click a block to see the ops it builds. From a shell: "
            "enuflow run scenes/digits_mlp.json --epochs 30.")  # the page's Markdown as a person reads it
    drawn = note_lines(w, "about", zoom)
    assert drawn, zoom
    text = " ".join(t for t, *_ in drawn)
    for t, px, width, _h in drawn:
        assert px >= 8.0 and width <= note.width(), (t, px, width)
        assert not any(mark in t for mark in ("**", "`", "#")), t
    assert len(drawn) * drawn[0][3] <= note.height()  # every line inside the note

    def bare(t: str) -> str:
        return "".join(t.split())  # (lines break at spaces, or inside a long path)

    if text.endswith("\u2026"):  # cut cleanly after a whole word, after more than a word or two
        assert bare(read).startswith(bare(text[:-1])), text
        if len(drawn) == 1 and len(text) < 12:  # far out: the first letters, like a far-out block's name
            return
        at = [i for i, c in enumerate(read) if not c.isspace()][len(bare(text[:-1])) - 1]
        assert read[at + 1] in " ,;.", text  # the next character of the note ends a word
    else:
        assert bare(text) == bare(read), text  # whole
    if fit:
        assert bare(text) == bare(read)  # at the page's fit zoom the whole note reads
