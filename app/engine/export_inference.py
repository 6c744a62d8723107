"""The inference part of a trained page: ``enuflow export PAGE --savedmodel DIR [--weights CKPT]`` (and ``--python``).

A page that trains (a ``data.Dataset``, layers, a loss) serves ``x`` -> ``y``: ``y`` is the output wired into the
first loss block's ``logits`` (or ``prediction``) input, and ``x`` a placeholder of shape ``[None, ...]`` (the
dataset's features) that takes the place of the dataset's ``x``. The page's ``training`` flag is False (Dropout
off, BatchNorm on its moving statistics; control inputs, which order training's updates, are left out), every value
the runner would feed is a constant, and every Variable the answer reads is a constant holding its value: from the checkpoint ``weights`` (``enuflow run --save-weights`` or
``--keep-best``) when given, else its initial value. The graph is pruned to what ``y`` needs.

``inference_graph`` gives that GraphDef; ``export_inference`` writes it as a SavedModel (``serving_default``:
input ``x``, output ``y``), ``inference_python`` as a standalone script (``app.engine.graph_python``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from enuflow.app.document.page import Page
from enuflow.app.engine.analysis import BuildError
from enuflow.app.engine.epochs import LOSS_PREFIX, instance_types, session_weights, wired_into
from enuflow.app.engine.runner import RunReport, Runner, page_graph_def
from enuflow.blocks.tf import load

#: the names of the serving input's placeholder and of the constant standing for the training flag
INPUT_NAME, TRAINING_NAME = "enuflow_input_x", "enuflow_inference_training"
#: the inputs a loss block's prediction comes into, in the order they are looked for
PREDICTION_PORTS = ("logits", "prediction")


@dataclass
class Inference:
    """The inference part of a page: its GraphDef, and the names of its input and output tensors."""

    graph_def: Any
    x: str
    y: str
    x_shape: list[int | None]
    x_dtype: str


def _prediction(page: Page, an: Any, built: Any) -> tuple[Any, str] | BuildError:
    """The tensor wired into the first loss block's prediction input, and that block's path."""
    types = instance_types(page)
    for path, typ in types.items():
        if typ.startswith(LOSS_PREFIX):
            for port in PREDICTION_PORTS:
                t = wired_into(page, an.page, built, types, path, port)
                if t is not None:
                    return t, path
    return BuildError(None, None, "the page has no loss block (losses.*) with a prediction wired in: the inference "
                                  "part is what comes into the first loss's logits or prediction input")


def _initialised(runner: Runner, page: Page, weights: str | None, allow_io: bool) -> Any:
    """Build ``page`` in ``runner`` and initialise its Variables as a run starts (``Runner._start``), then from the
    checkpoint ``weights`` when given; the run's state (``RunState``), or the problems."""
    run = runner._start(page, 0, allow_io, True)  # noqa: SLF001 - a run's start, with no step after it
    if isinstance(run, RunReport) or run.report.errors:
        return list(run.errors if isinstance(run, RunReport) else run.report.errors)
    if weights:
        try:
            missing = session_weights(run.prepared).load(weights)
        except ValueError as e:
            return [BuildError(None, None, f"--weights {e}")]
        if missing:
            return [BuildError(None, None, f"--weights {weights}: holds no value for Variable "
                                           f"{', '.join(repr(m) for m in missing[:5])}")]
    return run


def inference_graph(page: Page, weights: str | None = None, allow_io: bool = False) -> Inference | list[BuildError]:
    """The inference part of ``page`` (see the module's doc), or the problems."""
    runner = Runner(rerun_cache=False)
    try:
        run = _initialised(runner, page, weights, allow_io)
        if isinstance(run, list):
            return run
        prepared, an = run.prepared, run.an
        built = prepared.built
        datasets = getattr(built, "datasets", None) or []
        x = built.tensors.get((datasets[0].block, "x")) if datasets else None
        if x is None:
            return [BuildError(None, None, "the page has no data.Dataset block: its x is the inference part's input")]
        got = _prediction(page, an, built)
        if isinstance(got, BuildError):
            return [got]
        y, _ = got
        gd = _frozen(prepared, run.feeds, x, y)
        if isinstance(gd, BuildError):
            return [gd]
        shape = [None] + [d if d is None else int(d) for d in x.shape.as_list()[1:]] if x.shape.rank else [None]
        return Inference(gd, INPUT_NAME + ":0", y.name, shape, x.dtype.base_dtype.name)
    finally:
        runner.close()


