"""A TensorFlow model's GraphDef as a page: every node a block of its op, every data input a link.

``PageBuilder`` (and ``page_from_model``) turn a GraphDef message (TensorFlow's own, or the one
``formats.graphdef`` reads without TensorFlow: the fields are the same) into a page and the arrays of its data
file: constants larger than a few values are kept out of the JSON (``app.document.datafile``). Placeholders
stay Placeholders (holding zeros until fed), a signature's inputs take their keys as block ids, the outputs
(the signature's, or the model's sinks: ``_sinks``) are wired into a ClientSession (and the ops a model runs
for their effects into its ``run_outputs``), a model's initialisers (or a GraphDef's table initialisers) into
an ``Initializer``, control dependencies (``^name`` inputs) become control links (``^`` to ``^``), the
leftovers nothing uses are left out (NoOps, unused variant/resource Placeholders), and the blocks are laid
out in layers, left to right. Block declarations come from
the registry the caller passes (``blocks.REGISTRY``, or the editor's TensorFlow-free view of it). Imports
neither TensorFlow nor Qt; what needs TensorFlow raises ``formats.graphdef.NeedsTensorFlow``.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from enuflow.app.document import datafile
from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.document.formats.graphdef import NeedsTensorFlow, dtype_name, tensor_array
from enuflow.app.document.layout import auto_layout
from enuflow.app.document.page import BlockInstance, Link, Page

#: constants with more elements than this go to the data file
INLINE_LIMIT = datafile.INLINE_LIMIT
#: the ops that fill a lookup table (run once, before the first step, by an Initializer)
TABLE_INITIALIZERS = frozenset({"LookupTableImportV2", "InitializeTableV2", "InitializeTableFromTextFileV2"})
#: the names a frozen function gives its outputs
_FUNCTION_OUTPUT = re.compile(r"Identity(_\d+)?")
#: DataType values a Placeholder cannot be fed with on a page
_UNFEEDABLE = {20: "resource", 21: "variant"}
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
    #: nodes run at each step for their effects (a signature's control outputs): ClientSession.run_outputs
    targets: list[str] = field(default_factory=list)
    #: nodes run once before the first step (a SavedModel's initialisers): wired into an Initializer block
    initializers: list[str] = field(default_factory=list)


def _split_input(name: str) -> tuple[str, int, bool]:
    """(node, output index, is a control input) of a NodeDef input string."""
    if name.startswith("^"):
        return name[1:], 0, True
    node, _, idx = name.partition(":")
    return node, int(idx) if idx else 0, False


def attr_python(av: Any) -> Any:
    """A JSON-ready pin value for an AttrValue; raises ValueError for kinds a pin cannot hold."""
    which = av.WhichOneof("value")
    if which == "list":
        lst = av.list
        for kind in ("i", "f", "b", "s", "type", "shape"):
            items = list(getattr(lst, kind))
            if items:
                return [_scalar(kind, v) for v in items]
        if lst.func or lst.tensor:
            raise ValueError("a list of functions or tensors")
        return []
    if which in ("i", "f", "b", "s", "type", "shape"):
        return _scalar(which, getattr(av, which))
    raise ValueError(f"an attr of kind {which}")


def _scalar(kind: str, v: Any) -> Any:
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
        return dtype_name(int(v))
    if kind == "shape":
        if v.unknown_rank:
            return None
        return [int(d.size) for d in v.dim]
    raise ValueError(kind)


def _has_func(node: Any) -> bool:
    return any(av.WhichOneof("value") == "func" or (av.WhichOneof("value") == "list" and av.list.func)
               for av in node.attr.values())


def _output_ports(decl: Any, pins: dict[str, Any]) -> list[str]:
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


def _input_ports(decl: Any, pins: dict[str, Any], n_inputs: int) -> list[str]:
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


class PageBuilder:
    """Turns one GraphDef into a page and the arrays of its data file.

    ``registry`` gives block declarations by op name (``get``). Without TensorFlow, a node that calls
    functions, a tensor numpy cannot hold, or (``strict``) an op the registry does not know raises
    NeedsTensorFlow; ``app.engine.import_model`` subclasses this with TensorFlow for those.
    """

    #: whether TensorFlow is at hand (then what needs it and still fails is an error naming the node)
    with_tensorflow = False

    def __init__(self, mg: ModelGraph, freeze: bool, registry: Any, strict: bool = False) -> None:
        self.mg = mg
        self.freeze = freeze
        self.registry = registry
        self.strict = strict
        self.page = Page(mg.name)
        self.arrays: dict[str, np.ndarray] = {}
        self.warnings: list[str] = []
        self.outputs: dict[str, list[str]] = {}  # node -> output port names by index
        self.ids: dict[str, str] = {}  # node -> block id
        self._inert: set[str] = set()  # NoOps without inputs, left out with the control inputs from them
        self._read: set[str] | None = None  # ``read_nodes``, once worked out

    def read_nodes(self) -> set[str]:
        """The names of the nodes of the model that some node takes an input from (data or control), worked out
        once per import."""
        if self._read is None:
            self._read = {_split_input(s)[0] for n in self.mg.graph_def.node for s in n.input}
        return self._read

    def array(self, tensor: Any) -> np.ndarray:
        """A Const's value (overridden where TensorFlow reads what numpy cannot)."""
        return tensor_array(tensor)

    def zeros(self, dtype: str, dims: list[int]) -> np.ndarray:
        """The zeros a Placeholder holds until it is fed."""
        from enuflow.app.document.values import ValueParseError, numpy_dtype

        try:
            return np.zeros(dims, dtype=np.dtype(numpy_dtype(dtype)))
        except (ValueParseError, ImportError, TypeError) as e:
            raise NeedsTensorFlow(f"a Placeholder of dtype {dtype}: {e}") from None

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
        op = node.op
        bid = self.ids[node.name]
        if op == "Const":
            arr = self.array(node.attr["value"].tensor)
            dtype = dtype_name(node.attr["dtype"].type)
            if node.name in self.mg.variables and not self.freeze:
                pins = {"dtype": dtype, "shape": list(arr.shape),
                        "initvalues": self.tensor_value(node.name, arr, dtype)}
                self.outputs[node.name] = ["ref"]
                return BlockInstance(bid, "Variable", pins=pins, label=self.mg.variables[node.name])
            pins = {"dtype": dtype, "shape": list(arr.shape), "val": self.tensor_value(node.name, arr, dtype)}
            self.outputs[node.name] = ["output"]
            return BlockInstance(bid, "Const", pins=pins)
        if op == "Placeholder":
            dtype = dtype_name(node.attr["dtype"].type)
            shape = _scalar("shape", node.attr["shape"].shape) if "shape" in node.attr else None
            dims = [] if shape is None else [1 if d < 0 else d for d in shape]
            zeros = self.zeros(dtype, dims)
            pins = {"dtype": dtype, "value": self.tensor_value(node.name, zeros, dtype)}
            if shape is not None:
                pins["shape"] = shape
            self.outputs[node.name] = ["output"]
            return BlockInstance(bid, "Placeholder", pins=pins)
        if _has_func(node):
            return self.function_block(node)
        decl = self.registry.get(op)
        if decl is None and self.strict:
            raise NeedsTensorFlow(f"op {op} is not known here")
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
        """The block of an op that calls functions (needs TensorFlow: see ``app.engine.import_model``)."""
        raise NeedsTensorFlow(f"{node.name}: {node.op} calls functions")

    def run(self, layout: bool = True) -> Page:
        """The page (laid out unless ``layout`` is false: a caller that folds it lays out each level)."""
        page = self.page
        nodes = self._kept_nodes()
        self.ids = {n.name: n.name for n in nodes}
        # Placeholders take their signature keys as block ids (what a served page is fed by)
        for key, node in self.mg.inputs.items():
            if key != node and node in self.ids and key not in self.ids:
                self.ids[node] = key
        for node in nodes:
            page.add_block(self._block_of(node))
        for node in nodes:
            self._wire(node)
        self._add_session()
        self._add_initializer()
        if layout:
            self._layout()
        if self.warnings:
            page.extra["import_warnings"] = list(self.warnings)
        return page

    def _kept_nodes(self) -> list[Any]:
        """The nodes that become blocks: all but the leftovers (``NoOp``s no node waits for, or that wait for nothing;
        Placeholders of dtype variant or resource, or named ``unused_control_flow_input``, that nothing reads: what
        TensorFlow's lowering of control flow leaves behind). A used variant or resource Placeholder raises
        PageFileError naming it: a page cannot feed such a value."""
        gd = self.mg.graph_def
        used = self.read_nodes()
        keep = set(self.mg.targets) | set(self.mg.initializers) | set(self.mg.inputs.values())
        nodes, dropped, seen = [], 0, set()
        for n in gd.node:
            if n.name in seen:
                raise PageFileError(self.mg.name, f"node '{n.name}' (op {n.op}) is named twice in the model")
            seen.add(n.name)
            if n.op == "NoOp" and not n.input and n.name not in keep:
                self._inert.add(n.name)  # waiting for it waits for nothing (a frozen function's ``^NoOp``)
            elif n.name in used or n.name in keep:
                if n.op == "Placeholder" and n.attr["dtype"].type in _UNFEEDABLE:
                    raise PageFileError(self.mg.name, f"node '{n.name}' (op Placeholder) is an input of dtype "
                                                      f"{_UNFEEDABLE[n.attr['dtype'].type]}, which a page cannot "
                                                      "feed (freeze the model with what it reads from there)")
                nodes.append(n)
            elif n.op == "NoOp" or (n.op == "Placeholder" and (n.attr["dtype"].type in _UNFEEDABLE or
                                                               n.name.startswith("unused_control_flow_input"))):
                dropped += 1
            else:
                nodes.append(n)
        if dropped:
            self.warnings.append(f"{dropped} unused leftover nodes left out (NoOps and Placeholders nothing reads)")
        return nodes

    def _block_of(self, node: Any) -> BlockInstance:
        """``node_block``, any problem of an odd node raised as a PageFileError naming the node and its op."""
        try:
            return self.node_block(node)
        except PageFileError:
            raise
        except NeedsTensorFlow as e:
            if not self.with_tensorflow:
                raise
            raise PageFileError(self.mg.name, f"node '{node.name}' (op {node.op}) cannot be made a block here "
                                              f"({e})") from None
        except (KeyError, ValueError, TypeError, IndexError, OverflowError) as e:
            raise PageFileError(self.mg.name, f"node '{node.name}' (op {node.op}) cannot be made a block here "
                                              f"({type(e).__name__}: {e})") from None

    def _wire(self, node: Any) -> None:
        """The links into ``node``'s block: its data inputs in order, and its control inputs (``^name``) as
        control links (``^`` to ``^``)."""
        page = self.page
        bid = self.ids[node.name]
        block = page.block(bid)
        inputs = [x for x in (_split_input(s) for s in node.input) if not (x[2] and x[0] in self._inert)]
        for src_node, _, _ in inputs:
            if src_node not in self.ids:
                raise PageFileError(self.mg.name, f"node '{node.name}' (op {node.op}) takes an input from "
                                                  f"'{src_node}', which is not in the model")
        data_inputs = [(n, i) for n, i, ctrl in inputs if not ctrl]
        if block.type == "GraphFunction":
            ports = ["input"] * len(data_inputs)
        else:
            ports = _input_ports(self.registry.get(block.type), block.pins, len(data_inputs))
        for k, (src_node, idx) in enumerate(data_inputs):
            src = self.ids[src_node]
            outs = self.outputs.get(src_node, [])
            src_port = outs[idx] if idx < len(outs) else f"output_{idx}"
            dst_port = ports[k] if k < len(ports) else f"input_{k}"
            page.add_link(Link(src, src_port, bid, dst_port))  # twice into a list port: two links, in order
        for src_node, _, ctrl in inputs:
            link = Link(self.ids[src_node], "^", bid, "^")
            if ctrl and self.ids[src_node] != bid and not page.has_link(link):
                page.add_link(link)

    def _op_port(self, node: str) -> tuple[str, str] | None:
        """The block and output port that stand for node ``node``'s op (its ``operation`` port when it has no
        outputs), or None when the node is not on the page."""
        if node not in self.ids:
            return None
        b = self.page.block(self.ids[node])
        outs = self.outputs.get(node, [])
        if outs:
            return b.id, outs[0]
        decl = self.registry.get(b.type)
        ops = [p.name for p in decl.outputs if p.kind == "operation"] if decl is not None else []
        return (b.id, ops[0]) if ops else None

    def _add_initializer(self) -> None:
        """An Initializer block running the model's initialisers once before the first step: a SavedModel's, or in a
        GraphDef the table initialisers nothing waits for (``TABLE_INITIALIZERS``)."""
        names = list(self.mg.initializers)
        if not names:
            used = self.read_nodes()
            names = [n.name for n in self.mg.graph_def.node
                     if n.op in TABLE_INITIALIZERS and n.name not in used and n.name in self.ids]
        ports = [p for p in (self._op_port(n) for n in names) if p is not None]
        if not ports:
            return
        iid = self.page.new_id("initializer")
        self.page.add_block(BlockInstance(iid, "Initializer", label="the model's initialisers"))
        for src, port in ports:
            link = Link(src, port, iid, "ops")
            if not self.page.has_link(link):
                self.page.add_link(link)

    def _add_session(self) -> None:
        """A ClientSession fetching the signature's outputs (else the model's outputs: ``_sinks``) and running the
        signature's effects."""
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
            for node in self._sinks():
                fetches.extend((self.ids[node], port) for port in self.outputs.get(node, []))
        runs = [p for p in (self._op_port(n) for n in self.mg.targets) if p is not None]
        if not fetches and not runs:
            return
        sid = page.new_id("session")
        page.add_block(BlockInstance(sid, "ClientSession", pins={"steps": 1}))
        for (src, port), into in [(f, "fetch_outputs") for f in fetches] + [(r, "run_outputs") for r in runs]:
            link = Link(src, port, sid, into)
            if not page.has_link(link):
                page.add_link(link)

    def _sinks(self) -> list[str]:
        """The model's outputs when no signature names them: the nodes no node takes anything from (by a data or a
        control input; an ``IdentityN`` whose other outputs are read is no sink), sources and ops without outputs
        aside; of those, when some are a frozen function's outputs (``Identity``, ``Identity_1``, ...: how
        ``convert_variables_to_constants_v2`` names them), only those (a lowered loop's unread ``Exit``s are
        leftovers)."""
        used = self.read_nodes()
        sinks = [n for n in self.mg.graph_def.node if n.name in self.ids and n.name not in used
                 and n.op not in ("Const", "Placeholder", "NoOp") and self.outputs.get(n.name)
                 and self.page.block(self.ids[n.name]).type not in ("Variable",)]
        named = [n for n in sinks if n.op == "Identity" and _FUNCTION_OUTPUT.fullmatch(n.name)]
        return [n.name for n in (named or sinks)]

    def _layout(self) -> None:
        lay_out(self.page, self.registry)


