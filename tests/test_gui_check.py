"""The editor shows the worker's static check (issue 23): each wire's static type in its tooltip, and the check's
problems in the Problems panel, after the page is opened and again after an edit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from enuflow.app.document.page import Link
from enuflow.app.gui.style import dtype_colour

CLASH = {"format": "enuflow.page", "version": 1, "name": "clash",
         "blocks": [{"id": "f", "type": "Const", "pos": [0, 0], "pins": {"val": "1.5,2.5,3.5"}},
                    {"id": "i", "type": "Const", "pos": [0, 160], "pins": {"val": "10,20,30"}},
                    {"id": "add", "type": "Add", "pos": [300, 60], "pins": {}}],
         "links": [{"from": ["f", "output"], "to": ["add", "x"]}, {"from": ["i", "output"], "to": ["add", "y"]}]}


def problems(w: Any) -> list[str]:
    return [w.problems.item(i).text() for i in range(w.problems.count())]


def test_wires_show_static_types_and_the_check_lists_the_clash(qtbot: Any, new_window: Any, gui_catalogue: Any,
                                                                tmp_path: Path) -> None:
    path = tmp_path / "clash.json"
    path.write_text(json.dumps(CLASH))
    w = new_window(start_worker=True)
    try:
        assert w.open_path(str(path), ask=False)
        qtbot.waitUntil(lambda: any("gets int32, but T is float32" in p for p in problems(w)), timeout=120_000)
        (clash,) = [p for p in problems(w) if "gets int32" in p]
        assert "block 'add'" in clash and "port 'y'" in clash
        assert w.scene.wires[Link("f", "output", "add", "x")].toolTip() == "f.output \u2192 add.x\nf32[3]"
        assert w.scene.wires[Link("i", "output", "add", "y")].toolTip().endswith("\ni32[3]")
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
    finally:
        if w.worker is not None:
            w.worker.close()
            w.worker = None
