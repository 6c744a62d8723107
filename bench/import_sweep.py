"""Import sweep: real Keras models (random weights) saved as TensorFlow writes them, imported, run, compared.

Each model is saved three ways: a frozen GraphDef as ``convert_variables_to_constants_v2`` writes it by default
(control flow lowered to Enter/Merge/Switch/NextIteration/LoopCond/Exit), a frozen GraphDef without lowering
(``While``/``If`` kept: GraphFunction blocks), and a SavedModel. Each is imported (``import_model``: folded by
name scope), fed the same random input, run (``run_page``) and compared with Keras' own output (max abs difference
under ``1e-4`` times the output's scale). A frozen GraphDef of a lookup table cannot hold the table's contents (its
handle stays a ``resource`` Placeholder): that import must fail with an error naming the node and its op, and
counts as n/a, not as a model. ``--quick`` sweeps the small models only (LSTM, BiGRU, the while_loop + cond,
attention, lookup, BatchNorm CNN); ``--only NAME`` one model.

The table's last lines: ``N of M match`` and ``ratio <enuflow / TensorFlow>``: the total wall time of opening the
imported page and running it once (``run_page``: analysis, build, session, one step) over that of the fastest
hand-written way to run a frozen model once in TensorFlow 1 style (``import_graph_def`` into a fresh graph, a
``Session``, one ``run``), both measured here for the lowered GraphDefs (the same graph, the same feed, after a
warm-up of each). Import time itself is printed per model, not in the ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from common import finish

from enuflow.app.document.formats import PageFileError, load
from enuflow.app.engine.feeds import apply_feeds
from enuflow.app.engine.import_model import import_model
from enuflow.app.engine.runner import run_page
from enuflow.blocks.tf import load as load_tf

tf = load_tf()
L = tf.keras.layers
SMALL = ("lstm", "bigru", "while_cond", "attention", "lookup", "bn_dropout")


def _image(app: Any, size: int, **kw: Any) -> tuple[Any, list[int], str]:
    return app(input_shape=(size, size, 3), weights=None, **kw), [size, size, 3], "float32"


def _text_rnn(layer: Any) -> tuple[Any, list[int], str]:
    inp = tf.keras.Input((6,), dtype="int32")
    x = layer(L.Embedding(50, 8)(inp))
    return tf.keras.Model(inp, L.Dense(3)(x)), [6], "int32"


def _attention() -> tuple[Any, list[int], str]:
    inp = tf.keras.Input((5, 8))
    x = L.LayerNormalization()(inp + L.MultiHeadAttention(2, 4)(inp, inp))
    return tf.keras.Model(inp, L.Dense(3)(L.GlobalAveragePooling1D()(x))), [5, 8], "float32"


def _lookup() -> tuple[Any, list[int], str]:
    inp = tf.keras.Input((3,), dtype=tf.string)
    x = L.Embedding(6, 2)(L.StringLookup(vocabulary=["a", "b", "c", "d"])(inp))
    return tf.keras.Model(inp, x), [3], "string"


def _bn() -> tuple[Any, list[int], str]:
    return tf.keras.Sequential([tf.keras.Input((12, 12, 3)), L.Conv2D(4, 3), L.BatchNormalization(), L.ReLU(),
                                L.Dropout(0.3), L.Flatten(), L.Dense(2)]), [12, 12, 3], "float32"


class _Loop(tf.Module):
    """A ``tf.while_loop`` with a ``tf.cond`` in its body (``__call__`` as a Keras model is called)."""

    @tf.function
    def __call__(self, x: Any, training: bool = False) -> Any:
        def body(i: Any, v: Any) -> tuple:
            return i + 1, tf.cond(tf.reduce_sum(v) > 5.0, lambda: v * 0.5, lambda: v * 2.0 + 1.0)

        return tf.while_loop(lambda i, v: i < 3, body, [tf.constant(0), x])[1]


MODELS = {
    "mobilenet_v2": lambda: _image(tf.keras.applications.MobileNetV2, 96),
    "resnet50": lambda: _image(tf.keras.applications.ResNet50, 64),
    "densenet121": lambda: _image(tf.keras.applications.DenseNet121, 64),
    "efficientnet_b0": lambda: _image(tf.keras.applications.EfficientNetB0, 64),
    "inception_v3": lambda: _image(tf.keras.applications.InceptionV3, 75),
    "lstm": lambda: _text_rnn(L.LSTM(5)),
    "bigru": lambda: _text_rnn(L.Bidirectional(L.GRU(4))),
    "while_cond": lambda: (_Loop(), [4], "float32"),
    "attention": _attention,
    "lookup": _lookup,
    "bn_dropout": _bn,
}


def _sample(shape: list[int], dtype: str) -> np.ndarray:
    rs = np.random.RandomState(0)
    if dtype == "string":
        return rs.choice(np.array(["a", "b", "c", "d", "zz"]), size=[2, *shape])
    if dtype == "int32":
        return rs.randint(0, 50, size=[2, *shape]).astype(np.int32)
    return rs.rand(2, *shape).astype(np.float32)


def _save(model: Any, shape: list[int], dtype: str, folder: Path) -> dict[str, Path]:
    """The model as a lowered frozen GraphDef, an unlowered one and a SavedModel (input named ``x``)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec([None, *shape] if not isinstance(model, _Loop) else shape, dtype, name="x")
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    out = {}
    for kind, lower in (("lowered", True), ("unlowered", False)):
        try:
            gd = convert_variables_to_constants_v2(fn, lower_control_flow=lower).graph.as_graph_def()
        except Exception as e:  # noqa: BLE001 - TensorFlow cannot freeze it: reported as that
            print(f"  {kind}: TensorFlow cannot freeze it ({type(e).__name__})")
            continue
        (folder / f"{kind}.pb").write_bytes(gd.SerializeToString())
        out[kind] = folder / f"{kind}.pb"
    module = tf.Module()
    module.model = model
    module.serve = tf.function(lambda x: {"out": model(x, training=False)}, input_signature=[spec])
    tf.saved_model.save(module, str(folder / "saved"), signatures={"serving_default": module.serve})
    out["savedmodel"] = folder / "saved"
    return out


