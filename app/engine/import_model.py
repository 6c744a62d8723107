"""Opening a TensorFlow model as a page: a frozen GraphDef (``.pb``, ``.pbtxt``) or a SavedModel folder.

``import_model(source, output)`` reads the model, never running any of it, turns it into a page
(``app.document.formats.model_page``: every node a block of its op with its attrs as pins, every data input a
link) and writes the page and its data file (``NAME.npz`` beside it; see ``app.document.datafile``):
constants larger than a few values are stored there, not in the JSON. ``Placeholder``s stay Placeholders
(fed with zeros until ``--feed`` or the inspector gives a value). A SavedModel signature is read from its
``saved_model.pb`` and its variables' files (``app.engine.saved_model_reader``: function calls inlined, never
``tf.saved_model.load``); its variables become ``Variable`` blocks holding their saved values, or Consts with
``freeze=True``; its initialisers become blocks run once before the first step (an ``Initializer``), under
the page's rules like any other (a file written or read needs ``--allow-io``). The page opens folded by the
model's name scopes into composites (``app.engine.model_fold``; ``fold=False``: one block per node). Ops that still call functions
(``While``, ``If``, ...) become one ``GraphFunction`` block each, marked not editable: that, and tensors numpy
cannot hold, is what this module adds to the TensorFlow-free page builder. Control dependencies become
control links (``^`` to ``^``), built as TensorFlow's control inputs. Problems raise ``PageFileError``
naming the file (and the node and its op, for a node a page cannot hold).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from enuflow.app.document import datafile
from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.document.formats.graphdef import NeedsTensorFlow
from enuflow.app.document.formats.model_page import (NOT_EDITABLE, ModelGraph, PageBuilder, attr_python,
                                                     compact_json, page_from_model)
from enuflow.app.document.formats.native import page_to_doc, write_atomic
from enuflow.app.document.page import BlockInstance, Page
from enuflow.app.engine.model_fold import fold_model
from enuflow.app.engine.saved_model_reader import library_calls, read_saved_model
from enuflow.blocks.base import REGISTRY
from enuflow.blocks.tf import load

__all__ = ["ModelGraph", "attr_python", "compact_json", "import_model", "is_model", "page_from_model", "read_model"]


def is_model(path: str | Path) -> bool:
    """True for a path ``import_model`` reads: a SavedModel folder, or a ``.pb``/``.pbtxt`` file."""
    p = Path(path)
    if p.is_dir():
        return (p / "saved_model.pb").is_file() or (p / "saved_model.pbtxt").is_file()
    return p.suffix.lower() in (".pb", ".pbtxt")


def read_model(source: str | Path, signature: str | None = None) -> ModelGraph:
    """Read a frozen GraphDef or a SavedModel signature as one GraphDef; raises PageFileError."""
    src = Path(source)
    if src.is_dir():
        return read_saved_model(src, signature or "serving_default")
    if signature:
        raise PageFileError(str(source), "--signature applies to a SavedModel folder, not a GraphDef file")
    tf = load()
    try:
        raw = src.read_bytes()
    except FileNotFoundError:
        raise PageFileError(str(source), "no such file") from None
    except OSError as e:
        raise PageFileError(str(source), f"cannot be read: {e.strerror or e}") from None
    gd = tf.compat.v1.GraphDef()
    if src.suffix.lower() in (".pbtxt", ".txt"):
        from google.protobuf import text_format

        try:
            text_format.Parse(raw.decode("utf-8"), gd)
        except (UnicodeDecodeError, text_format.ParseError) as e:
            raise PageFileError(str(source), f"is not a GraphDef in text form ({e})") from None
    else:
        try:
            gd.ParseFromString(raw)
        except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
            raise PageFileError(str(source), f"is not a binary GraphDef ({e})") from None
        if not gd.node and raw:
            raise PageFileError(str(source), "is not a binary GraphDef (no nodes found)")
    return ModelGraph(gd, src.stem)


# -- GraphDef -> page ---------------------------------------------------------------------------

class _Builder(PageBuilder):
    """The page builder with TensorFlow at hand: function ops, and tensors numpy alone cannot read."""

    _graph: Any = None
    with_tensorflow = True

    def array(self, tensor: Any) -> np.ndarray:
        try:
            return super().array(tensor)
        except NeedsTensorFlow:
            return load().make_ndarray(tensor)

    def zeros(self, dtype: str, dims: list[int]) -> np.ndarray:
        return np.zeros(dims, dtype=np.dtype(load().as_dtype(dtype).as_numpy_dtype))

    def function_block(self, node: Any) -> BlockInstance:
        """One GraphFunction block holding the op, placeholders for its inputs and the function library."""
        tf = load()
        g = self.graph()
        op = g.get_operation_by_name(node.name)
        mini = tf.compat.v1.GraphDef()
        mini.versions.CopyFrom(self.mg.graph_def.versions)
        library = {f.signature.name: f for f in self.mg.graph_def.library.function}
        for fn in library_calls(library, [node]):  # only what the op calls, so the block holds no other code
            mini.library.function.add().CopyFrom(library[fn])
        call = mini.node.add()
        call.CopyFrom(node)
        call.name = "call"
        del call.input[:]
        call.ClearField("device")
        for i, t in enumerate(op.inputs):
            ph = mini.node.add()
            ph.name = f"input_{i}"
            ph.op = "Placeholder"
            ph.attr["dtype"].type = t.dtype.as_datatype_enum
            call.input.append(ph.name)
        raw = np.frombuffer(mini.SerializeToString(), dtype=np.uint8)
        key = node.name + ".graph"
        self.arrays[key] = raw
        n = len(op.outputs)
        self.outputs[node.name] = [f"output[{i}]" for i in range(n)]
        self.warnings.append(f"{node.name}: {node.op} calls functions; kept as one GraphDef block, {NOT_EDITABLE}")
        pins = {"op": node.op, "num_outputs": n, "note": NOT_EDITABLE,
                "graph": {"dtype": "uint8", "shape": [int(raw.size)], datafile.FIELD: key}}
        return BlockInstance(self.ids[node.name], "GraphFunction", pins=pins, label=f"{node.name} ({node.op})")

    def graph(self) -> Any:
        """The model imported into TensorFlow once (only needed for the dtypes around function ops)."""
        if self._graph is None:
            tf = load()
            g = tf.Graph()
            with g.as_default():
                try:
                    tf.compat.v1.import_graph_def(self.mg.graph_def, name="")
                except (ValueError, tf.errors.OpError) as e:
                    raise PageFileError(self.mg.name, f"is not a graph TensorFlow can hold ({e})") from None
            self._graph = g
        return self._graph


def _folded(page: Page) -> Page:
    """``page`` folded by name scope; a model whose scopes folding cannot follow opens flat, laid out, saying why
    (an import never ends in an internal error)."""
    from enuflow.app.document.formats.model_page import lay_out

    try:
        return fold_model(page, REGISTRY)
    except (KeyError, ValueError, IndexError, RecursionError) as e:
        page.extra.setdefault("import_warnings", []).append(
            f"the model is shown flat: folding it by name scope failed ({type(e).__name__}: {e})")
        lay_out(page, REGISTRY)
        return page


def import_model(source: str | Path, output: str | Path, signature: str | None = None,
                 freeze: bool = False, fold: bool = True) -> Page:
    """Read the model at ``source`` and write it as the page ``output`` (with ``NAME.npz`` beside it when it
    has large constants), folded by name scope into composites (``app.engine.model_fold``) unless ``fold`` is
    false; returns the page. Raises PageFileError naming the file."""
    mg = read_model(source, signature)
    b = _Builder(mg, freeze, REGISTRY)
    page, arrays = b.run(layout=not fold), b.arrays
    if fold:
        page = _folded(page)
    out = Path(output)
    if arrays:
        target = out.with_name(datafile.data_name(out))
        try:
            datafile.write_npz(target, arrays)
        except OSError as e:
            raise PageFileError(str(target), f"cannot be written: {e.strerror or e}") from None
        page.data_path = os.path.abspath(target)
    write_atomic(out, compact_json(page_to_doc(page, datafile.data_name(out) if arrays else None)))
    return page
