"""The editor shows the worker's static check (issue 23): each wire's static type in its tooltip, and the check's
problems in the Problems panel, after the page is opened and again after an edit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from enuflow.app.document.page import Link
from enuflow.app.gui.style import dtype_colour

CLASH = {"format": "enuflow.page", "version": 1, "name": "clash",
         "blocks": [{"id": "f", "type": "Const", "pos": [0, 0], "pins": {"val": "1.5,2.5,3.5"}},
                    {"id": "i", "type": "Const", "pos": [0, 160], "pins": {"val": "10,20,30"}},
                    {"id": "add", "type": "Add", "pos": [300, 60], "pins": {}}],
         "links": [{"from": ["f", "output"], "to": ["add", "x"]}, {"from": ["i", "output"], "to": ["add", "y"]}]}


def _picture(w: Any, rect: Any) -> Any:
    """The canvas's picture of ``rect`` at 200 %."""
    from PySide6.QtGui import QImage, QPainter

    img = QImage(int(rect.width() * 2), int(rect.height() * 2), QImage.Format.Format_ARGB32)
    img.fill(0xFFFFFFFF)
    p = QPainter(img)
    w.scene.render(p, img.rect().toRectF(), rect)
    p.end()
    return img


@contextmanager
def opened_with_worker(new_window: Any, tmp_path: Path, doc: dict) -> Iterator[Any]:
    """An editor with its worker (whose static check the test waits for) on the page ``doc``; the worker closed
    after."""
    path = tmp_path / f"{doc['name']}.json"
    path.write_text(json.dumps(doc))
    w = new_window(start_worker=True)
    try:
        assert w.open_path(str(path), ask=False)
        yield w
    finally:
        if w.worker is not None:
            w.worker.close()
            w.worker = None


def problems(w: Any) -> list[str]:
    return [w.problems.item(i).text() for i in range(w.problems.count())]


def test_wires_show_static_types_and_the_check_lists_the_clash(qtbot: Any, new_window: Any, gui_catalogue: Any,
                                                                tmp_path: Path) -> None:
    with opened_with_worker(new_window, tmp_path, CLASH) as w:
        qtbot.waitUntil(lambda: ("f", "output") in w.static_types, timeout=120_000)  # the worker's check came
        clashes = [p for p in problems(w) if "gets int32, but T is float32" in p]
        assert clashes and all("block 'add'" in c and "port 'y'" in c for c in clashes)
        assert w.scene.wires[Link("f", "output", "add", "x")].toolTip() == "f.output \u2192 add.x\nf32[3]"
        assert w.scene.wires[Link("i", "output", "add", "y")].toolTip().endswith("\ni32[3]")
        # and written at the wire's middle where the zoom lets it be read
        fx = w.scene.wires[Link("f", "output", "add", "x")]
        label = fx.label_rect()
        assert label is not None and fx.boundingRect().contains(label)
        shown = _picture(w, label)
        fx.set_type_text("")
        plain = _picture(w, label)
        fx.set_type_text("f32[3]")
        changed = sum(shown.pixel(x, y) != plain.pixel(x, y) for y in range(shown.height())
                      for x in range(shown.width()))
        assert changed > 20  # the letters
        # ports are coloured by the dtype they carry: the float ones alike, the int32 one apart
        add, f = w.block_item("add"), w.block_item("f")
        assert add.port_colour("x", False) == f.port_colour("output", True) == dtype_colour("float32")
        assert add.port_colour("y", False) == dtype_colour("int32") != dtype_colour("float32")
        # the person makes the whole numbers float32 in the inspector: the next check finds no clash
        w.select(["i"])
        field = w.inspector.fields["dtype"]
        field.setCurrentText("float32")
        field.lineEdit().editingFinished.emit()
        assert w.page.block("i").pins.get("dtype") == "float32"
        qtbot.waitUntil(lambda: ("add", "z") in w.static_types, timeout=60_000)
        assert w.static_types[("add", "z")] == {"dtype": "float32", "shape": [3]}
        assert not any("gets int32" in p for p in problems(w))
        assert w.scene.wires[Link("i", "output", "add", "y")].toolTip().endswith("\nf32[3]")
        assert w.block_item("add").port_colour("y", False) == dtype_colour("float32")


def test_a_wire_let_go_on_empty_canvas_searches_the_blocks_that_take_its_dtype(qtbot: Any, new_window: Any,
                                                                                gui_catalogue: Any) -> None:
    from PySide6.QtCore import QPointF

    from enuflow.app.gui import blocktypes
    from tests.test_gui import drop_from_palette, mouse_drag, set_field

    w = new_window()
    assert w.load_catalogue()  # every op known, as a moment after the editor starts
    c = drop_from_palette(w, "Const", QPointF(40, 60))
    set_field(w, c, "dtype", "string")
    set_field(w, c, "val", "abc")
    assert w.wire_dtype(c, "output", True) == "string"
    steps = w.undo.count()
    start = w.block_item(c).port_scene_pos("output", True)
    mouse_drag(w, start, start + QPointF(420, 260))  # let go where there is nothing
    qs = w._quick
    assert qs.isVisible() and "string" in qs.edit.placeholderText()
    shown = [qs.list.item(i).text() for i in range(qs.list.count())]
    assert "StringLength" in shown and "MatMul" not in shown
    for name in shown[:40]:  # every block offered has an input that takes a string
        decl = blocktypes.lookup(name)
        assert any(p.kind != "operation" and (p.dtype is None or (p.allowed and "string" in p.allowed)
                   or p.dtype == "string" or (decl.attr(p.dtype) is not None and not p.allowed))
                   for p in decl.inputs), name
    qs.edit.setText("StringLength")
    qtbot.keyClick(qs.edit, Qt.Key.Key_Return)
    (new,) = [b.id for b in w.page if b.type == "StringLength"]
    assert Link(c, "output", new, "input") in w.page.links
    assert w.undo.count() == steps + 1  # placed and wired: one undo step
    w.undo.undo()
    assert new not in w.page and not w.page.links


