"""Opening MobileNetV2 (a 1,053-node frozen Keras model) in the editor, folded by name scope, against NodeGraphQt
drawing the same graph.

The model is ``tf.keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None)`` frozen with
``convert_variables_to_constants_v2`` (1,053 nodes), written as ``model.pb`` in a child process (the editor side
of this bench runs without TensorFlow, as the editor does). The block catalogue's cache exists, as after the
editor's first start (the bench makes it when missing). Timed, from the call to the first rendered frame:

- enuflow: ``make_window(model.pb)`` (reading the GraphDef without TensorFlow, the page and its data file, the
  page folded by name scope into nested composites, each level laid out with the layered layout, the scene's
  blocks and wires of the top level), showing the window, the catalogue's op blocks coming in (the palette
  filled, as 50 ms after any start), fitting the view and rendering one frame offscreen; every block of the top
  level drawn (at most 60), no two overlapping, every coordinate finite;
- NodeGraphQt, the most used Qt node-graph editor in Python: reading the same file (the same protobuf parse),
  layers left to right by dependency (networkx's topological generations), one node per NodeDef with a port
  per input and per output used (declared in its node types, NodeGraphQt's fast path), one ``connect_to`` per
  data input (undo recording off), showing the viewer and rendering one frame. That is the least an editor
  does to show the model: it checks nothing, reads no weights and folds nothing, so it is a lower bound for a
  fair editor. Drawing all 1,053 nodes is what NodeGraphQt offers for a model (it has no folding), and what a
  person gets from it; the issue sets the comparison so. (NodeGraphQt's own ``auto_layout_nodes`` took 1.6 s
  for 106 nodes and grows faster than the graph, and ports added to nodes already on the graph took seconds:
  neither is its fastest path.)

The ratio is taken against NodeGraphQt *without* ``fit_to_selection``: that call is quadratic in the number
of nodes in NodeGraphQt and took most of the peer's time, so comparing with it would flatter enuflow (a fast
editor's fit is the bounding box of the items, which is what enuflow's ``fit`` costs). NodeGraphQt with
``fit_to_selection`` is measured once too and printed for information (``--no-fit-run`` skips it).

The sides alternate in pairs after a warm-up pair, each run followed by the same clean-up
(``bench/common.py``). Prints the median times and, last, ``ratio <enuflow / NodeGraphQt without
fit_to_selection>`` (target <= 0.2). Without NodeGraphQt it stops at once with exit status 2 and says so
(``pip install -e '.[bench]'``).

    .venv/bin/python bench/model_open.py [--size 96] [--pairs 3] [--no-fit-run]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("ENUFLOW_RECOVERY_DIR", tempfile.mkdtemp(prefix="enuflow-bench-rec-"))
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from common import finish, paired, require, show  # noqa: E402


def write_model(size: int, folder: Path) -> tuple[Path, int]:
    """MobileNetV2 frozen as ``model.pb`` in ``folder``, and its node count (in a child process: the editor
    side of this bench runs without TensorFlow loaded, as the editor does)."""
    import subprocess

    code = ("import sys; sys.path.insert(0, %r)\n"
            "from enuflow.blocks.catalogue import load_catalogue\n"
            "from enuflow.blocks.tf import load\n"
            "from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2\n"
            "load_catalogue()  # the catalogue's cache, as after the editor's first start\n"
            "tf = load()\n"
            "m = tf.keras.applications.MobileNetV2(input_shape=(%d, %d, 3), weights=None)\n"
            "fn = tf.function(lambda x: m(x, training=False)).get_concrete_function(\n"
            "    tf.TensorSpec([None, %d, %d, 3], tf.float32, name='x'))\n"
            "gd = convert_variables_to_constants_v2(fn).graph.as_graph_def()\n"
            "open(%r, 'wb').write(gd.SerializeToString())\n"
            "print(len(gd.node))\n") % (str(HERE.parent), size, size, size, size, str(folder / "model.pb"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return folder / "model.pb", int(r.stdout.strip().splitlines()[-1])


def clean_up(app, widget) -> None:
    from PySide6.QtCore import QEvent

    widget.close()
    widget.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    app.processEvents()
    gc.collect()


def ours(app, model: Path, nodes: int) -> float:
    from enuflow.app.gui.main import make_window

    gc.collect()
    t0 = time.perf_counter()
    w = make_window(str(model), start_worker=False, offer_restore=False)
    w.show()
    w.load_catalogue()
    w.view.fit()
    app.processEvents()
    img = w.view.viewport().grab()
    dt = time.perf_counter() - t0
    assert not img.isNull()
    assert len(w.scene.blocks) == len(w.page) <= 60 and len(w.scene.wires) == len(w.page.links)
    assert w.page.composites, "the model did not open folded"
    assert w.scene.overlapping() == [], "blocks overlap"
    assert all(math.isfinite(v) for b in w.page for v in b.pos)
    w.prompt = lambda *a: None
    clean_up(app, w)
    return dt


_CLASSES: dict[tuple[int, int], type] = {}


def node_class(NodeGraphQt, n_in: int, n_out: int) -> type:
    """A NodeGraphQt node type with ``n_in`` inputs and ``n_out`` outputs declared in its constructor (its
    fast path: ports added to a node already on the graph redraw it each time)."""
    cls = _CLASSES.get((n_in, n_out))
    if cls is None:
        def init(self) -> None:
            NodeGraphQt.BaseNode.__init__(self)
            for i in range(n_in):
                self.add_input(f"in{i}")
            for i in range(n_out):
                self.add_output(f"out{i}")

        cls = type(f"Op{n_in}x{n_out}", (NodeGraphQt.BaseNode,),
                   {"__identifier__": "bench", "NODE_NAME": f"Op{n_in}x{n_out}", "__init__": init})
        _CLASSES[(n_in, n_out)] = cls
    return cls


def nodegraphqt(app, model: Path, fit: bool = False) -> float:
    import networkx as nx
    import NodeGraphQt

    from enuflow.app.document.formats import graphdef

    gc.collect()
    t0 = time.perf_counter()
    gd = graphdef.parse(model.read_bytes())
    outs: dict[str, int] = {}
    data_inputs = {}
    dag = nx.DiGraph()
    for n in gd.node:
        ins = [s for s in n.input if not s.startswith("^")]
        data_inputs[n.name] = ins
        dag.add_node(n.name)
        for s in ins:
            src, _, idx = s.partition(":")
            outs[src] = max(outs.get(src, 1), int(idx or 0) + 1)
            dag.add_edge(src, n.name)
    pos = {}  # layers left to right by dependency, as an editor lays a model out
    for x, layer in enumerate(nx.topological_generations(dag)):
        for y, name in enumerate(layer):
            pos[name] = [x * 260.0, y * 120.0]
    graph = NodeGraphQt.NodeGraph()
    made = {}
    registered = set()
    for n in gd.node:
        key = (len(data_inputs[n.name]), outs.get(n.name, 1))
        cls = node_class(NodeGraphQt, *key)
        if key not in registered:
            graph.register_node(cls)
            registered.add(key)
        made[n.name] = graph.create_node(f"bench.{cls.__name__}", name=n.name, pos=pos[n.name], push_undo=False,
                                         selected=False)
    for n in gd.node:
        for i, s in enumerate(data_inputs[n.name]):
            src, _, idx = s.partition(":")
            made[src].get_output(f"out{int(idx or 0)}").connect_to(made[n.name].get_input(f"in{i}"), push_undo=False)
    viewer = graph.viewer()
    viewer.resize(1400, 860)
    viewer.show()
    if fit:
        graph.fit_to_selection()
    app.processEvents()
    img = viewer.viewport().grab()
    dt = time.perf_counter() - t0
    assert not img.isNull() and len(graph.all_nodes()) == len(gd.node)
    clean_up(app, viewer)
    del made, graph
    gc.collect()
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=96, help="the model's input size (96: 96x96x3)")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--no-fit-run", action="store_true", help="skip the run of NodeGraphQt with fit_to_selection")
    args = ap.parse_args()
    require("NodeGraphQt", "model_open")
    folder = Path(tempfile.mkdtemp(prefix="enuflow-bench-"))
    os.environ.setdefault("XDG_CACHE_HOME", str(folder / "cache"))  # the editor's import folder
    model, nodes = write_model(args.size, folder)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    print(f"model: MobileNetV2 {args.size}x{args.size}, {nodes} nodes, {model.stat().st_size:,} bytes")
    first = ours(app, model, nodes)  # the first open also reads the block catalogue's cache
    res = paired(lambda: ours(app, model, nodes), lambda: nodegraphqt(app, model), pairs=args.pairs)
    with_fit = None if args.no_fit_run else nodegraphqt(app, model, fit=True)
    assert "tensorflow" not in sys.modules, "the editor side loaded TensorFlow"
    print(f"enuflow's first open (catalogue read too): {first:6.2f} s")
    if with_fit is not None:
        print(f"NodeGraphQt with fit_to_selection (one run, for information): {with_fit:6.2f} s; "
              f"enuflow's median against it {statistics.median(res.ours) / with_fit:.3f}")
    show(res, "enuflow opens it laid out", "NodeGraphQt, no fit_to_selection")
    finish(res.ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
