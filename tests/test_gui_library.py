"""The composite library in the editor, driven as a person would: a page's composite saved to the library (block
menu > Save to Library..., into ``$ENUFLOW_COMPOSITES_DIR``), found in the palette on a new page, dragged onto the
canvas, wired to Consts and run (the result is numpy's); placing is one undo step; a different composite of the
same name is never replaced silently, on the page or in the library; an unwritable library folder is a message.
Also: placing beside a clash keeps both and still computes what numpy computes, and ``enuflow blocks --json`` marks
``io`` a composite whose inner block, at any depth, reads files (as the palette does)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QMessageBox

from enuflow.app import cli
from enuflow.app.document.composite_files import (PlaceError, library, load_composite, place, plan_place,
                                                  save_to_library)
from enuflow.app.document.composites import composite_from_doc, composite_to_doc
from enuflow.app.document.page import BlockInstance, Link, Page
from tests.test_allowlist import composite_reader_doc
from tests.test_composites import B, W, X, dense_page_doc, dense_relu, nested_doc, relu, write
from tests.test_gui import drop_from_palette, set_field, wire

YES, CANCEL = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.Cancel
RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def lib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's composite folder of this test (not made yet: the first save makes it)."""
    folder = tmp_path / "my composites"
    monkeypatch.setenv("ENUFLOW_COMPOSITES_DIR", str(folder))
    return folder


class Asked:
    """Answers the window's questions in turn, and keeps what was asked (title, text)."""

    def __init__(self, *answers: QMessageBox.StandardButton) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, str]] = []

    def __call__(self, title: str, text: str, _buttons: object) -> QMessageBox.StandardButton:
        self.asked.append((title, text))
        return self.answers.pop(0) if self.answers else QMessageBox.StandardButton.Discard


def menu_action(w, block: str, text: str):
    """The action named ``text`` of the block's context menu (as a right-click on the block shows it)."""
    menu = w.canvas_menu(w.block_item(block).mapToScene(QPointF(30, 10)))
    found = [a for a in menu.actions() if a.text().replace("&", "") == text]
    assert found, [a.text() for a in menu.actions()]
    return found[0]


def save_from_menu(w, block: str, name: str | None = None) -> None:
    """Right-click the block, Save to Library..., accept the offered name (or type ``name``)."""
    w.ask_text = lambda _title, _label, default: default if name is None else name
    menu_action(w, block, "Save to Library...").trigger()


def open_doc(w, tmp_path: Path, doc: dict, name: str = "page.json") -> None:
    assert w.open_path(write(tmp_path, doc, name), ask=False)


def palette_finds(w, text: str) -> list[str]:
    w.palette.search.setText(text)
    found = w.palette.visible_names()
    w.palette.search.setText("")
    return found


def run_and_wait(qtbot, w):
    rid = w.run_page()
    assert rid is not None
    qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.kind in ("done", "crashed")
                    and w.last_event.run_id in (rid, 0) and not w.worker.busy, timeout=RUN_TIMEOUT_MS)
    return w.last_event


# -- the whole round: save, a new page, drag, wire, run, undo ----------------------------------------------------

def test_save_to_library_then_drag_onto_a_new_page_wire_and_run(qtbot, new_window, gui_catalogue, lib, tmp_path):
    w = new_window(start_worker=True, load=True)
    try:
        open_doc(w, tmp_path, dense_page_doc())
        assert "dense_relu" not in w.palette.items
        save_from_menu(w, "d1")
        saved = lib / "dense_relu.json"
        doc = json.loads(saved.read_text(encoding="utf-8"))
        assert doc["format"] == "enuflow.composite" and doc["name"] == "dense_relu"
        assert {k: v for k, v in doc.items() if k not in ("format", "version", "name")} == dense_relu()
        assert not list(lib.glob("*.tmp*"))  # written through a temporary file, none left behind
        # the palette lists it at once, under Composites, searchable by its doc, its doc as tooltip
        item = w.palette.items["dense_relu"]
        assert item.parent().text(0) == "Composites"
        assert "x @ w + b, then relu" in item.toolTip(0) and "user library" in item.toolTip(0)
        assert palette_finds(w, "then relu")[0] == "dense_relu"

        w.new_page()
        assert not w.page.composites and len(w.page) == 0
        d = drop_from_palette(w, "dense_relu", QPointF(400, 80))
        assert w.page.block(d).type == "dense_relu"
        assert composite_to_doc(w.page.composites["dense_relu"]) == dense_relu()  # a copy: the page is self-contained
        it = w.block_item(d)
        assert (it.inputs, it.outputs, it.category) == (["x"], ["y"], "composite")
        w.select([d])
        assert {"w", "b"} <= set(w.inspector.fields)
        # placing is one undo step: undo takes the block and the definition away, redo puts both back
        w.undo.undo()
        assert len(w.page) == 0 and not w.page.composites and d not in w.scene.blocks
        w.undo.redo()
        assert w.page.block(d).type == "dense_relu" and "dense_relu" in w.page.composites

        x = drop_from_palette(w, "Const", QPointF(0, 80))
        set_field(w, x, "val", json.dumps(X))
        set_field(w, x, "dtype", "float32")
        set_field(w, d, "w", json.dumps(W))
        set_field(w, d, "b", json.dumps(B))
        wire(w, x, "output", d, "x")
        assert w.page.links == [Link(x, "output", d, "x")]
        ev = run_and_wait(qtbot, w)
        assert ev.kind == "done" and not ev.errors, ev.errors
        expected = relu(np.asarray(X, np.float32) @ np.asarray(W, np.float32) + np.asarray(B, np.float32))
        np.testing.assert_allclose(w.values[(d, "y")], expected, rtol=1e-6)
        assert set(w.block_item(d).previews) == {"y"}
    finally:
        if w.worker is not None:
            w.worker.close()
            w.worker = None


