"""Opening and running a ~1,000-node frozen Keras model as a page, against TensorFlow running the same file.

Builds a Keras model (residual blocks of Dense, BatchNormalization, ReLU and Add; its weights random),
freezes it with ``convert_variables_to_constants_v2`` and writes the GraphDef (``model.pb``). Then, in the
same process and on the same input, times:

- enuflow: ``import_model`` (GraphDef -> page JSON + .npz data file), loading the page, ``--feed`` of the
  input, and ``run_page`` (analysis, build, session, one run fetching every block's result);
- TensorFlow: reading the file, ``GraphDef.ParseFromString``, ``tf.import_graph_def`` into a fresh graph,
  a ``Session`` and ``Session.run`` of the output. This is the fastest fair way to run a frozen GraphDef
  from a file (nothing is cached between repeats, as nothing is cached for enuflow's import). Its session
  has the same graph-optimizer setting as enuflow's run of the page (enuflow's ``optimize`` = auto rule, which
  turns the optimizer off for a graph of this size and small tensors): with TensorFlow's default (on) the
  baseline would pay for a rewrite that enuflow does not do, and the ratio would flatter enuflow. The input
  is fed on both sides, so nothing downstream of it can be folded into a constant.

Checks both give the same output (1e-5). The sides alternate in pairs after a warm-up pair
(``bench/common.py``); the last line is ``ratio <enuflow / TensorFlow>`` (target <= 3).

    .venv/bin/python bench/graphdef_import.py [--blocks 42] [--pairs 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import finish, paired, show, timed


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
    ap.add_argument("--pairs", type=int, default=5)
    args = ap.parse_args()

    import numpy as np

    from enuflow.app.document.formats import load as load_page
    from enuflow.app.engine.feeds import apply_feeds
    from enuflow.app.engine.import_model import import_model
    from enuflow.app.engine.runner import Runner
    from enuflow.app.engine.session_options import should_optimize
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
    seen = {"i": 0}

    def enuflow_once() -> np.ndarray:
        seen["i"] += 1
        page_path = tmp / f"page{seen['i']}.json"
        import_model(model, page_path)
        page = load_page(page_path)
        problems = apply_feeds(page, [f"x={tmp / 'x.npy'}"])
        assert not problems, problems
        runner = Runner()
        try:
            report = runner.run(page)
            seen["optimized"] = _optimizer_on(runner)
        finally:
            runner.close()
        assert report.ok, report.errors[:3]
        return report.results.get(out_node, "output")

    def tensorflow_once() -> np.ndarray:
        from tensorflow.core.protobuf import config_pb2

        g_def = tf.compat.v1.GraphDef()
        g_def.ParseFromString(model.read_bytes())
        g = tf.Graph()
        with g.as_default():
            tf.compat.v1.import_graph_def(g_def, name="")
        config = config_pb2.ConfigProto(allow_soft_placement=True)
        seen["tf optimized"] = should_optimize("auto", g)  # enuflow's rule for a page with optimize unset
        if not seen["tf optimized"]:
            config.graph_options.rewrite_options.disable_meta_optimizer = True
        with tf.compat.v1.Session(graph=g, config=config) as s:
            return s.run(out_name, {"x:0": x})

    np.testing.assert_allclose(enuflow_once(), tensorflow_once(), atol=1e-5)
    if seen.get("optimized") not in (None, seen["tf optimized"]):
        sys.exit("graphdef_import: enuflow's session and the baseline's differ in the graph optimizer setting")
    res = paired(timed(enuflow_once), timed(tensorflow_once), pairs=args.pairs)
    print(f"graph optimizer: {'on' if seen['tf optimized'] else 'off'} on both sides")
    show(res, "enuflow import + run", "tf.import_graph_def + Session.run", unit="ms", scale=1000)
    finish(res.ratio)
    return 0


def _optimizer_on(runner) -> bool | None:
    """Whether enuflow's session ran the graph optimizer (None when the runner does not say)."""
    config = getattr(getattr(runner, "_prepared", None), "config", None)
    if config is None:
        return None
    return not config.graph_options.rewrite_options.disable_meta_optimizer


if __name__ == "__main__":
    sys.exit(main())
