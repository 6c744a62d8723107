"""Opening a TensorFlow model as a page: a frozen GraphDef (``.pb``, ``.pbtxt``) or a SavedModel folder.

``import_model(source, output)`` reads the model, turns every node into a block of its op with its attrs
as pins, every data input into a link, and writes the page and its data file (``NAME.npz`` beside it;
see ``app.document.datafile``): constants larger than a few values are stored there, not in the JSON.
``Placeholder``s stay Placeholders (fed with zeros until ``--feed`` or the inspector gives a value).
A SavedModel signature is frozen with TensorFlow's ``convert_variables_to_constants_v2`` (which inlines
its function calls); its variables become ``Variable`` blocks holding their saved values, or Consts with
``freeze=True``. Ops that still call functions (``While``, ``If``, ...) become one ``GraphFunction`` block
each, marked not editable. Control dependencies are dropped (a page wires data only); ``NoOp``s with them.
Problems raise ``PageFileError`` naming the file.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from enuflow.app.document import datafile
from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.document.formats.native import page_to_doc, write_atomic
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.blocks.base import REGISTRY, Block
from enuflow.blocks.tf import load

#: constants with more elements than this go to the data file
INLINE_LIMIT = datafile.INLINE_LIMIT
#: room between columns (for the wires) and between blocks of a column
COLUMN_GAP = 80.0
ROW_GAP = 30.0
NOT_EDITABLE = ("not editable here: this op runs TensorFlow function bodies kept as they were in the model; "
                "change the model and import it again")


@dataclass
class ModelGraph:
    """A model read as one GraphDef, with what its signature says."""

    graph_def: Any
    name: str
    #: node name -> variable name, for Consts that hold a SavedModel's variables
    variables: dict[str, str] = field(default_factory=dict)
    #: signature input key -> Placeholder node name
    inputs: dict[str, str] = field(default_factory=dict)
    #: signature output key -> tensor name ("node:index")
    outputs: dict[str, str] = field(default_factory=dict)


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
        return _read_saved_model(src, signature or "serving_default")
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


def _read_saved_model(src: Path, signature: str) -> ModelGraph:
    tf = load()
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    try:
        loaded = tf.saved_model.load(str(src))
    except Exception as e:  # noqa: BLE001 - anything TensorFlow raises for a broken folder
        raise PageFileError(str(src), f"cannot be loaded as a SavedModel ({type(e).__name__}: {e})") from None
    sigs = getattr(loaded, "signatures", {}) or {}
    if signature not in sigs:
        have = ", ".join(sorted(sigs)) or "none"
        raise PageFileError(str(src), f"has no signature '{signature}' (signatures: {have})")
    fn = sigs[signature]
    names = {id(v.handle): v.name.removesuffix(":0") for v in getattr(loaded, "variables", [])}
    try:
        frozen = convert_variables_to_constants_v2(fn, lower_control_flow=False)
    except Exception as e:  # noqa: BLE001
        raise PageFileError(str(src), f"signature '{signature}' cannot be frozen ({type(e).__name__}: {e})") \
            from None
    variables = {}
    for ext, internal in fn.graph.captures:
        if getattr(ext, "dtype", None) == tf.resource:
            variables[internal.op.name] = names.get(id(ext), internal.op.name)
    mg = ModelGraph(frozen.graph.as_graph_def(), src.name or "saved_model", variables)
    kw = fn.structured_input_signature[1] if fn.structured_input_signature else {}
    for key, spec in sorted(kw.items()):
        mg.inputs[key] = spec.name or key
    outs = fn.structured_outputs
    if isinstance(outs, dict):
        keys = sorted(outs)
        flat = frozen.outputs
        for key, t in zip(keys, flat):
            mg.outputs[key] = t.name
    else:
        for i, t in enumerate(frozen.outputs):
            mg.outputs[f"output_{i}"] = t.name
    return mg


# -- GraphDef -> page ---------------------------------------------------------------------------

def _split_input(name: str) -> tuple[str, int, bool]:
    """(node, output index, is a control input) of a NodeDef input string."""
    if name.startswith("^"):
        return name[1:], 0, True
    node, _, idx = name.partition(":")
    return node, int(idx) if idx else 0, False


def attr_python(av: Any) -> Any:
    """A JSON-ready pin value for an AttrValue; raises ValueError for kinds a pin cannot hold."""
    tf = load()
    which = av.WhichOneof("value")
    if which == "list":
        lst = av.list
        for kind in ("i", "f", "b", "s", "type", "shape"):
            items = list(getattr(lst, kind))
            if items:
                return [_scalar(kind, v, tf) for v in items]
        if lst.func or lst.tensor:
            raise ValueError("a list of functions or tensors")
        return []
    if which in ("i", "f", "b", "s", "type", "shape"):
        return _scalar(which, getattr(av, which), tf)
    raise ValueError(f"an attr of kind {which}")


def _scalar(kind: str, v: Any, tf: Any) -> Any:
    if kind == "i":
        return int(v)
    if kind == "f":
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"a non-finite number {f}")
        return f
    if kind == "b":
        return bool(v)
    if kind == "s":
        return v.decode("utf-8")
    if kind == "type":
        return tf.as_dtype(v).name
    if kind == "shape":
        if v.unknown_rank:
            return None
        return [int(d.size) for d in v.dim]
    raise ValueError(kind)


def _has_func(node: Any) -> bool:
    return any(av.WhichOneof("value") == "func" or (av.WhichOneof("value") == "list" and av.list.func)
               for av in node.attr.values())


def _output_ports(decl: Block | None, pins: dict[str, Any]) -> list[str]:
    if decl is None:
        return []
    names = []
    for p in decl.outputs:
        if p.kind == "operation":
            continue
        if p.is_list:
            if p.number_attr:
                n = pins.get(p.number_attr)
                n = n if isinstance(n, int) else 0
            else:
                v = pins.get(p.type_list_attr)
                n = len(v) if isinstance(v, list) else 0
            names.extend(f"{p.name}[{i}]" for i in range(n))
        else:
            names.append(p.name)
    return names


def _input_ports(decl: Block | None, pins: dict[str, Any], n_inputs: int) -> list[str]:
    if decl is None:
        return [f"input_{i}" for i in range(n_inputs)]
    names: list[str] = []
    for p in decl.inputs:
        if p.list_of == "number":
            n = pins.get(p.number_attr)
            n = n if isinstance(n, int) else 1
        elif p.list_of == "type_list":
            v = pins.get(p.type_list_attr)
            n = len(v) if isinstance(v, list) else 1
        elif p.list_of == "any":
            n = max(0, n_inputs - len(names))
        else:
            n = 1
        names.extend([p.name] * n)
    return names


class _Builder:
    """Turns one GraphDef into a page and the arrays of its data file."""

    def __init__(self, mg: ModelGraph, freeze: bool) -> None:
        self.mg = mg
        self.freeze = freeze
        self.page = Page(mg.name)
        self.arrays: dict[str, np.ndarray] = {}
        self.warnings: list[str] = []
        self.outputs: dict[str, list[str]] = {}  # node -> output port names by index
        self.ids: dict[str, str] = {}  # node -> block id
        self._graph = None

    def tensor_value(self, key: str, arr: np.ndarray, dtype: str) -> Any:
        """A pin value for ``arr``: inline when small and plain, else a reference into the data file."""
        if arr.dtype.kind in "OSU":
            flat = [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in arr.reshape(-1)]
            return flat[0] if arr.ndim == 0 else np.array(flat, dtype=object).reshape(arr.shape).tolist()
        if arr.size <= INLINE_LIMIT and arr.size > 0 and arr.dtype.kind in "biuf" and \
                (arr.dtype.kind != "f" or bool(np.isfinite(arr).all())):
            return arr.tolist()
        self.arrays[key] = np.ascontiguousarray(arr)
        return {"dtype": dtype, "shape": list(arr.shape), datafile.FIELD: key}

    def node_block(self, node: Any) -> BlockInstance:
        tf = load()
        op = node.op
        bid = self.ids[node.name]
        if op == "Const":
            arr = tf.make_ndarray(node.attr["value"].tensor)
            dtype = tf.as_dtype(node.attr["dtype"].type).name
            if node.name in self.mg.variables and not self.freeze:
                pins = {"dtype": dtype, "shape": list(arr.shape),
                        "initvalues": self.tensor_value(node.name, arr, dtype)}
                self.outputs[node.name] = ["ref"]
                return BlockInstance(bid, "Variable", pins=pins, label=self.mg.variables[node.name])
            pins = {"dtype": dtype, "shape": list(arr.shape), "val": self.tensor_value(node.name, arr, dtype)}
            self.outputs[node.name] = ["output"]
            return BlockInstance(bid, "Const", pins=pins)
        if op == "Placeholder":
            dtype = tf.as_dtype(node.attr["dtype"].type).name
            shape_av = node.attr.get("shape")
            shape = _scalar("shape", shape_av.shape, tf) if shape_av is not None else None
            dims = [] if shape is None else [1 if d < 0 else d for d in shape]
            zeros = np.zeros(dims, dtype=np.dtype(tf.as_dtype(dtype).as_numpy_dtype))
            pins = {"dtype": dtype, "value": self.tensor_value(node.name, zeros, dtype)}
            if shape is not None:
                pins["shape"] = shape
            self.outputs[node.name] = ["output"]
            return BlockInstance(bid, "Placeholder", pins=pins)
        if _has_func(node):
            return self.function_block(node)
        decl = REGISTRY.get(op)
        pins: dict[str, Any] = {}
        declared = {a.name: a for a in decl.attrs} if decl is not None else {}
        for name, av in node.attr.items():
            if name.startswith("_"):
                continue
            if decl is not None and name not in declared:
                continue
            try:
                pins[name] = attr_python(av)
            except (ValueError, UnicodeDecodeError) as e:
                self.warnings.append(f"{node.name}: attr {name} is left out ({e})")
        self.outputs[node.name] = _output_ports(decl, pins)
        if decl is None:
            self.warnings.append(f"{node.name}: op {op} is not a block type here")
        return BlockInstance(bid, op, pins=pins)

    def function_block(self, node: Any) -> BlockInstance:
        """One GraphFunction block holding the op, placeholders for its inputs and the function library."""
        tf = load()
        g = self.graph()
        op = g.get_operation_by_name(node.name)
        mini = tf.compat.v1.GraphDef()
        mini.versions.CopyFrom(self.mg.graph_def.versions)
        mini.library.CopyFrom(self.mg.graph_def.library)
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
                tf.compat.v1.import_graph_def(self.mg.graph_def, name="")
            self._graph = g
        return self._graph

    def run(self) -> Page:
        page = self.page
        gd = self.mg.graph_def
        nodes = [n for n in gd.node if n.op != "NoOp"]
        dropped_ctrl = 0
        self.ids = {n.name: n.name for n in nodes}
        # Placeholders take their signature keys as block ids (what a served page is fed by)
        for key, node in self.mg.inputs.items():
            if key != node and node in self.ids and key not in self.ids:
                self.ids[node] = key
        for node in nodes:
            page.add_block(self.node_block(node))
        for node in nodes:
            bid = self.ids[node.name]
            block = page.block(bid)
            data_inputs = [_split_input(s) for s in node.input]
            dropped_ctrl += sum(1 for _, _, ctrl in data_inputs if ctrl)
            data_inputs = [(n, i) for n, i, ctrl in data_inputs if not ctrl]
            if block.type == "GraphFunction":
                ports = ["input"] * len(data_inputs)
            else:
                ports = _input_ports(REGISTRY.get(block.type), block.pins, len(data_inputs))
            for k, (src_node, idx) in enumerate(data_inputs):
                if src_node not in self.ids:
                    raise PageFileError(self.mg.name, f"node '{node.name}' takes an input from '{src_node}', "
                                                      "which is not in the model")
                src = self.ids[src_node]
                outs = self.outputs.get(src_node, [])
                src_port = outs[idx] if idx < len(outs) else f"output_{idx}"
                dst_port = ports[k] if k < len(ports) else f"input_{k}"
                page.add_link(Link(src, src_port, bid, dst_port))  # twice into a list port: two links, in order
        if dropped_ctrl:
            self.warnings.append(f"{dropped_ctrl} control dependencies dropped (a page wires data only)")
        self._add_session()
        self._layout()
        if self.warnings:
            page.extra["import_warnings"] = list(self.warnings)
        return page

    def _add_session(self) -> None:
        """A ClientSession fetching the signature's outputs, or the outputs nothing consumes."""
        page = self.page
        fetches: list[tuple[str, str]] = []
        if self.mg.outputs:
            for _key, tensor in sorted(self.mg.outputs.items()):
                node, _, idx = tensor.partition(":")
                outs = self.outputs.get(node, [])
                i = int(idx or 0)
                if node in self.ids and i < len(outs):
                    fetches.append((self.ids[node], outs[i]))
        else:
            used = {(ln.src, ln.src_port) for ln in page.links}
            for node, bid in self.ids.items():
                b = page.block(bid)
                for port in self.outputs.get(node, []):
                    if (b.id, port) not in used and b.type not in ("Const", "Placeholder", "Variable"):
                        fetches.append((b.id, port))
        if not fetches:
            return
        sid = page.new_id("session")
        page.add_block(BlockInstance(sid, "ClientSession", pins={"steps": 1}))
        for src, port in fetches:
            link = Link(src, port, sid, "fetch_outputs")
            if not page.has_link(link):
                page.add_link(link)

    def _layout(self) -> None:
        """Layered, left to right: each block one column after its deepest input; sources (constants,
        placeholders, variables) just before their first consumer, so weights sit beside their op. Columns are
        as wide as their widest block and blocks are stacked by their height (both as the editor draws them,
        estimated from the title and the ports, with room for a result line per output), so none overlap."""
        page = self.page
        g = nx.DiGraph()
        g.add_nodes_from(b.id for b in page)
        g.add_edges_from((ln.src, ln.dst) for ln in page.links)
        depth: dict[str, int] = {}
        for n in nx.topological_sort(g):
            preds = list(g.predecessors(n))
            depth[n] = 1 + max((depth[p] for p in preds), default=-1)
        for n in g:
            if g.in_degree(n) == 0 and g.out_degree(n) > 0:
                depth[n] = max(0, min(depth[s] for s in g.successors(n)) - 1)
        n_in: dict[str, int] = defaultdict(int)
        for ln in page.links:
            n_in[ln.dst] += 1
        columns: dict[int, list[tuple[BlockInstance, float, float]]] = defaultdict(list)
        for b in page:
            decl = REGISTRY.get(b.type)
            outs = len(_output_ports(decl, b.pins)) if decl is not None else 1
            ins = len(decl.inputs) if decl is not None else n_in[b.id]
            columns[depth[b.id]].append((b, *_block_size(b, ins, outs)))
        x = 0.0
        for c in sorted(columns):
            y = 0.0
            for b, _w, h in columns[c]:
                b.pos = (x, y)
                y += h + ROW_GAP
            x += max(w for _, w, _ in columns[c]) + COLUMN_GAP