def test_quick_search_places_a_standard_library_composite(new_window, lib):
    w = new_window()
    assert w.palette.items["layers.Dense"].parent().text(0) == "Composites"
    assert "standard library" in w.palette.items["layers.Dense"].toolTip(0)
    qs = w.quick_search(QPointF(300, 300))
    qs.edit.setText("layers.dense")
    assert qs.list.item(0).text() == "layers.Dense"
    qs.choose("layers.Dense")
    (bid,) = [b.id for b in w.page]
    assert (bid, w.page.block(bid).type) == ("Dense", "layers.Dense")
    assert set(w.page.composites) == {"layers.Dense"}
    assert (w.block_item(bid).inputs, w.block_item(bid).outputs) == (["x"], ["y"])
    # a second one reuses the definition already copied in
    second = w.add_block_at("layers.Dense", QPointF(300, 300))
    assert second == "Dense_2" and set(w.page.composites) == {"layers.Dense"}
    assert not w.scene.overlapping()


# -- clashes: on the page, in the library ------------------------------------------------------------------------

def test_a_different_composite_of_the_name_on_the_page_is_kept_both_or_nothing(new_window, lib, tmp_path):
    other = dense_relu()
    other["doc"] = "the page's own"
    other["blocks"][4]["type"] = "Relu6"
    save_to_library(composite_from_doc("t", "dense_relu", dense_relu()))
    w = new_window()
    open_doc(w, tmp_path, dense_page_doc() | {"composites": {"dense_relu": other}})
    before = composite_to_doc(w.page.composites["dense_relu"])
    w.prompt = asked = Asked(CANCEL)
    assert w.add_block_at("dense_relu", QPointF(0, 300)) is None
    assert "different composite named 'dense_relu'" in asked.asked[0][1]
    assert len(w.page) == 2 and set(w.page.composites) == {"dense_relu"} and not w.undo.canUndo()
    w.prompt = Asked(YES)
    bid = drop_from_palette(w, "dense_relu", QPointF(0, 300))
    assert w.page.block(bid).type == "dense_relu_2"
    assert composite_to_doc(w.page.composites["dense_relu"]) == before  # the page's stays as it was
    assert composite_to_doc(w.page.composites["dense_relu_2"]) == dense_relu()
    assert "as 'dense_relu_2'" in w.status_label.text()
    w.undo.undo()
    assert set(w.page.composites) == {"dense_relu"} and bid not in w.page


def test_saving_over_a_different_library_composite_asks_first(new_window, lib, tmp_path):
    w = new_window()
    open_doc(w, tmp_path, dense_page_doc())
    save_from_menu(w, "d1")
    first = (lib / "dense_relu.json").read_text(encoding="utf-8")
    # the same definition again: nothing to ask, nothing written
    w.prompt = asked = Asked()
    save_from_menu(w, "d1")
    assert not asked.asked and "already in the library" in w.status_label.text()
    # another page with a different dense_relu: asked; Cancel keeps the library's file
    changed = dense_page_doc()
    changed["composites"]["dense_relu"]["doc"] = "x @ w + b, then relu, version 2"
    open_doc(w, tmp_path, changed, "second.json")
    w.prompt = asked = Asked(CANCEL)
    save_from_menu(w, "d1")
    assert asked.asked[0][0] == "Replace in Library" and str(lib / "dense_relu.json") in asked.asked[0][1]
    assert (lib / "dense_relu.json").read_text(encoding="utf-8") == first
    # Yes replaces it, and the palette shows the new doc at once
    w.prompt = Asked(YES)
    save_from_menu(w, "d1")
    assert load_composite(lib / "dense_relu.json").doc == "x @ w + b, then relu, version 2"
    assert "version 2" in w.palette.items["dense_relu"].toolTip(0)


