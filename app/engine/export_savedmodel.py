"""Serving a page: ``enuflow export PAGE --savedmodel DIR`` writes a TensorFlow SavedModel.

The page is built as for a run; then every value the runner would feed (Const values, typed-in pin
values) becomes a constant, while each ``Placeholder`` block stays a placeholder: the ``serving_default``
signature takes them keyed by block id and returns the fetched outputs (the ClientSession's
``fetch_outputs``, or every output of a page without one) keyed ``block.port``. Variables are saved with
their initial values, or, with ``after_run=N``, with the values they hold after the page ran N steps.
The folder is written beside the target and renamed into place, so a failed export leaves nothing half
written. Problems come back as ``BuildError`` values.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enuflow.app.document.page import Page
from enuflow.app.engine.analysis import BuildError
from enuflow.app.engine.runner import Runner, page_graph_def
from enuflow.blocks.tf import load


def _fetched(built: Any, an: Any) -> list[tuple[str, str]]:
    plan = an.plan
    if plan.block is not None:
        keys = [k for k in plan.fetches if k in built.tensors]
    else:
        keys, _ = Runner._selection(built, an)
    return [k for k in keys if built.tensors[k].dtype.base_dtype.name not in ("resource", "variant")]


@dataclass
class _Model:
    """What the SavedModel is made of, read from the page's built graph (and, after a run, from its session)."""

    #: the page's graph, its fed values made constants (Placeholder blocks stay placeholders)
    graph_def: Any
    #: Placeholder block -> its placeholder tensor's name
    inputs: dict[str, str]
    #: ``block.port`` -> the fetched tensor's name
    outputs: dict[str, str]
    #: the names of the initialisers (each Variable's Assign(ref, initial value))
    init_names: list[str]
    #: Variable block -> its ref tensor's name
    var_refs: dict[str, str]
    #: Variable block -> its value after the run (``after_run``), else empty
    trained: dict[str, Any]


def export_savedmodel(page: Page, folder: str | Path, after_run: int | None = None,
                      allow_io: bool = False) -> tuple[list[str], list[str], list[BuildError]]:
    """Write ``page`` as a SavedModel in ``folder``; returns (input keys, output keys, problems).

    Nothing is written when there are problems.
    """
    model = _model(page, after_run, allow_io)
    if not isinstance(model, _Model):
        return [], [], model
    _save(model, Path(folder))
    return sorted(model.inputs), sorted(model.outputs), []


def _model(page: Page, after_run: int | None, allow_io: bool) -> _Model | list[BuildError]:
    """Build ``page`` (and run it ``after_run`` steps, when given) and read what its SavedModel is made of; the
    build's or the run's problems when there are any."""
    tf = load()
    runner = Runner()
    try:
        prepared, an, _ = runner.prepare(page, allow_io)
        built = prepared.built
        errors = list(built.errors)
        if errors:
            return errors
        feeds = built.feed_values(an)
        var_blocks = [bid for bid in built.built if an.decls[bid].name == "Variable"]
        trained: dict[str, Any] = {}
        if after_run:
            report = runner.run(page, steps=after_run, allow_io=allow_io)
            if report.errors:
                return report.errors
            refs = [built.tensors[(bid, "ref")] for bid in var_blocks]
            trained = dict(zip(var_blocks, prepared.session.run(refs))) if refs else {}
        graph_def = page_graph_def(prepared)  # without what the run added for its lean steps
        placeholders = {bid for bid in built.built if an.decls[bid].name == "Placeholder"}
        fixed = {s.placeholder.op.name: v for s, v in zip(built.slots, feeds) if s.block not in placeholders}
        _fix_values(tf, graph_def, fixed)
        return _Model(graph_def=graph_def,
                      inputs={s.block: s.placeholder.name for s in built.slots if s.block in placeholders},
                      outputs={f"{b}.{p}": built.tensors[(b, p)].name for b, p in _fetched(built, an)},
                      init_names=[op.name for op in built.init_ops],
                      var_refs={bid: built.tensors[(bid, "ref")].name for bid in var_blocks}, trained=trained)
    finally:
        runner.close()


def _fix_values(tf: Any, graph_def: Any, fixed: dict[str, Any]) -> None:
    """Make each placeholder of ``graph_def`` named in ``fixed`` (op name -> value) a Const of its value."""
    for node in graph_def.node:
        value = fixed.get(node.name)
        if value is not None:
            dtype = node.attr["dtype"].type
            node.op = "Const"
            node.ClearField("attr")
            node.attr["dtype"].type = dtype
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, dtype=tf.as_dtype(dtype)))


def _save(model: _Model, target: Path) -> None:
    """Write ``model`` as a SavedModel in ``target``: staged in a folder beside it and renamed into place (a
    folder already there is replaced); raises what TensorFlow or the file system raise, leaving nothing behind."""
    tf = load()
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(model.graph_def, name="")
        served = {}
        for key, name in model.outputs.items():
            served[key] = tf.identity(g.get_tensor_by_name(name), name="serve_" + _op_safe(key))
        sig = tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
            inputs={k: tf.compat.v1.saved_model.utils.build_tensor_info(g.get_tensor_by_name(v))
                    for k, v in model.inputs.items()},
            outputs={k: tf.compat.v1.saved_model.utils.build_tensor_info(t) for k, t in served.items()},
            method_name=tf.compat.v1.saved_model.signature_constants.PREDICT_METHOD_NAME)
        parent = target.parent if str(target.parent) else Path(".")
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
        staging = tmp / "model"
        try:
            _write_staged(tf, g, model, sig, staging)
            if target.exists():
                old = tmp / "old"
                os.replace(target, old)
            os.replace(staging, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _write_staged(tf: Any, g: Any, model: _Model, sig: Any, staging: Path) -> None:
    """Initialise the variables of graph ``g`` (trained ones from their trained values) in a session and save
    graph, signature ``sig`` and variables as a SavedModel in ``staging``."""
    with tf.compat.v1.Session(graph=g) as sess:
        # a trained Variable starts from its trained value: its initialiser, Assign(ref, initial value), is
        # fed that value (an op added to set it would be saved with the graph)
        init_ops = [g.get_operation_by_name(n) for n in model.init_names]
        initial = {op.inputs[0].name: op.inputs[1] for op in init_ops if op.type == "Assign"}
        if init_ops:
            sess.run(init_ops, feed_dict={initial[model.var_refs[bid]]: value for bid, value in model.trained.items()})
        # the page's variables are plain VariableV2 ops (no Python Variable objects): name them for
        # the saver, so the SavedModel's checkpoint holds their values, keyed by their op names as TensorFlow 1
        # keys them (a folded model's variables keep names with scopes, and its readers match the two)
        saver = None
        if model.var_refs:
            saver = tf.compat.v1.train.Saver(
                var_list={g.get_tensor_by_name(n).op.name: g.get_tensor_by_name(n) for n in model.var_refs.values()})
        # what an Initializer block runs once (a table's contents) the SavedModel runs as it loads
        others = [op for op in init_ops if op.type != "Assign"]
        main_op = tf.group(*others, name="enuflow_initializers") if others else None
        builder = tf.compat.v1.saved_model.Builder(str(staging))
        builder.add_meta_graph_and_variables(
            sess, [tf.compat.v1.saved_model.tag_constants.SERVING],
            signature_def_map={"serving_default": sig}, strip_default_attrs=True, saver=saver, main_op=main_op)
        builder.save()


def _op_safe(key: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in key)