def _block_size(b: BlockInstance, inputs: int, outputs: int) -> tuple[float, float]:
    """About the width and height the editor draws ``b`` at (a title of ~9 units a letter, a row of 20 a port),
    with a result line per output below; generous, so that the editor's blocks fit in."""
    title = b.label or b.id
    sub = b.type if b.type != title else ""
    width = max(160.0, 9.0 * len(title) + 40.0, 8.0 * len(sub) + 40.0, 200.0)
    height = 50.0 + (18.0 if sub else 0.0) + 20.0 * max(inputs, outputs, 1) + 17.0 * max(outputs, 1) + 10.0
    return width, height


def page_from_model(mg: ModelGraph, freeze: bool = False) -> tuple[Page, dict[str, np.ndarray]]:
    """The page for a model and the arrays for its data file (the page names no data file yet)."""
    b = _Builder(mg, freeze)
    return b.run(), b.arrays


def import_model(source: str | Path, output: str | Path, signature: str | None = None,
                 freeze: bool = False) -> Page:
    """Read the model at ``source`` and write it as the page ``output`` (with ``NAME.npz`` beside it when it
    has large constants); returns the page. Raises PageFileError naming the file."""
    mg = read_model(source, signature)
    page, arrays = page_from_model(mg, freeze)
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


def compact_json(doc: dict[str, Any]) -> str:
    """A page document with one block and one link per line: readable, diffable, and written by json's fast
    encoder (an indented dump of a model's thousand blocks takes several times longer)."""
    head = {k: v for k, v in doc.items() if k not in ("blocks", "links")}
    lines = ["{"]
    for k, v in head.items():
        lines.append(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    for key in ("blocks", "links"):
        items = doc.get(key, [])
        lines.append(f' "{key}": [')
        lines.append(",\n".join("  " + json.dumps(x, ensure_ascii=False) for x in items))
        lines.append(" ]" + ("," if key == "blocks" else ""))
    lines.append("}")
    return "\n".join(ln for ln in lines if ln) + "\n"
