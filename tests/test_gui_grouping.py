"""Composite blocks in the editor, driven as a person does: click three blocks, Ctrl+G, Run (the numbers numpy
gives); double-click the new block to enter it (breadcrumb, the inner blocks' results), expose an inner pin from the
inspector, Esc, set the pin on the block, Run (the numbers follow); Ctrl+Shift+G gives the hand-written page back;
Ctrl+Z undoes each step. Nesting: grouping inside a composite, entering two levels, the breadcrumb going back,
ungrouping inside; an edit inside changes the definition every instance shares."""

from __future__ import annotations

import copy
import json
from itertools import combinations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from enuflow.app.document.composite_files import library, place
from enuflow.app.document.formats.native import page_to_doc
from enuflow.app.engine.runner import run_page
from enuflow.app.gui.canvas.exposed import ExposedTag
from tests.test_grouping import expected, grouped_doc, link, original_doc

RUN_TIMEOUT_MS = 180_000
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def spread(doc: dict) -> dict:
    """``doc`` with its blocks further apart (room for the blocks as the editor draws them)."""
    doc = copy.deepcopy(doc)
    for b in doc["blocks"] + [b for c in doc.get("composites", {}).values() for b in c["blocks"]]:
        b["pos"] = [b["pos"][0] * 1.6, b["pos"][1] * 1.6]
    return doc


def ungrouped_doc(mm_pins: dict | None = None) -> dict:
    """The page Ungroup gives back: the original blocks, the instance's rewired links then the inner links."""
    doc = spread(original_doc())
    doc["blocks"][2]["pins"] = mm_pins or {}
    doc["links"] = [link("x", "output", "mm", "a"), link("x", "output", "add", "y"), link("w", "output", "mm", "b"),
                    link("act", "activations", "neg", "x"), link("mm", "product", "sq", "x"),
                    link("mm", "product", "add", "x"), link("add", "z", "act", "features")]
    return doc


def doc_of(w) -> dict:
    doc = page_to_doc(w.page)
    doc.pop("view", None)
    return doc


def assert_no_overlap(w) -> None:
    rects = [(bid, it.mapRectToScene(it.body_rect())) for bid, it in w.scene.blocks.items()]
    for (a, ra), (b, rb) in combinations(rects, 2):
        assert not ra.intersects(rb), f"{a} overlaps {b}"


def click_block(qtbot, w, block_id: str, add: bool = False) -> None:
    """Click a block's title (Ctrl+click adds it to the selection)."""
    item = w.block_item(block_id)
    w.view.centerOn(item)
    point = w.view.mapFromScene(item.mapToScene(QPointF(item.boundingRect().center().x(), 8.0)))
    qtbot.mouseClick(w.view.viewport(), Qt.MouseButton.LeftButton, CTRL if add else Qt.KeyboardModifier.NoModifier,
                     point)


def double_click_block(qtbot, w, block_id: str) -> None:
    item = w.block_item(block_id)
    w.view.centerOn(item)
    point = w.view.mapFromScene(item.mapToScene(QPointF(item.boundingRect().center().x(), 8.0)))
    qtbot.mouseDClick(w.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)