def test_saving_under_a_standard_name_asks_and_a_block_type_name_is_refused(new_window, lib, tmp_path):
    w = new_window()
    warned = []
    w.warn = lambda title, text: warned.append(text)
    open_doc(w, tmp_path, dense_page_doc())
    save_from_menu(w, "d1", "MatMul")
    assert "name of a block type" in warned[-1] and not lib.exists()
    save_from_menu(w, "d1", "a:b")
    assert "file name" in warned[-1] and not lib.exists()
    w.prompt = asked = Asked(YES)
    save_from_menu(w, "d1", "layers.Dense")
    assert "standard library" in asked.asked[0][1]
    assert library().origin["layers.Dense"] == "user"
    assert "user library" in w.palette.items["layers.Dense"].toolTip(0)


def test_an_unwritable_library_folder_is_a_message(new_window, tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ENUFLOW_COMPOSITES_DIR", str(blocker / "composites"))
    w = new_window()
    warned = []
    w.warn = lambda title, text: warned.append((title, text))
    open_doc(w, tmp_path, dense_page_doc())
    assert w.save_composite_to_library("d1", "dense_relu") is None
    assert warned and warned[0][0] == "Save to Library"
    assert "not saved" in warned[0][1] and str(blocker / "composites") in warned[0][1]
    assert "Traceback" not in warned[0][1]
    assert blocker.read_text() == "not a folder" and len(w.page) == 2


def test_saving_a_nested_composite_saves_what_it_uses(new_window, lib, tmp_path):
    w = new_window()
    open_doc(w, tmp_path, nested_doc())
    save_from_menu(w, "net")
    assert sorted(p.name for p in lib.glob("*.json")) == ["dense_relu.json", "two_layers.json"]
    w.new_page()
    bid = drop_from_palette(w, "two_layers", QPointF(0, 0))
    assert set(w.page.composites) == {"two_layers", "dense_relu"}
    assert (w.block_item(bid).inputs, w.block_item(bid).outputs) == (["x"], ["y", "hidden"])


def test_values_kept_in_the_data_file_are_written_into_the_library_file(new_window, lib, tmp_path):
    from enuflow.app.document import datafile
    from enuflow.app.engine.runner import run_page

    w_value = np.asarray(W, np.float32) * 3
    datafile.write_npz(tmp_path / "page.npz", {"weights": w_value, "bad": np.asarray([np.nan], np.float32)})
    doc = dense_page_doc() | {"data": "page.npz"}
    doc["composites"]["dense_relu"]["blocks"][0]["pins"]["val"] = {"dtype": "float32", "shape": [2, 2],
                                                                   "data": "weights"}
    doc["blocks"][1]["pins"] = {"b": B}  # w: the definition's value, the one in the data file
    w = new_window()
    open_doc(w, tmp_path, doc)
    save_from_menu(w, "d1")
    saved = load_composite(lib / "dense_relu.json")
    assert saved.pin_default("w") == {"dtype": "float32", "shape": [2, 2], "value": w_value.tolist()}
    page = Page("elsewhere")
    page.add_block(BlockInstance("x", "Const", (0, 0), {"val": X, "dtype": "float32"}))
    place(page, saved, (200, 0), "d", known=library().composites)
    page.add_link(Link("x", "output", "d", "x"))
    page.set_pin("d", "b", B)
    report = run_page(page)
    assert not report.errors, report.errors
    expected = relu(np.asarray(X, np.float32) @ w_value + np.asarray(B, np.float32))
    np.testing.assert_allclose(report.results.values[("d", "y")], expected, rtol=1e-6)
    # a value JSON cannot hold is refused, naming the block and pin; nothing is written
    doc["composites"]["dense_relu"]["blocks"][1]["pins"]["val"] = {"dtype": "float32", "shape": [1], "data": "bad"}
    open_doc(w, tmp_path, doc, "nan.json")
    warned = []
    w.warn = lambda title, text: warned.append(text)
    w.prompt = Asked(YES)
    save_from_menu(w, "d1")
    assert "block 'b', pin 'val'" in warned[0] and "finite" in warned[0]
    assert load_composite(lib / "dense_relu.json").pin_default("b") == [0.0]


def test_a_library_file_that_cannot_be_read_is_said_in_the_palette(new_window, lib):
    lib.mkdir()
    (lib / "broken.json").write_text('{"format": "enuflow.composite", "name": "broken", "blocks": []}')
    w = new_window()
    group = w.palette.items["layers.Dense"].parent()
    note = [group.child(i) for i in range(group.childCount()) if group.child(i).text(0) == "(1 file not read)"]
    assert note and str(lib / "broken.json") in note[0].toolTip(0) and "non-empty list" in note[0].toolTip(0)
    assert "broken" not in w.palette.items


def test_only_composite_blocks_offer_save_to_library(new_window, lib, tmp_path):
    w = new_window()
    open_doc(w, tmp_path, dense_page_doc())
    menu = w.canvas_menu(w.block_item("x").mapToScene(QPointF(30, 10)))
    assert "Save to Library..." not in [a.text().replace("&", "") for a in menu.actions()]
    w.select(["x"])
    assert w.save_composite_to_library() is None and "Select one composite block" in w.status_label.text()
    assert not lib.exists()


# -- the engine side: keep both still computes what numpy computes -----------------------------------------------

def test_keep_both_renames_the_placed_composite_and_the_ones_it_uses():
    from enuflow.app.engine.runner import run_page

    doc = nested_doc()["composites"]
    known = {n: composite_from_doc("lib", n, d) for n, d in doc.items()}
    page = Page("p")
    page.add_block(BlockInstance("x", "Const", (0, 0), {"val": X, "dtype": "float32"}))
    mine = copy.deepcopy(doc["dense_relu"])
    mine["doc"] = "the page's, without a bias"
    page.set_composite("dense_relu", composite_from_doc("p", "dense_relu", mine))
    with pytest.raises(PlaceError) as refused:
        place(page, known["two_layers"], known=known)
    assert refused.value.names == ["dense_relu"] and len(page) == 1
    plan = plan_place(page, known["two_layers"], known, keep_both=True)
    assert plan.type_name == "two_layers" and set(plan.add) == {"dense_relu_2", "two_layers"}
    assert {b.type for b in plan.add["two_layers"].blocks} == {"dense_relu_2"}
    net = place(page, known["two_layers"], (200, 0), "net", known=known, keep_both=True)
    page.add_link(Link("x", "output", "net", "x"))
    w2 = [[1.0, 0.0], [-1.0, 1.0]]
    page.set_pin(net.id, "w1", W)
    page.set_pin(net.id, "w2", w2)
    report = run_page(page)
    assert not report.errors, report.errors
    x, w1, w2 = (np.asarray(a, np.float32) for a in (X, W, w2))
    hidden = relu(x @ w1 + 1.0)  # two_layers sets l1's bias to [1, 1]
    np.testing.assert_allclose(report.results.values[("net", "hidden")], hidden, rtol=1e-6)
    np.testing.assert_allclose(report.results.values[("net", "y")], relu(hidden @ w2), rtol=1e-6)
    # placing it again reuses the copies made the first time
    again = plan_place(page, known["two_layers"], known, keep_both=True)
    assert again.add == {} and again.type_name == "two_layers"


# -- io: enuflow blocks and the palette ---------------------------------------------------------------------------

def test_a_composite_whose_inner_block_reads_a_file_is_io(new_window, gui_catalogue, lib, tmp_path, capsys):
    reader = composite_reader_doc(tmp_path / "secret.txt")["composites"]["reader"]
    save_to_library(composite_from_doc("t", "reader", reader))
    outer = {"inputs": [], "outputs": [{"name": "text", "from": ["in", "y"]}], "pins": [],
             "blocks": [{"id": "in", "type": "reader"}], "links": []}
    save_to_library(composite_from_doc("t", "outer", outer))
    assert cli.main(["blocks", "--category", "composite", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert (rows["reader"]["io"], rows["outer"]["io"]) == (True, True)
    assert rows["layers.Dense"]["io"] is False and rows["layers.Conv2D"]["io"] is False
    assert cli.main(["blocks", "outer"]) == 0
    assert "in/r" in capsys.readouterr().out
    w = new_window()
    assert "runs only when allowed" in w.palette.items["outer"].toolTip(0)
    assert "in/r" in w.palette.items["outer"].toolTip(0)
    assert "runs only when allowed" not in w.palette.items["layers.Dense"].toolTip(0)