def _check(source: Path, x: np.ndarray, expected: np.ndarray, work: Path) -> tuple[str, float, float]:
    """(verdict, import seconds, max abs difference) of one saved form."""
    t0 = time.perf_counter()
    try:
        import_model(source, work / "page.json")
    except PageFileError as e:
        kind = "n/a (a frozen table)" if "dtype resource" in str(e) and "(op Placeholder)" in str(e) else "refused"
        return f"{kind}: {str(e)[:80]}", time.perf_counter() - t0, float("nan")
    seconds = time.perf_counter() - t0
    page = load(work / "page.json")
    feed = next(b.id for b in page if b.type == "Placeholder" and b.id in ("x", "x_1"))
    np.save(work / "x.npy", x)
    problems = apply_feeds(page, [f"{feed}={work / 'x.npy'}"])
    report = run_page(page)
    if problems or not report.ok:
        first = (problems or report.errors)[0]
        return f"failed: {str(first)[:90]}", seconds, float("nan")
    fetched = [(ln.src, ln.src_port) for ln in page.links if ln.dst_port == "fetch_outputs"]
    if len(fetched) != 1:
        return f"fetches {len(fetched)} outputs, not 1", seconds, float("nan")
    got = np.asarray(report.results.get(*fetched[0]))
    diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
    scale = max(1.0, float(np.max(np.abs(expected))))
    return ("match" if diff <= 1e-4 * scale else "differs"), seconds, diff


def _time_runs(pb: Path, page_path: Path, x: np.ndarray) -> tuple[float, float]:
    """Seconds to run the imported page once, and the frozen GraphDef once in TensorFlow (after a warm-up each)."""
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb.read_bytes())

    def by_hand() -> None:
        g = tf.Graph()
        with g.as_default():
            tf.compat.v1.import_graph_def(gd, name="")
        out = next(n.name for n in reversed(gd.node) if n.name.startswith("Identity"))
        with tf.compat.v1.Session(graph=g) as s:
            s.run(out + ":0", {"x:0": x})

    def ours() -> None:
        page = load(page_path)
        apply_feeds(page, [f"x={page_path.parent / 'x.npy'}"])
        run_page(page)

    times = []
    for fn in (by_hand, ours, by_hand, ours):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times[3], times[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the small models only")
    ap.add_argument("--only", choices=sorted(MODELS), help="one model")
    ns = ap.parse_args()
    names = [ns.only] if ns.only else [n for n in MODELS if not ns.quick or n in SMALL]
    matched = total = 0
    ours_t = base_t = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            tf.keras.utils.set_random_seed(1)
            model, shape, dtype = MODELS[name]()
            x = _sample(shape, dtype) if name != "while_cond" else _sample(shape, dtype)[0]
            expected = np.asarray(model(tf.constant(x), training=False))
            folder = Path(tmp) / name
            folder.mkdir()
            for kind, source in _save(model, shape, dtype, folder).items():
                work = folder / f"page_{kind}"
                work.mkdir()
                verdict, seconds, diff = _check(source, x, expected, work)
                if not verdict.startswith("n/a"):
                    total += 1
                    matched += verdict == "match"
                print(f"{name:16} {kind:11} {verdict[:60]:60} "
                      f"import {seconds:6.2f}s  max|diff| {diff:.2e}", flush=True)
                if verdict == "match" and kind == "lowered":
                    o, b = _time_runs(source, work / "page.json", x)
                    ours_t, base_t = ours_t + o, base_t + b
    print(f"{matched} of {total} match")
    finish(ours_t / base_t if base_t else float("nan"))


if __name__ == "__main__":
    main()
