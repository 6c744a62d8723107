"""Thousands of canvas items created, drawn, moved, deleted and restored in one process.

Guards against PySide6 builds that crash after many calls returning None ("Fatal Python error:
none_dealloc", seen with 6.12.0 on Python 3.11): the pin in pyproject.toml excludes them, and this test
makes such calls by the ten thousand through the editor's own code paths."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF
from PySide6.QtGui import QFont, QImage, QPainter

from enuflow.app.gui.commands import AddBlocksCommand, MoveCommand
from enuflow.app.gui.window import MainWindow
from enuflow.app.document.page import BlockInstance, Link

N = 3000


def test_thousands_of_items(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("ENUFLOW_RECOVERY_DIR", str(tmp_path))
    w = MainWindow(start_worker=False)
    qtbot.addWidget(w)
    blocks = [BlockInstance("c0", "Const", (0.0, 0.0), {"val": [1, 2], "dtype": "int64"}),
              BlockInstance("c1", "Const", (0.0, 150.0), {"val": [1.0, 2.0]})]
    blocks += [BlockInstance(f"g{i}", "SparseFillEmptyRowsGrad", (250.0 * (i % 60), 150.0 * (i // 60)), {})
               for i in range(2, N)]
    ids = [b.id for b in blocks]
    links = []
    for i in range(2, N):
        a, b = ids[i - 1], ids[i - 2]
        links.append(Link(a, "d_values" if a[0] == "g" else "output", ids[i], "reverse_index_map"))
        links.append(Link(b, "d_default_value" if b[0] == "g" else "output", ids[i], "grad_values"))
    w.undo.push(AddBlocksCommand(w.page, blocks, links))
    assert len(w.scene.blocks) == N and len(w.scene.wires) == 2 * (N - 2)
    # draw everything, zoomed out (simple form) and zoomed in (full form)
    for zoom in (0.05, 1.0):
        w.view.resetTransform()
        w.view.scale(zoom, zoom)
        img = QImage(800, 600, QImage.Format.Format_ARGB32)
        p = QPainter(img)
        w.scene.render(p)
        p.end()
    # ten thousands of None-returning calls: moves through the model, and fonts
    old = {b: w.page.block(b).pos for b in ids}
    new = {b: (x + 10.0, y + 5.0) for b, (x, y) in old.items()}
    for _ in range(3):
        w.undo.push(MoveCommand(w.page, old, new))
        w.undo.undo()
    f = QFont()
    for i in range(20_000):
        f.setPointSize(6 + i % 10)
    w.select_all()
    w.delete_selection()
    assert not w.scene.blocks and not w.scene.wires and len(w.page) == 0
    w.undo.undo()
    assert len(w.scene.blocks) == N and w.block_item("g100").pos() == QPointF(*old["g100"])
    w.undo.undo()
    assert len(w.page) == 0 and not w.scene.items()
    w.undo.setClean()
    w.close()
