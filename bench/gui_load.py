"""Opening a large page in the editor: a generated page of 2,000 blocks and ~4,000 links is written to a
file, opened in the editor window (load, validate, build the scene, fit) and one frame is rendered
offscreen. Times at 200 / 1,000 / 2,000 blocks, against NodeGraphQt doing the same work (``create_node``
per block, ``connect_to`` per link, then one rendered frame of its viewer).

Prints the figures and ends with ``ratio <ours at 2,000 / NodeGraphQt at 2,000>``. Without NodeGraphQt
(``pip install enuflow[bench]``), the ratio is against the documented figure of 13 s for NodeGraphQt at
2,000 nodes on this machine size (the issue's measurement) and says so.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("ENUFLOW_RECOVERY_DIR", tempfile.mkdtemp(prefix="enuflow-bench-rec-"))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

SIZES = (200, 1000, 2000)
REPEATS = 3
NODEGRAPHQT_DOCUMENTED_2000 = 13.0


def page_doc(n: int) -> dict:
    """n blocks; every block after the first two takes two links from the two before it (~2n links)."""
    blocks = [{"id": "c0", "type": "Const", "pos": [0, 0], "pins": {"val": [0, 1], "dtype": "int64"}},
              {"id": "c1", "type": "Const", "pos": [0, 140], "pins": {"val": [1.0, 2.0], "dtype": "float32"}}]
    links = []
    cols = max(int(n ** 0.5), 1)
    for i in range(2, n):
        blocks.append({"id": f"g{i}", "type": "SparseFillEmptyRowsGrad",
                       "pos": [250 * (i % cols), 140 * (i // cols)], "pins": {}})
    ids = [b["id"] for b in blocks]
    for i in range(2, n):
        a, b = ids[i - 1], ids[i - 2]
        links.append({"from": [a, "d_values" if a.startswith("g") else "output"], "to": [ids[i], "reverse_index_map"]})
        links.append({"from": [b, "d_default_value" if b.startswith("g") else "output"], "to": [ids[i], "grad_values"]})
    return {"format": "enuflow.page", "version": 1, "name": f"bench{n}", "blocks": blocks, "links": links}


def render(view) -> None:
    img = view.viewport().grab()
    assert not img.isNull()


def ours(app: QApplication, n: int, folder: Path) -> float:
    from enuflow.app.gui.main import make_window

    path = folder / f"page{n}.json"
    path.write_text(json.dumps(page_doc(n)), encoding="utf-8")
    gc.collect()
    t0 = time.perf_counter()
    w = make_window(str(path), start_worker=False, offer_restore=False)
    w.show()
    w.view.fit()
    app.processEvents()
    render(w.view)
    dt = time.perf_counter() - t0
    assert len(w.scene.blocks) == n and len(w.scene.wires) == 2 * (n - 2)
    w.prompt = lambda *a: None
    w._restored_dirty = False
    w.undo.setClean()
    w.close()
    w.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    del w
    gc.collect()
    return dt


def nodegraphqt(app: QApplication, n: int) -> float | None:
    try:
        import NodeGraphQt
    except ImportError:
        return None

    class Grad(NodeGraphQt.BaseNode):
        __identifier__ = "bench"
        NODE_NAME = "Grad"

        def __init__(self) -> None:
            super().__init__()
            self.add_input("reverse_index_map")
            self.add_input("grad_values")
            self.add_output("d_values")
            self.add_output("d_default_value")

    doc = page_doc(n)
    t0 = time.perf_counter()
    graph = NodeGraphQt.NodeGraph()
    graph.register_node(Grad)
    nodes = {}
    for b in doc["blocks"]:
        nodes[b["id"]] = graph.create_node("bench.Grad", name=b["id"], pos=b["pos"], push_undo=False)
    for ln in doc["links"]:
        src, sp = ln["from"]
        dst, dp = ln["to"]
        out = nodes[src].get_output(sp if sp != "output" else "d_values")
        out.connect_to(nodes[dst].get_input(dp), push_undo=False)
    viewer = graph.viewer()
    viewer.resize(1400, 860)
    viewer.show()
    graph.fit_to_selection() if hasattr(graph, "fit_to_selection") else None
    app.processEvents()
    render(viewer)
    dt = time.perf_counter() - t0
    viewer.close()
    return dt


def main() -> None:
    app = QApplication.instance() or QApplication([])
    folder = Path(tempfile.mkdtemp(prefix="enuflow-bench-"))
    mine = {}
    for n in SIZES:
        mine[n] = statistics.median(ours(app, n, folder) for _ in range(REPEATS))
        print(f"enuflow     {n:5d} blocks {2 * (n - 2):5d} links: {mine[n]:7.3f} s (median of {REPEATS})")
    peer = {}
    for n in SIZES:
        times = [nodegraphqt(app, n) for _ in range(REPEATS)]
        if None in times:
            break
        peer[n] = statistics.median(times)
        print(f"NodeGraphQt {n:5d} nodes  {2 * (n - 2):5d} links: {peer[n]:7.3f} s (median of {REPEATS})")
    lin = mine[2000] / mine[200] / 10
    print(f"growth 200 -> 2,000 blocks: x{mine[2000] / mine[200]:.1f} (x10 is linear; relative {lin:.2f})")
    if 2000 in peer:
        print(f"ratio {mine[2000] / peer[2000]:.4f}")
    else:
        print(f"NodeGraphQt is not installed: ratio against its documented {NODEGRAPHQT_DOCUMENTED_2000} s at 2,000")
        print(f"ratio {mine[2000] / NODEGRAPHQT_DOCUMENTED_2000:.4f}")


if __name__ == "__main__":
    main()
