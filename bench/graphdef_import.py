"""Opening and running a ~1,000-node frozen Keras model as a page, against TensorFlow running the same file.

Builds a Keras model (residual blocks of Dense, BatchNormalization, ReLU and Add; its weights random),
freezes it with ``convert_variables_to_constants_v2`` and writes the GraphDef (``model.pb``). Then, in the
same process and on the same input, times:

- enuflow: ``import_model`` (GraphDef -> page JSON + .npz data file), loading the page, ``--feed`` of the
  input, and ``run_page`` (analysis, build, session, one run fetching every block's result);
- TensorFlow: reading the file, ``GraphDef.ParseFromString``, ``tf.import_graph_def`` into a fresh graph,
  a ``Session`` and ``Session.run`` of the output. This is the fastest fair way to run a frozen GraphDef
  from a file (nothing is cached between repeats, as nothing is cached for enuflow's import).

Checks both give the same output (1e-5), prints both times (median of the repeats) and, last,
``ratio <n>`` (enuflow / TensorFlow; target <= 3).

    .venv/bin/python bench/graphdef_import.py [--blocks 42] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_model(blocks: int, width: int = 32) -> tuple[object, str]:
    """A frozen GraphDef of a residual MLP and the name of its output tensor."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from enuflow.blocks.tf import load

    tf = load()
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((width,))
    h = inp
    for _ in range(blocks):
        y = tf.keras.layers.Dense(width)(h)
        y = tf.keras.layers.BatchNormalization()(y)
        y = tf.keras.layers.ReLU()(y)
        h = tf.keras.layers.Add()([h, y])
    out = tf.keras.layers.Dense(10, activation="softmax")(h)
    model = tf.keras.Model(inp, out)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([None, width], tf.float32, name="x"))
    frozen = convert_variables_to_constants_v2(fn)
    return frozen.graph.as_graph_def(), frozen.outputs[0].name


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=42, help="residual blocks (24 nodes each; 42 give 1,018 nodes)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    import numpy as np

    from enuflow.app.document.formats import load as load_page
    from enuflow.app.engine.feeds import apply_feeds
    from enuflow.app.engine.import_model import import_model
    from enuflow.app.engine.runner import run_page
    from enuflow.blocks.tf import load

    tf = load()
    gd, out_name = make_model(args.blocks)
    tmp = Path(tempfile.mkdtemp(prefix="enuflow-bench-"))
    model = tmp / "model.pb"
    model.write_bytes(gd.SerializeToString())
    x = np.random.RandomState(1).rand(16, 32).astype(np.float32)
    np.save(tmp / "x.npy", x)
    out_node = out_name.split(":")[0]
    print(f"model: {len(gd.node)} nodes, {model.stat().st_size:,} bytes")

    def enuflow_once(i: int) -> np.ndarray:
        page_path = tmp / f"page{i}.json"
        import_model(model, page_path)
        page = load_page(page_path)
        problems = apply_feeds(page, [f"x={tmp / 'x.npy'}"])
        assert not problems, problems
        report = run_page(page)
        assert report.ok, report.errors[:3]
        return report.results.get(out_node, "output")

    def tensorflow_once(i: int) -> np.ndarray:
        g_def = tf.compat.v1.GraphDef()
        g_def.ParseFromString(model.read_bytes())
        g = tf.Graph()
        with g.as_default():
            tf.compat.v1.import_graph_def(g_def, name="")
        with tf.compat.v1.Session(graph=g) as s:
            return s.run(out_name, {"x:0": x})

    ours, theirs = [], []
    a = enuflow_once(-1)  # warm both (TensorFlow's kernels, enuflow's block catalogue)
    b = tensorflow_once(-1)
    np.testing.assert_allclose(a, b, atol=1e-5)
    for i in range(args.repeat):
        t0 = time.perf_counter()
        tensorflow_once(i)
        theirs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        enuflow_once(i)
        ours.append(time.perf_counter() - t0)
    t_ours, t_tf = statistics.median(ours), statistics.median(theirs)
    print(f"enuflow import + run:              {t_ours * 1000:8.1f} ms")
    print(f"tf.import_graph_def + Session.run: {t_tf * 1000:8.1f} ms")
    print(f"ratio {t_ours / t_tf:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