def test_the_race_warning_offers_the_control_link_that_fixes_it(qtbot: Any, new_window: Any, gui_catalogue: Any,
                                                                  tmp_path: Path) -> None:
    from enuflow.app.gui.fixes import FIX_ROLE
    from tests.test_check import race_page

    doc = race_page()
    for i, b in enumerate(doc["blocks"]):
        b["pos"] = [(i % 3) * 260, (i // 3) * 200]
    with opened_with_worker(new_window, tmp_path, doc) as w:

        def race_item() -> Any:
            for i in range(w.problems.count()):
                it = w.problems.item(i)
                if "with nothing ordering the two" in it.text():
                    return it
            return None

        qtbot.waitUntil(lambda: race_item() is not None, timeout=120_000)
        item = race_item()
        assert item.data(FIX_ROLE) == {"control": ["load", "predict"]}
        menu = w.problem_menu(w.problems.visualItemRect(item).center())
        (action,) = menu.actions()
        assert action.text() == "Fix: run 'predict' after 'load' (a control link)"
        steps = w.undo.count()
        action.trigger()  # as a person chooses it in the menu
        assert Link("load", "^", "predict", "^") in w.page.links and w.undo.count() == steps + 1
        qtbot.waitUntil(lambda: race_item() is None and w.check_id is not None, timeout=60_000)
        qtbot.wait(500)
        assert race_item() is None  # the next check finds the two ordered


def test_a_dtype_clash_offers_the_cast_that_fixes_it(qtbot: Any, new_window: Any, gui_catalogue: Any,
                                                      tmp_path: Path) -> None:
    from enuflow.app.gui.fixes import FIX_ROLE

    with opened_with_worker(new_window, tmp_path, CLASH) as w:

        def clash_item() -> Any:  # the worker's check offers the fix (the editor's own check lists it at once)
            for i in range(w.problems.count()):
                it = w.problems.item(i)
                if "gets int32, but T is float32" in it.text() and it.data(FIX_ROLE):
                    return it
            return None

        qtbot.waitUntil(lambda: clash_item() is not None, timeout=120_000)
        item = clash_item()
        assert item.data(FIX_ROLE) == {"cast": "float32", "block": "add", "port": "y"}
        (action,) = w.problem_menu(w.problems.visualItemRect(item).center()).actions()
        assert action.text() == "Fix: cast what 'add.y' gets to float32 (a Cast block)"
        steps = w.undo.count()
        action.trigger()
        (cast,) = [b for b in w.page if b.type == "Cast"]
        assert cast.pins == {"DstT": "float32"} and w.undo.count() == steps + 1
        assert Link("i", "output", cast.id, "x") in w.page.links and Link(cast.id, "y", "add", "y") in w.page.links
        assert Link("i", "output", "add", "y") not in w.page.links
        qtbot.waitUntil(lambda: w.static_types.get(("add", "z")) == {"dtype": "float32", "shape": [3]},
                        timeout=60_000)
        assert clash_item() is None and not any("gets int32" in p for p in problems(w))
        w.undo.undo()
        assert Link("i", "output", "add", "y") in w.page.links and not any(b.type == "Cast" for b in w.page)


def test_inputs_sharing_a_type_attr_refuse_a_second_dtype_while_wiring_and_on_load(new_window: Any,
                                                                                    gui_catalogue: Any,
                                                                                    tmp_path: Path) -> None:
    from PySide6.QtCore import QPointF

    from tests.test_gui import wire

    w = new_window()
    assert w.load_catalogue()
    path = tmp_path / "clash.json"
    path.write_text(json.dumps({**CLASH, "links": CLASH["links"][:1]}))  # f -> add.x only
    assert w.open_path(str(path), ask=False)
    w.view.fit()
    wire(w, "i", "output", "add", "y")  # as a person drags it: refused, saying why
    assert Link("i", "output", "add", "y") not in w.page.links
    assert "gets int32, but T is float32 (set by input 'x', from f.output)" in w.status_label.text()
    # the page saved with both wires lists the clash as soon as it opens, before any run or worker check
    path.write_text(json.dumps(CLASH))
    assert w.open_path(str(path), ask=False)
    assert any("add" in p and "but T is float32" in p for p in problems(w))
    assert not any("port 'x'" in p for p in problems(w))  # the first input sets T, as TensorFlow reads it


def test_a_value_into_a_ref_or_resource_input_is_refused_saying_what_it_takes(new_window: Any,
                                                                               gui_catalogue: Any) -> None:
    from enuflow.app.document.page import BlockInstance, Page
    from enuflow.app.gui import blocktypes

    page = Page("refs")
    for bid, typ in (("c", "Const"), ("v", "Variable"), ("h", "VarHandleOp"), ("assign", "Assign"),
                     ("write", "AssignVariableOp")):
        page.add_block(BlockInstance(bid, typ, (0.0, 0.0), {}))
    refused = blocktypes.check_link(page, "c", "output", True, "assign", "ref", False)
    assert not refused.ok and "takes a variable's ref" in refused.reason and "not a value" in refused.reason
    assert blocktypes.check_link(page, "v", "ref", True, "assign", "ref", False).ok
    refused = blocktypes.check_link(page, "c", "output", True, "write", "resource", False)
    assert not refused.ok and "resource handle" in refused.reason
    assert blocktypes.check_link(page, "h", "resource", True, "write", "resource", False).ok
    assert blocktypes.check_link(page, "c", "output", True, "write", "value", False).ok