#: a model's long chains are wrapped into bands to about this width : height (the editor's canvas in its window)
WRAP = 1.6


def lay_out(page: Page, registry: Any) -> None:
    """Lay ``page`` out layered, left to right (``app.document.layout``: igraph's Sugiyama layout): each block after
    its inputs, sources (constants, placeholders, variables) just before their first reader, so that weights sit
    beside their op; blocks placed by their sizes as the editor draws them (``block_sizes``), so none overlap."""
    sizes, anchors = block_sizes(page, registry)
    for bid, pos in auto_layout(page, sizes, anchors, wrap=WRAP).items():
        page.block(bid).pos = pos


def block_sizes(page: Page, registry: Any) -> tuple[dict[str, tuple[float, float]], dict[tuple[str, str, bool], float]]:
    """The sizes of ``page``'s blocks as the editor draws them (estimated from the title and the ports, with room
    for a result line per output) and the heights of their ports (a composite instance has its exposed ports)."""
    sizes: dict[str, tuple[float, float]] = {}
    anchors: dict[tuple[str, str, bool], float] = {}
    n_in: dict[str, int] = defaultdict(int)
    for ln in page.links:
        n_in[ln.dst] += 1
    comps = page.composites
    for b in page:
        comp = comps.get(b.type)
        if comp is not None:
            ins, outs = [p.name for p in comp.inputs], [p.name for p in comp.outputs]
        else:
            decl = registry.get(b.type)
            outs = _output_ports(decl, b.pins) if decl is not None else ["output"]
            ins = [p.name for p in decl.inputs] if decl is not None else [f"input_{i}" for i in range(n_in[b.id])]
        sizes[b.id] = _block_size(b, len(ins), len(outs), comp is not None)
        head = 50.0 + (18.0 if b.type != (b.label or b.id) else 0.0)
        for names, is_out in ((ins, False), (outs, True)):
            for k, name in enumerate(names):
                anchors.setdefault((b.id, name, is_out), head + 20.0 * k + 10.0)
    return sizes, anchors


