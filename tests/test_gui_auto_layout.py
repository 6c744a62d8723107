"""Auto Layout (Ctrl+L) in the editor on every shipped scene and on enuSpace's MNIST softmax page (as tests build
it): no two block rectangles (as drawn) overlap, every coordinate is finite, wires go left to right (all of them
on an acyclic page), each Const read by one block sits just left of it, and one undo puts every block back.
Measured on the canvas items and the page's links, independently of the layout's own bookkeeping."""

from __future__ import annotations

import math
import os
import sys
from itertools import combinations
from pathlib import Path

import networkx as nx
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import Qt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from mnist_files import softmax_page  # noqa: E402


@pytest.fixture
def window(new_window, gui_catalogue):
    return new_window(size=(1400, 860), load=True)


def pages(tmp: Path) -> list[Path]:
    return sorted((ROOT / "scenes").glob("*.json")) + [softmax_page(tmp)]


def rects(w) -> dict:
    out = {}
    for bid, it in w.scene.blocks.items():
        r = it.mapRectToScene(it.body_rect())
        out[bid] = (r.left(), r.top(), r.right(), r.bottom())
    return out


def test_ctrl_l_on_every_scene_and_the_mnist_page(window, tmp_path, qtbot):
    w = window
    for path in pages(tmp_path):
        assert w.open_path(str(path), ask=False), path
        for k, b in enumerate(list(w.page)):  # piled up (the MNIST page opens laid out already)
            w.page.move_block(b.id, (7.0 * k, 3.0 * k))
        before = {b.id: tuple(b.pos) for b in w.page}
        w.view.setFocus()
        qtbot.keyClick(w.view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
        pos = {b.id: tuple(b.pos) for b in w.page}
        assert pos != before, path.name
        box = rects(w)
        for bid, r in box.items():
            assert all(math.isfinite(v) and abs(v) < 1e6 for v in r), (path.name, bid, r)
        for (a, ra), (b, rb) in combinations(box.items(), 2):
            assert ra[2] <= rb[0] or rb[2] <= ra[0] or ra[3] <= rb[1] or rb[3] <= ra[1], \
                f"{path.name}: {a} overlaps {b}"
        g = nx.DiGraph((ln.src, ln.dst) for ln in w.page.links)
        backwards = [ln for ln in w.page.links if box[ln.dst][0] <= box[ln.src][2]]
        if nx.is_directed_acyclic_graph(g):
            assert backwards == [], (path.name, backwards)
        else:
            assert len(backwards) <= len(w.page.links) // 5, path.name
        readers: dict[str, set[str]] = {}
        for ln in w.page.links:
            readers.setdefault(ln.src, set()).add(ln.dst)
        for b in w.page:
            if b.type == "Const" and len(readers.get(b.id, ())) == 1:
                (r,) = readers[b.id]
                assert 0 < box[r][0] - box[b.id][2] <= 100, (path.name, b.id, r)  # just left of its reader
        w.undo.undo()
        assert {b.id: tuple(b.pos) for b in w.page} == before, path.name
        w.undo.redo()
        assert {b.id: tuple(b.pos) for b in w.page} == pos, path.name