def _frozen(prepared: Any, feeds: list[Any], x: Any, y: Any) -> Any:
    """The page's GraphDef pruned to ``y``, with ``x`` a placeholder, the training flag False, fed values and the
    Variables it reads constants; a BuildError when ``y`` still needs the dataset."""
    tf = load()
    built = prepared.built
    gd = page_graph_def(prepared)
    from enuflow.app.engine.export_savedmodel import _fix_values

    _fix_values(tf, gd, {s.placeholder.op.name: v for s, v in zip(built.slots, feeds)})
    renames = {x.name: INPUT_NAME}
    if getattr(built, "training", None) is not None:
        renames[built.training.name] = TRAINING_NAME
    _rewire(gd, renames)
    for node in gd.node:  # what orders ops (a moving statistics' update before a BatchNorm's output) is training's
        kept = [i for i in node.input if not i.startswith("^")]
        if len(kept) != len(node.input):
            del node.input[:]
            node.input.extend(kept)
    gd.node.add().CopyFrom(_placeholder_node(tf, INPUT_NAME, x))
    gd.node.add().CopyFrom(_const_node(tf, TRAINING_NAME, np.array(False)))
    gd = tf.compat.v1.graph_util.extract_sub_graph(gd, [y.op.name])
    reads = [n for n in gd.node if n.op in ("ReadVariableOp", "VariableV2", "Variable")]
    if reads:
        values = prepared.session.run([built.graph.get_tensor_by_name(n.name + ":0") for n in reads])
        for node, value in zip(reads, values):
            node.CopyFrom(_const_node(tf, node.name, np.asarray(value)))
        gd = tf.compat.v1.graph_util.extract_sub_graph(gd, [y.op.name])
    left = sorted({n.op for n in gd.node if n.op in ("IteratorGetNext", "VarHandleOp", "IteratorGetNextSync")})
    if left:
        return BuildError(None, None, f"the inference part (what the first loss's prediction needs) still reads "
                                      f"the dataset or a Variable through {', '.join(left)}: it cannot be served "
                                      "with x alone")
    return gd


def _rewire(gd: Any, renames: dict[str, str]) -> None:
    """Point every node input that reads a tensor of ``renames`` (tensor name -> new op name) at the new op."""
    by_input = {}
    for tensor, op in renames.items():
        name, _, index = tensor.rpartition(":")
        by_input[name if index == "0" else tensor] = op
        if index == "0":
            by_input[tensor] = op
    for node in gd.node:
        for i, inp in enumerate(node.input):
            new = by_input.get(inp)
            if new is not None:
                node.input[i] = new


def _placeholder_node(tf: Any, name: str, x: Any) -> Any:
    node = tf.compat.v1.NodeDef(name=name, op="Placeholder")
    node.attr["dtype"].type = x.dtype.base_dtype.as_datatype_enum
    shape = [None] + x.shape.as_list()[1:] if x.shape.rank else None
    node.attr["shape"].shape.CopyFrom(tf.TensorShape(shape).as_proto())
    return node


def _const_node(tf: Any, name: str, value: np.ndarray) -> Any:
    node = tf.compat.v1.NodeDef(name=name, op="Const")
    proto = tf.make_tensor_proto(value)
    node.attr["dtype"].type = proto.dtype
    node.attr["value"].tensor.CopyFrom(proto)
    return node


def export_inference(page: Page, folder: str | Path, weights: str | None = None,
                     allow_io: bool = False) -> list[BuildError]:
    """Write the inference part of ``page`` as a SavedModel in ``folder`` (``serving_default``: ``x`` -> ``y``);
    returns the problems (nothing is written when there are any)."""
    from enuflow.app.engine.export_savedmodel import _Model, _save

    inf = inference_graph(page, weights, allow_io)
    if isinstance(inf, list):
        return inf
    model = _Model(graph_def=inf.graph_def, inputs={"x": inf.x}, outputs={"y": inf.y}, init_names=[], var_refs={},
                   trained={})
    _save(model, Path(folder))
    return []


def inference_python(page: Page, path: str | Path, weights: str | None = None, source: str = "",
                     allow_io: bool = False) -> list[BuildError]:
    """Write the inference part of ``page`` as a Python script at ``path`` (``predict(x)`` -> y; its weights in
    ``PATH_weights.npz`` beside it); returns the problems (nothing is written when there are any)."""
    from enuflow.app.document.formats import PageFileError
    from enuflow.app.document.formats.native import write_atomic
    from enuflow.app.engine.graph_python import GraphScriptProblem, graph_script

    inf = inference_graph(page, weights, allow_io)
    if isinstance(inf, list):
        return inf
    target = Path(path)
    npz = target.with_name(target.stem + "_weights.npz")
    try:
        text, values = graph_script(inf.graph_def, inf.x, inf.y, source or page.name, npz.name)
    except GraphScriptProblem as e:
        return [BuildError(None, None, str(e))]
    try:
        if values:
            import io

            buf = io.BytesIO()
            np.savez(buf, **values)
            write_atomic(str(npz), buf.getvalue())
        write_atomic(str(target), text)
    except PageFileError as e:
        return [BuildError(None, None, str(e))]
    return []
