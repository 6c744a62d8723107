"""Drawing the same output twice into a list port in the editor, as a person does: drag the wires, see each copy,
select one and delete it, undo."""

from __future__ import annotations

from enuflow.app.gui.canvas.items import WireItem
from PySide6.QtCore import QEvent, QPointF, Qt
from test_gui import _mouse, drop_from_palette, set_field, window, wire  # noqa: F401 - window is a fixture


def test_second_wire_from_the_same_output_into_a_list_port(window):  # noqa: F811
    w = window
    from enuflow.blocks import catalogue

    catalogue.load_catalogue()  # the catalogue cache the worker leaves, so that AddN is in the palette
    assert w.load_catalogue()
    s = drop_from_palette(w, "AddN", QPointF(400, 100))
    a = drop_from_palette(w, "Const", QPointF(60, 40))
    b = drop_from_palette(w, "Const", QPointF(60, 260))
    for bid, val in ((a, "[1.5, -2, 3]"), (b, "[10, 20, 40]")):
        set_field(w, bid, "val", val)
        set_field(w, bid, "dtype", "float32")
    wire(w, a, "output", s, "inputs")
    wire(w, b, "output", s, "inputs")
    wire(w, a, "output", s, "inputs")  # the same output again: AddN(a, b, a)
    assert [(ln.src, ln.dst_port) for ln in w.page.links] == [(a, "inputs"), (b, "inputs"), (a, "inputs")]
    assert "Link refused" not in w.status_label.text()
    w.revalidate()
    assert w.problems.count() == 0, [w.problems.item(i).text() for i in range(w.problems.count())]

    # one wire per link, and the copy is drawn apart from the first so that it can be seen and picked
    assert sorted(w.link_items(), key=str) == sorted(w.page.links, key=str)
    first, copy = w.scene.wires[w.page.links[0]], w.scene._repeats[w.page.links[0]][0]
    assert first.path().pointAtPercent(0) == copy.path().pointAtPercent(0)
    mid = copy.path().pointAtPercent(0.5)
    assert (mid - first.path().pointAtPercent(0.5)).manhattanLength() > 10

    # a single input still refuses a second link from the same output
    n = drop_from_palette(w, "Neg", QPointF(400, 400))
    wire(w, a, "output", n, "x")
    wire(w, a, "output", n, "x")
    assert sum(1 for ln in w.page.links if ln.dst == n) == 1 and "already" in w.status_label.text()

    # click the copy and delete it: the first a and b stay, in their order
    w.scene.clearSelection()
    assert any(isinstance(it, WireItem) and it is copy for it in w.scene.items(mid))
    _mouse(w, QEvent.Type.MouseButtonPress, mid, Qt.MouseButton.LeftButton)
    _mouse(w, QEvent.Type.MouseButtonRelease, mid, Qt.MouseButton.NoButton)
    assert w.scene.selectedItems() == [copy]
    w.delete_selection()
    assert [(ln.src, ln.dst) for ln in w.page.links if ln.dst == s] == [(a, s), (b, s)]
    assert len(w.scene.wire_items()) == len(w.page.links) and not w.scene._repeats
    w.undo.undo()
    assert [(ln.src, ln.dst) for ln in w.page.links if ln.dst == s] == [(a, s), (b, s), (a, s)]
    assert len(w.scene.wire_items()) == len(w.page.links)

    # selecting the first copy deletes that one: b comes first then
    w.scene.clearSelection()
    w.scene.wires[w.page.links[0]].setSelected(True)
    w.delete_selection()
    assert [(ln.src, ln.dst) for ln in w.page.links if ln.dst == s] == [(b, s), (a, s)]
    while w.undo.canUndo():
        w.undo.undo()
    assert not w.page.links and not w.scene.wire_items()
    while w.undo.canRedo():
        w.undo.redo()
    assert [(ln.src, ln.dst) for ln in w.page.links if ln.dst == s] == [(b, s), (a, s)]
    assert len(w.scene.wire_items()) == len(w.page.links)