def press(qtbot, w, key: Qt.Key, mods: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key pressed on the canvas (which has the keyboard focus, as after a click on it)."""
    w.view.setFocus()
    qtbot.keyClick(w.view, key, mods)


def tick(qtbot, box) -> None:
    """Click a check box's square (at its left end)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def select_and_group(qtbot, w, ids: list[str]) -> None:
    for i, bid in enumerate(ids):
        click_block(qtbot, w, bid, add=i > 0)
    assert sorted(w.scene.selected_block_ids()) == sorted(ids)
    press(qtbot, w, Qt.Key.Key_G, CTRL)


def run(qtbot, w) -> None:
    press(qtbot, w, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.kind in ("done", "crashed")
                    and w.last_event.run_id == w.run_id and not w.worker.busy, timeout=RUN_TIMEOUT_MS)
    assert w.last_event.kind == "done" and not w.last_event.errors, w.last_event.errors


def assert_numbers(values: dict, want: dict) -> None:
    for k, v in want.items():
        np.testing.assert_allclose(values[(k, "y")], v, rtol=1e-6)


@pytest.fixture
def opened(qtbot, new_window, gui_catalogue, tmp_path):
    """A window (no worker) with the spread-out original page open."""
    def make(start_worker: bool = False):
        w = new_window(start_worker=start_worker, size=(1600, 1000), load=True)
        path = tmp_path / "p.json"
        path.write_text(json.dumps(spread(original_doc())), encoding="utf-8")
        assert w.open_path(str(path), ask=False)
        w.activateWindow()  # the keys go to the window a person works in
        qtbot.waitUntil(lambda: QApplication.activeWindow() is w)
        return w
    return make


def test_group_run_enter_expose_ungroup_and_undo_as_a_person_does(qtbot, opened):
    w = opened(start_worker=True)
    try:
        select_and_group(qtbot, w, ["mm", "add", "act"])
        assert [b.id for b in w.page] == ["x", "w", "group", "neg", "sq"] and list(w.page.composites) == ["group"]
        assert doc_of(w) == spread(grouped_doc())  # the hand-written composite
        assert_no_overlap(w)
        run(qtbot, w)
        assert_numbers(w.values, expected())
        # double-click enters: the breadcrumb, the inner blocks with their results, a path-keyed error-free run
        double_click_block(qtbot, w, "group")
        assert [t for t, _ in w.trail] == ["group"] and w.breadcrumb_bar.isVisible()
        assert [b.text() for b in w.breadcrumb.parts] == ["p", "group"]
        assert set(w.scene.blocks) == {"mm", "add", "act"}
        assert set(w.block_item("mm").previews) == {"product"} and set(w.block_item("act").previews) == {"activations"}
        # the ports the composite's inputs feed and its outputs give carry the exposed names
        tags = {bid: sorted(c.text() for c in it.childItems() if isinstance(c, ExposedTag))
                for bid, it in w.scene.blocks.items()}
        assert tags == {"mm": ["a \u25b8", "b \u25b8", "\u25b8 product"], "add": ["a \u25b8"],
                        "act": ["\u25b8 activations"]}
        assert_no_overlap(w)
        # expose mm.transpose_a from the inspector
        click_block(qtbot, w, "mm")
        qtbot.waitUntil(lambda: w.inspector.block_id == "mm")
        assert w.results.block_id == "group/mm" and w.results.pin.currentText() == "product"  # its full value
        combo = w.inspector.fields["@expose"]
        combo.setCurrentText("transpose_a")
        qtbot.mouseClick(w.inspector.expose_button, Qt.MouseButton.LeftButton)
        assert [(p.name, p.block, p.pin) for p in w.page.composites["group"].pins] == [
            ("transpose_a", "mm", "transpose_a")]
        # an edit inside greys the results it makes out of date, inside and on the page (until the next run)
        click_block(qtbot, w, "add")
        qtbot.waitUntil(lambda: w.inspector.block_id == "add")
        w.inspector.fields["@label"].setText("plus")
        w.inspector.fields["@label"].editingFinished.emit()
        assert w.page.composites["group"].block("add").label == "plus"
        assert {b for b, it in w.scene.blocks.items() if it.stale} == {"add", "act"}
        press(qtbot, w, Qt.Key.Key_Z, CTRL)
        press(qtbot, w, Qt.Key.Key_Escape)
        assert not w.trail and not w.breadcrumb_bar.isVisible() and w.scene.selected_block_ids() == ["group"]
        assert {b for b, it in w.scene.blocks.items() if it.stale} == {"group", "neg", "sq"}
        qtbot.waitUntil(lambda: w.inspector.block_id == "group")
        # the block outside has the pin now: tick it, run, the numbers follow
        tick(qtbot, w.inspector.fields["transpose_a"])
        assert w.page.block("group").pins == {"transpose_a": True}
        run(qtbot, w)
        assert_numbers(w.values, expected(mm_transposed=True))
        # Ungroup: the hand-written page, the instance's pin on the inner block; the same numbers
        press(qtbot, w, Qt.Key.Key_G, CTRL | SHIFT)
        assert doc_of(w) == ungrouped_doc({"transpose_a": True})
        assert sorted(w.scene.selected_block_ids()) == ["act", "add", "mm"]
        assert_no_overlap(w)
        run(qtbot, w)
        assert_numbers(w.values, expected(mm_transposed=True))
        # each step undone by one Ctrl+Z
        press(qtbot, w, Qt.Key.Key_Z, CTRL)
        assert list(w.page.composites) == ["group"] and w.page.block("group").pins == {"transpose_a": True}
        press(qtbot, w, Qt.Key.Key_Z, CTRL)
        assert w.page.block("group").pins == {}
        press(qtbot, w, Qt.Key.Key_Z, CTRL)
        assert w.page.composites["group"].pins == []
        press(qtbot, w, Qt.Key.Key_Z, CTRL)
        assert doc_of(w) == spread(original_doc()) and len(w.scene.blocks) == 7
        for _ in range(4):
            press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
        assert doc_of(w) == ungrouped_doc({"transpose_a": True})
    finally:
        if w.worker is not None:
            w.worker.close()
            w.worker = None


def test_nesting_breadcrumb_and_an_edit_inside_shared_by_every_instance(qtbot, opened):
    w = opened()
    select_and_group(qtbot, w, ["mm", "add", "act"])
    double_click_block(qtbot, w, "group")
    # a block added and wired inside goes into the definition; Ctrl+Z takes each back
    at = w.block_item("act").sceneBoundingRect().bottomRight() + QPointF(60, 60)
    neg = w.add_block_at("Neg", at)
    assert w.add_link("act", "activations", neg, "x")
    comp = w.page.composites["group"]
    assert comp.block(neg).type == "Neg" and ("act", "activations", neg, "x") in comp.links
    assert_no_overlap(w)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert [b.id for b in w.page.composites["group"].blocks] == ["mm", "add", "act"]
    select_and_group(qtbot, w, ["add", "act"])  # a group inside the composite
    assert set(w.page.composites) == {"group", "group_2"}
    assert [b.type for b in w.page.composites["group"].blocks] == ["MatMul", "group_2"]
    assert set(w.scene.blocks) == {"mm", "group_2"} and w.scene.selected_block_ids() == ["group_2"]
    assert_no_overlap(w)
    double_click_block(qtbot, w, "group_2")
    assert [b.text() for b in w.breadcrumb.parts] == ["p", "group", "group_2"]
    assert set(w.scene.blocks) == {"add", "act"}
    qtbot.mouseClick(w.breadcrumb.parts[1], Qt.MouseButton.LeftButton)
    assert [t for t, _ in w.trail] == ["group"] and set(w.scene.blocks) == {"mm", "group_2"}
    qtbot.mouseClick(w.breadcrumb.parts[0], Qt.MouseButton.LeftButton)
    assert not w.trail and "group" in w.scene.blocks
    report = run_page(w.page)
    assert not report.errors, report.errors
    assert_numbers(report.results.values, expected())
    np.testing.assert_allclose(report.results.values[("group/group_2/add", "z")],
                               np.array(original_doc()["blocks"][0]["pins"]["val"]) + report.results.values[
                                   ("group/mm", "product")], rtol=1e-6)
    # a second instance (Ctrl+D); an edit inside one changes the definition both share; Ctrl+Z takes it back
    click_block(qtbot, w, "group")
    press(qtbot, w, Qt.Key.Key_D, CTRL)
    assert [b.type for b in w.page].count("group") == 2
    assert_no_overlap(w)
    double_click_block(qtbot, w, "group")
    click_block(qtbot, w, "mm")
    qtbot.waitUntil(lambda: w.inspector.block_id == "mm")
    tick(qtbot, w.inspector.fields["transpose_a"])
    assert w.page.composites["group"].block("mm").pins == {"transpose_a": True}
    assert_numbers(run_page(w.page).results.values, expected(mm_transposed=True))
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert w.page.composites["group"].block("mm").pins == {}
    # ungroup inside: the inner composite's blocks come back into "group", which it was the only user of
    click_block(qtbot, w, "group_2")
    press(qtbot, w, Qt.Key.Key_G, CTRL | SHIFT)
    assert set(w.page.composites) == {"group"} and set(w.scene.blocks) == {"mm", "add", "act"}
    assert [(p.name, p.to) for p in w.page.composites["group"].inputs] == [("a", [("mm", "a"), ("add", "y")]),
                                                                          ("b", [("mm", "b")])]
    assert_no_overlap(w)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert set(w.page.composites) == {"group", "group_2"} and set(w.scene.blocks) == {"mm", "group_2"}
    # undoing the group made inside leaves the composite it made: the canvas goes where it still can
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # the duplicate
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # the inner group
    assert set(w.page.composites) == {"group"} and set(w.scene.blocks) == {"mm", "add", "act"}
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # the first group: its definition is gone, the page is shown
    assert not w.trail and doc_of(w) == spread(original_doc())


def test_context_menu_offers_group_ungroup_and_enter(qtbot, opened, tmp_path):
    w = opened()
    select_and_group(qtbot, w, ["mm", "add"])
    at = w.block_item("group").sceneBoundingRect().center()
    texts = [a.text() for a in w.canvas_menu(at).actions()]
    assert {"&Group", "U&ngroup", "&Enter Composite"} <= set(texts)
    enter = next(a for a in w.canvas_menu(at).actions() if a.text() == "&Enter Composite")
    enter.trigger()
    assert [t for t, _ in w.trail] == ["group"]
    # a library composite placed inside: its definition goes to the page, its instance into "group"
    dense = library(tmp_path / "user").composites["layers.Dense"]  # the standard one, whatever the user has
    inst = place(w.canvas_page, dense, (0.0, 600.0))
    assert "layers.Dense" in w.page.composites and w.page.composites["group"].block(inst.id).type == "layers.Dense"
    assert inst.id in w.scene.blocks
    empty = w.view.mapToScene(w.view.viewport().rect().topLeft()) + QPointF(2, 2)
    leave = next(a for a in w.canvas_menu(empty).actions() if a.text() == "Leave Composite")
    leave.trigger()
    assert not w.trail
    ungroup = next(a for a in w.canvas_menu(at).actions() if a.text() == "U&ngroup")
    ungroup.trigger()
    assert "group" not in w.page and {"mm", "add"} <= set(w.scene.blocks)
    regroup = next(a for a in w.canvas_menu(w.block_item("mm").sceneBoundingRect().center()).actions()
                   if a.text() == "&Group")
    regroup.trigger()  # the blocks Ungroup put back are still selected: they are grouped again
    assert set(w.page.composites) == {"layers.Dense", "group"}
    assert [b.id for b in w.page.composites["group"].blocks] == ["mm", "add", "Dense"]


def test_deleting_an_exposed_block_inside_drops_its_ports_until_undo(qtbot, opened):
    w = opened()
    select_and_group(qtbot, w, ["mm", "add", "act"])
    double_click_block(qtbot, w, "group")
    click_block(qtbot, w, "mm")
    press(qtbot, w, Qt.Key.Key_Delete)
    comp = w.page.composites["group"]
    assert [(p.name, p.to) for p in comp.inputs] == [("a", [("add", "y")])]
    assert [p.name for p in comp.outputs] == ["activations"]
    press(qtbot, w, Qt.Key.Key_Escape)
    item = w.block_item("group")
    assert (item.inputs, item.outputs) == (["a"], ["activations"])  # the instance lost the ports of mm
    w.revalidate()
    assert any("no input 'b'" in m for m in w.block_errors.get("group", [])), w.block_errors
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert doc_of(w) == spread(grouped_doc())
    assert (w.block_item("group").inputs, w.block_item("group").outputs) == (["a", "b"], ["activations", "product"])
