"""Renaming a composite and no longer exposing a pin, in the editor as a person does: the block's context menu and
the inspector's Rename open a dialog, a name that cannot be (a block type's, another composite's, one the library
cannot hold) is refused with the reason in the dialog; the definition, every instance and the composite that uses
it follow; an exposed pin's Stop exposing drops the instances' values (the inner value applies: numpy's numbers).
Ctrl+Z undoes each."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontInfo
from PySide6.QtWidgets import QApplication, QLineEdit, QStyleOptionGraphicsItem

from enuflow.app.engine.runner import run_page
from enuflow.app.gui.canvas.exposed import ExposedTag
from tests.test_gui_canvas import RecordingPainter
from tests.test_gui_grouping import (CTRL, assert_numbers, click_block, doc_of, double_click_block, opened, press,
                                     select_and_group, tick)
from tests.test_grouping import expected

__all__ = ["opened"]  # the fixture, shared with the grouping tests
ROOT = Path(__file__).resolve().parent.parent


def type_name(qtbot, w, name: str) -> None:
    """Type ``name`` over the rename dialog's text and press Enter."""
    d = w.rename_dialog
    qtbot.waitUntil(d.isVisible)
    field = d.findChild(QLineEdit)
    qtbot.keyClick(field, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(field, name)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def menu_action(w, block_id: str, text: str):
    at = w.block_item(block_id).sceneBoundingRect().center()
    return next(a for a in w.canvas_menu(at).actions() if a.text() == text)


def test_rename_a_composite_everywhere_refusing_names_that_cannot_be(qtbot, opened):
    w = opened()
    select_and_group(qtbot, w, ["mm", "add", "act"])
    double_click_block(qtbot, w, "group")
    select_and_group(qtbot, w, ["add", "act"])  # group_2, used inside group
    menu_action(w, "group_2", "Re&name Composite...").trigger()
    type_name(qtbot, w, "inner")
    assert set(w.page.composites) == {"group", "inner"}
    assert [b.type for b in w.page.composites["group"].blocks] == ["MatMul", "inner"]
    assert w.block_item("group_2").type_name == "inner"
    press(qtbot, w, Qt.Key.Key_Escape)
    click_block(qtbot, w, "group")
    press(qtbot, w, Qt.Key.Key_D, CTRL)  # a second instance
    click_block(qtbot, w, "group")
    qtbot.waitUntil(lambda: w.inspector.block_id == "group")
    qtbot.mouseClick(w.inspector.fields["@rename"], Qt.MouseButton.LeftButton)
    before = doc_of(w)
    for bad, why in [("MatMul", "block type"), ("inner", "already has a composite"), ("a/b", "file name")]:
        type_name(qtbot, w, bad)
        assert why in w.rename_dialog.labelText() and why in w.status_label.text()
        assert doc_of(w) == before  # refused: the page as it was
    type_name(qtbot, w, "dense")
    assert not w.rename_dialog.isVisible()
    assert set(w.page.composites) == {"dense", "inner"} and w.page.composites["dense"].name == "dense"
    assert sorted(b.type for b in w.page if b.type not in ("Const", "Neg", "Square")) == ["dense", "dense"]
    assert {it.type_name for it in w.scene.blocks.values()} >= {"dense"}
    assert w.undo.undoText() == "Rename composite group to dense"
    report = run_page(w.page)
    assert all(e.block.startswith("group_2/") for e in report.errors), report.errors  # the unwired duplicate
    assert_numbers(report.results.values, expected())
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert set(w.page.composites) == {"group", "inner"} and w.block_item("group").type_name == "group"
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # the duplicate
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # the rename inside
    assert set(w.page.composites) == {"group", "group_2"}


def test_stop_exposing_a_pin_drops_the_instances_values(qtbot, opened):
    w = opened()
    select_and_group(qtbot, w, ["mm", "add", "act"])
    double_click_block(qtbot, w, "group")
    click_block(qtbot, w, "mm")
    qtbot.waitUntil(lambda: w.inspector.block_id == "mm")
    w.inspector.fields["@expose"].setCurrentText("transpose_a")
    qtbot.mouseClick(w.inspector.expose_button, Qt.MouseButton.LeftButton)
    press(qtbot, w, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: w.inspector.block_id == "group")
    tick(qtbot, w.inspector.fields["transpose_a"])
    assert w.page.block("group").pins == {"transpose_a": True}
    assert_numbers(run_page(w.page).results.values, expected(mm_transposed=True))
    double_click_block(qtbot, w, "group")
    click_block(qtbot, w, "mm")
    qtbot.waitUntil(lambda: w.inspector.block_id == "mm")
    qtbot.mouseClick(w.inspector.fields["@unexpose:transpose_a"], Qt.MouseButton.LeftButton)
    assert w.page.composites["group"].pins == [] and w.page.block("group").pins == {}
    assert "1 instance value of transpose_a dropped" in w.undo.undoText()
    qtbot.waitUntil(lambda: w.inspector.block_id == "mm")
    assert "@unexpose:transpose_a" not in w.inspector.fields and "@expose" in w.inspector.fields
    assert_numbers(run_page(w.page).results.values, expected())  # the inner default (not transposed) applies
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert [p.name for p in w.page.composites["group"].pins] == ["transpose_a"]
    assert w.page.block("group").pins == {"transpose_a": True}
    assert [t for t, _ in w.trail] == ["group"]  # still inside


def tag_texts(w, zoom: float) -> list[tuple[str, str, float]]:
    """(block, text, pixel size on screen) of every exposed-port tag drawn at ``zoom``."""
    out = []
    for bid, it in w.scene.blocks.items():
        for tag in (c for c in it.childItems() if isinstance(c, ExposedTag)):
            p = RecordingPainter(zoom)
            tag.paint(p, QStyleOptionGraphicsItem(), None)
            out += [(bid, t, QFontInfo(f).pixelSize() * zoom) for t, f in p.texts]
    return out


@pytest.mark.parametrize("zoom", ["fit", 0.5, 0.3])
def test_exposed_port_tags_read_at_the_composites_fit_zoom_and_zoomed_out(new_window, gui_catalogue, qtbot, zoom):
    w = new_window(size=(1600, 1000), load=True)
    assert w.open_path(str(ROOT / "scenes" / "digits_mlp.json"), ask=False)
    double_click_block(qtbot, w, "dense1")
    assert [t for t, _ in w.trail] == ["dense1"]
    if zoom != "fit":
        w.view.resetTransform()
        w.view.scale(zoom, zoom)
    z = w.view.transform().m11()
    drawn = tag_texts(w, z)
    assert sorted((b, t) for b, t, _px in drawn) == [("act", "\u25b8 y"), ("kernel", "x \u25b8"),
                                                     ("matmul", "x \u25b8")]
    assert all(px >= 8.0 for _b, _t, px in drawn), (z, drawn)


def test_group_keeps_the_pages_frames_and_notes(new_window, gui_catalogue, qtbot):
    w = new_window(size=(1600, 1000), load=True)
    assert w.open_path(str(ROOT / "scenes" / "digits_mlp.json"), ask=False)
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)
    select_and_group(qtbot, w, ["dense1", "dense2"])
    assert "group" in w.page.composites, w.status_label.text()
    assert sorted(w.page.frames) == ["frame_data", "frame_model", "frame_training"] and list(w.page.notes) == ["about"]
    assert sorted(w.scene.annotations.frames) == sorted(w.page.frames) and list(w.scene.annotations.notes) == ["about"]
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert "group" not in w.page.composites and len(w.page.frames) == 3 and list(w.page.notes) == ["about"]