def _block_size(b: BlockInstance, inputs: int, outputs: int, composite: bool = False) -> tuple[float, float]:
    """About the width and height the editor draws ``b`` at (a title of ~9 units a letter, a row of 20 a port),
    with a result line per output below; generous, so that the editor's blocks fit in. A composite's type counts
    its numbers as two digits each (``block_2.expand`` and ``block_11.expand`` take one size: alike levels are laid
    out alike)."""
    title = b.label or b.id
    sub = b.type if b.type != title else ""
    if composite:
        sub = re.sub(r"\d+", lambda m: m.group(0) if len(m.group(0)) > 2 else "00", sub)
    width = max(160.0, 9.0 * len(title) + 40.0, 8.0 * len(sub) + 40.0, 200.0)
    height = 50.0 + (18.0 if sub else 0.0) + 20.0 * max(inputs, outputs, 1) + 17.0 * max(outputs, 1) + 10.0
    return width, height


def page_from_model(mg: ModelGraph, registry: Any, freeze: bool = False, strict: bool = False,
                    layout: bool = True) -> tuple[Page, dict[str, np.ndarray]]:
    """The page for a model and the arrays for its data file (the page names no data file yet)."""
    b = PageBuilder(mg, freeze, registry, strict)
    return b.run(layout), b.arrays


def compact_json(doc: dict[str, Any]) -> str:
    """A page document with one block and one link per line: readable, diffable, and written by json's fast
    encoder (an indented dump of a model's thousand blocks takes several times longer)."""
    head = {k: v for k, v in doc.items() if k not in ("blocks", "links", "composites")}
    lines = ["{"]
    for k, v in head.items():
        lines.append(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    if doc.get("composites"):  # a model folded by scope: one definition a line
        lines.append(' "composites": {')
        lines.append(",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}"
                                 for k, v in doc["composites"].items()))
        lines.append(" },")
    for key in ("blocks", "links"):
        items = doc.get(key, [])
        lines.append(f' "{key}": [')
        lines.append(",\n".join("  " + json.dumps(x, ensure_ascii=False) for x in items))
        lines.append(" ]" + ("," if key == "blocks" else ""))
    lines.append("}")
    return "\n".join(ln for ln in lines if ln) + "\n"
