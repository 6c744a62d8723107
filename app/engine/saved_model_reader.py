"""Reading a SavedModel folder as one GraphDef without running any of it.

A SavedModel is a program: ``tf.saved_model.load`` runs its resource initialisers (and whatever they call)
as it loads. Importing must only read, so this module never loads the model. It parses ``saved_model.pb``
(the MetaGraphDef: its graph and function library, signature_defs, the object graph), inlines the
signature's function calls (``StatefulPartitionedCall`` -> the function's nodes, recursively) into one flat
GraphDef, and reads the variables' saved values with the checkpoint reader (which reads tensors from the
``variables/`` files and runs no graph). A variable node of the graph is matched to its checkpoint key
through the object graph: a signature's call takes its captured variables as its last inputs, the
``bound_inputs`` of its concrete function name their object-graph nodes, and the checkpoint's own object
graph (walked from the root along the same child names) gives each node's checkpoint key. Then TensorFlow's
variables-to-constants rewrite (a graph rewrite, nothing run) turns each variable into a constant holding its
value, its reads into Identities, through ``While``/``If`` bodies too.

What the model runs besides the signature's outputs becomes part of the page, to run under the page's
rules: the effects of the signature's function (its control outputs, such as a ``WriteFile``) are
``targets`` (run at each step), and the SavedModel's initialisers (``__saved_model_init_op``, a TF1 main op
or ``table_initializer``) are ``initializers`` (run once before the first step). Asset files are named by
their path in the folder. What cannot be made a page without running the model is refused with
PageFileError naming the folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.document.formats.model_page import ModelGraph
from enuflow.blocks.tf import load

#: ops that call the function named by their attr ``f`` (inlined here)
CALL_OPS = ("PartitionedCall", "StatefulPartitionedCall")
#: ops that may consume a variable's handle once it holds a constant (the rewrite handles these)
_READS = frozenset({"ReadVariableOp", "ResourceGather", "ResourceGatherNd", "While", "StatelessWhile", "If",
                    "StatelessIf", "Case"})
#: effects of a function that need not be run on their own (reads, handle creation, grouping)
_NO_EFFECT = frozenset({"ReadVariableOp", "VarHandleOp", "VarIsInitializedOp", "NoOp", "Identity", "Const",
                        "Placeholder", "HashTableV2", "MutableHashTableV2", "MutableHashTableOfTensorsV2",
                        "MutableDenseHashTableV2"})
INIT_SIGNATURE = "__saved_model_init_op"


def read_saved_model(src: Path, signature: str) -> ModelGraph:
    """The signature ``signature`` of the SavedModel folder ``src`` as one GraphDef, its variables holding their
    saved values; raises PageFileError naming the folder."""
    try:
        return _read(src, signature)
    except PageFileError:
        raise
    except (KeyError, IndexError, ValueError, TypeError) as e:  # a message that does not hang together
        raise PageFileError(str(src), f"cannot be read as a SavedModel ({type(e).__name__}: {e})") from None


def _read(src: Path, signature: str) -> ModelGraph:
    meta = _meta_graph(src)
    sigs = {k: v for k, v in meta.signature_def.items() if k != INIT_SIGNATURE}
    if signature not in sigs:
        have = ", ".join(sorted(sigs)) or "none"
        raise PageFileError(str(src), f"has no signature '{signature}' (signatures: {have})")
    sig = sigs[signature]
    inputs = {key: _tensor_name(src, signature, key, info) for key, info in sig.inputs.items()}
    outputs = {key: _tensor_name(src, signature, key, info) for key, info in sorted(sig.outputs.items())}
    init_roots = _init_roots(meta)
    sig_roots = [t.split(":")[0] for t in outputs.values()]
    top = _prune(meta.graph_def.node, sig_roots + init_roots)
    flat = _Flattener(meta.graph_def.library, str(src))
    flat.add_nodes(top, "")
    out_tensors = {key: flat.resolve(_with_index(t)) for key, t in outputs.items()}
    out_nodes = {t.split(":")[0] for t in out_tensors.values()}
    computed = flat.ancestors(out_nodes)
    run_ops = [n for n in flat.effects_of([n.name for n in _prune(top, sig_roots)]) if n not in computed]
    init_ops = flat.effects_of(init_roots)
    graph_def = flat.graph_def(sorted(out_nodes) + run_ops + init_ops, meta.graph_def.versions)
    _name_assets(src, meta, graph_def)
    reader = _checkpoint(src)
    if reader is None and any(n.WhichOneof("kind") == "variable" for n in meta.object_graph_def.nodes):
        raise PageFileError(str(src), "has variables but no variables/variables.index to read their values from")
    variables = _variable_keys(src, meta, top, reader) if reader is not None else {}
    restored = _saved_tables(src, graph_def, reader)
    graph_def, labels = _constants(src, signature, graph_def, variables, reader)
    mg = ModelGraph(graph_def, src.name or "saved_model", labels)
    mg.inputs = {key: t.split(":")[0] for key, t in sorted(inputs.items())}
    mg.outputs = out_tensors
    mg.targets = run_ops
    mg.initializers = init_ops + restored
    return mg


#: the lookup tables whose contents a SavedModel keeps in its checkpoint (``table-keys``, ``table-values``)
_MUTABLE_TABLES = frozenset({"MutableHashTableV2", "MutableHashTableOfTensorsV2", "MutableDenseHashTableV2"})
_TABLE_KEYS = "/.ATTRIBUTES/table-keys"


def _saved_tables(src: Path, graph_def: Any, reader: Any) -> list[str]:
    """Fill the model's mutable table from its saved contents: a ``LookupTableImportV2`` of them (two Consts),
    added to ``graph_def``; returns its name (an initialiser, run once before the first step). Done when the model
    has one such table and the checkpoint the contents of one; other cases raise PageFileError naming the node
    and its op (a page with the table empty would compute other numbers)."""
    tables = [n for n in graph_def.node if n.op in _MUTABLE_TABLES]
    shapes = reader.get_variable_to_shape_map() if reader is not None else {}
    saved = sorted(k[:-len(_TABLE_KEYS)] for k in shapes if k.endswith(_TABLE_KEYS))
    if not tables or not saved:
        return []
    table = tables[0]
    if len(tables) > 1 or len(saved) > 1 or table.op == "MutableDenseHashTableV2":
        raise PageFileError(str(src), f"node '{table.name}' (op {table.op}) is a table whose saved contents "
                                      "enuflow reads only for one MutableHashTable a model (freeze its contents "
                                      "into a HashTableV2)")
    tf = load()
    keys = reader.get_tensor(saved[0] + _TABLE_KEYS)
    values = reader.get_tensor(saved[0] + "/.ATTRIBUTES/table-values")
    made = []
    for part, arr, dtype in (("keys", keys, table.attr["key_dtype"].type),
                             ("values", values, table.attr["value_dtype"].type)):
        node = graph_def.node.add()
        node.name, node.op = f"{table.name}/saved_{part}", "Const"
        node.attr["dtype"].type = dtype
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(arr, dtype=tf.as_dtype(dtype)))
        made.append(node.name)
    fill = graph_def.node.add()
    fill.name, fill.op = f"{table.name}/restore", "LookupTableImportV2"
    fill.input.extend([table.name, *made])
    fill.attr["Tin"].type = table.attr["key_dtype"].type
    fill.attr["Tout"].type = table.attr["value_dtype"].type
    return [fill.name]


# -- the SavedModel message -----------------------------------------------------------------------------

def _meta_graph(src: Path) -> Any:
    """The MetaGraphDef tagged ``serve`` (else the only one) of the folder's saved_model.pb or .pbtxt."""
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    binary, text = src / "saved_model.pb", src / "saved_model.pbtxt"
    try:
        if binary.is_file():
            sm.ParseFromString(binary.read_bytes())
        elif text.is_file():
            from google.protobuf import text_format

            text_format.Parse(text.read_text(encoding="utf-8"), sm)
        else:
            raise PageFileError(str(src), "is not a SavedModel folder (no saved_model.pb in it)")
    except PageFileError:
        raise
    except OSError as e:
        raise PageFileError(str(src), f"cannot be read: {e.strerror or e}") from None
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError, ParseError, UnicodeDecodeError
        raise PageFileError(str(src), f"its saved_model.pb is not a SavedModel ({type(e).__name__}: {e})") \
            from None
    if not sm.meta_graphs:
        raise PageFileError(str(src), "holds no MetaGraph")
    for meta in sm.meta_graphs:
        if "serve" in meta.meta_info_def.tags:
            return meta
    return sm.meta_graphs[0]


def _tensor_name(src: Path, signature: str, key: str, info: Any) -> str:
    if info.WhichOneof("encoding") != "name":
        raise PageFileError(str(src), f"signature '{signature}': '{key}' is a {info.WhichOneof('encoding')} "
                                      "tensor, which a page cannot take or give")
    return info.name


def _with_index(tensor: str) -> str:
    return tensor if ":" in tensor else tensor + ":0"


def _init_roots(meta: Any) -> list[str]:
    """The nodes that initialise the model: TF2's init signature, else TF1's main op and table initialisers."""
    init = meta.signature_def.get(INIT_SIGNATURE)
    if init is not None:
        return [info.name.split(":")[0] for info in init.outputs.values()]
    roots: list[str] = []
    for key in ("saved_model_main_op", "legacy_init_op", "table_initializer"):
        col = meta.collection_def.get(key)
        if col is not None:
            roots.extend(n.split(":")[0].lstrip("^") for n in col.node_list.value)
    return roots


def _prune(nodes: Any, roots: list[str]) -> list[Any]:
    """The nodes ``roots`` need (through data and control inputs), in their order in the graph."""
    by_name = {n.name: n for n in nodes}
    need: set[str] = set()
    stack = [r for r in roots if r in by_name]
    while stack:
        name = stack.pop()
        if name in need:
            continue
        need.add(name)
        for inp in by_name[name].input:
            src = inp.lstrip("^").split(":")[0]
            if src in by_name and src not in need:
                stack.append(src)
    return [n for n in nodes if n.name in need]


def _name_assets(src: Path, meta: Any, graph_def: Any) -> None:
    """Asset tensors (a file's name in the folder's assets/) hold the file's path, as the loader feeds them."""
    from tensorflow.core.framework import types_pb2

    nodes = {n.name: n for n in graph_def.node}
    for asset in meta.asset_file_def:
        node = nodes.get(asset.tensor_info.name.split(":")[0])
        if node is None:
            continue
        path = os.path.join(os.path.abspath(src), "assets", asset.filename).encode("utf-8")
        node.op = "Const"
        for key in list(node.attr):
            del node.attr[key]
        node.attr["dtype"].type = types_pb2.DT_STRING
        value = node.attr["value"].tensor
        value.dtype = types_pb2.DT_STRING
        value.string_val.append(path)


# -- variables ------------------------------------------------------------------------------------------

def _checkpoint(src: Path) -> Any:
    """The checkpoint reader of the folder's variables, or None when the model has none."""
    prefix = src / "variables" / "variables"
    if not Path(str(prefix) + ".index").is_file():
        return None
    tf = load()
    try:
        return tf.train.load_checkpoint(str(prefix))
    except Exception as e:  # noqa: BLE001 - whatever the reader raises for a damaged bundle
        raise PageFileError(str(src), f"its variables cannot be read ({type(e).__name__}: {e})") from None


def _variable_keys(src: Path, meta: Any, top: list[Any], reader: Any) -> dict[str, tuple[str, str]]:
    """Graph node name -> (checkpoint key, variable name) of the variables the model's calls capture (TF2: through
    the object graph), else (TF1) of the variable nodes named as their checkpoint keys."""
    og = meta.object_graph_def
    keys: dict[str, tuple[str, str]] = {}
    if og.nodes:
        ckpt_keys = _object_checkpoint_keys(src, og, reader)
        for node in top:
            fn = node.attr["f"].func.name if node.op in CALL_OPS else ""
            cf = og.concrete_functions.get(fn) if fn else None
            if cf is None or not cf.bound_inputs:
                continue
            data = [i for i in node.input if not i.startswith("^")]
            for inp, obj in zip(data[len(data) - len(cf.bound_inputs):], cf.bound_inputs):
                if og.nodes[obj].WhichOneof("kind") == "variable" and obj in ckpt_keys:
                    name = og.nodes[obj].variable.name or inp.split(":")[0]
                    keys[inp.split(":")[0]] = (ckpt_keys[obj], name)
    have = reader.get_variable_to_shape_map()
    for node in top:
        if node.op in ("VarHandleOp", "VariableV2", "Variable") and node.name not in keys and node.name in have:
            keys[node.name] = (node.name, node.name)
    return keys


def _object_checkpoint_keys(src: Path, og: Any, reader: Any) -> dict[int, str]:
    """Saved object-graph node id -> the checkpoint key of its value, for the variables, matched to the
    checkpoint's object graph by walking both from the root along the same child names."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    try:
        raw = reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH")
        ckpt = trackable_object_graph_pb2.TrackableObjectGraph()
        ckpt.ParseFromString(raw)
    except Exception as e:  # noqa: BLE001 - no object graph, or not one
        raise PageFileError(str(src), f"its variables hold no object graph ({type(e).__name__}: {e})") from None
    out: dict[int, str] = {}
    seen: set[int] = set()
    queue = [(0, 0)]
    while queue:
        saved_id, ckpt_id = queue.pop()
        if saved_id in seen or saved_id >= len(og.nodes) or ckpt_id >= len(ckpt.nodes):
            continue
        seen.add(saved_id)
        for attr in ckpt.nodes[ckpt_id].attributes:
            if attr.name == "VARIABLE_VALUE":
                out[saved_id] = attr.checkpoint_key
        ckpt_children = {c.local_name: c.node_id for c in ckpt.nodes[ckpt_id].children}
        for child in og.nodes[saved_id].children:
            if child.local_name in ckpt_children:
                queue.append((child.node_id, ckpt_children[child.local_name]))
    return out


def _constants(src: Path, signature: str, graph_def: Any, variables: dict[str, tuple[str, str]],
               reader: Any) -> tuple[Any, dict[str, str]]:
    """``graph_def`` with its variables as constants holding their saved values (TensorFlow's rewrite, which
    also rewrites the functions that take them), and node name -> variable name of those constants."""
    from tensorflow.python.framework import convert_to_constants as cc

    nodes = {n.name: n for n in graph_def.node}
    present = {name: key for name, key in variables.items() if name in nodes}
    if not present:
        return graph_def, {}
    _check_reads(src, signature, graph_def, set(present))
    data = cc._ConverterData(graph_def)  # noqa: SLF001 - TensorFlow's graph rewrite, public API wraps a session
    tf = load()
    for name, (key, _label) in present.items():
        try:
            value = reader.get_tensor(key)
        except Exception as e:  # noqa: BLE001
            raise PageFileError(str(src), f"variable '{key}' cannot be read ({type(e).__name__}: {e})") from None
        data.tensor_data[name] = cc._TensorData(numpy=value, dtype=tf.as_dtype(value.dtype).as_datatype_enum,
                                                index=None)
    try:
        converted, _ = cc._replace_variables_by_constants(data)  # noqa: SLF001
    except Exception as e:  # noqa: BLE001
        raise PageFileError(str(src), f"signature '{signature}': its variables cannot be made constants "
                                      f"({type(e).__name__}: {e})") from None
    _drop_shape_hints(converted)
    return converted, {name: label for name, (_key, label) in present.items()}


def _drop_shape_hints(graph_def: Any) -> None:
    """Remove ``_output_shapes`` hints: those of a variable's handle (a scalar) no longer fit its value."""
    nodes = list(graph_def.node)
    for f in graph_def.library.function:
        nodes.extend(f.node_def)
        for attrs in f.arg_attr.values():
            if "_output_shapes" in attrs.attr:
                del attrs.attr["_output_shapes"]
    for node in nodes:
        if "_output_shapes" in node.attr:
            del node.attr["_output_shapes"]


def _check_reads(src: Path, signature: str, graph_def: Any, handles: set[str]) -> None:
    """Refuse a model whose graph does more with a saved variable than read it (a page holds saved values): a
    resource variable's handle may only go to reads (and the loops and branches the rewrite follows), a
    reference variable (TF1) only to ops that take it by value."""
    from tensorflow.python.framework import op_def_registry

    kinds = {n.name: n.op for n in graph_def.node if n.name in handles}
    for node in graph_def.node:
        for inp in node.input:
            name = inp.split(":")[0]
            if name not in handles or inp.startswith("^"):
                continue
            if kinds[name] == "VarHandleOp":
                reads = node.op in _READS
            else:
                op_def = op_def_registry.get(node.op)
                reads = op_def is not None and not any(a.is_ref for a in op_def.input_arg)
            if not reads:
                raise PageFileError(str(src), f"signature '{signature}': {node.op} '{node.name}' changes or "
                                              f"inspects the variable '{name}'; only reading saved variables "
                                              "can be imported without running the model")


# -- inlining function calls ----------------------------------------------------------------------------

class _Flattener:
    """Nodes of a graph with every call of a library function replaced by the function's own nodes, named
    under the call's name (``call/inner``); tensors the calls passed through are aliases, resolved at the end."""

    def __init__(self, library: Any, source: str) -> None:
        self.library = {f.signature.name: f for f in library.function}
        self.source = source
        self.nodes: dict[str, Any] = {}
        #: tensor ("node:index") -> the tensor it stands for (a call's output, a function's argument)
        self.alias: dict[str, str] = {}
        #: inlined call name -> the nodes whose effects the call had (its function's control outputs)
        self.effects: dict[str, list[str]] = {}
        self._bodies: dict[str, tuple[list[Any], dict[str, str]]] = {}

    def callee(self, node: Any) -> str | None:
        if node.op in CALL_OPS and node.attr["f"].func.name in self.library:
            return node.attr["f"].func.name
        return node.op if node.op in self.library else None

    def add_nodes(self, nodes: list[Any], prefix: str) -> None:
        """Add ``nodes`` (a function body's, or the top graph's) under ``prefix``, inlining their calls."""
        from tensorflow.core.framework import node_def_pb2

        for node in nodes:
            copy = node_def_pb2.NodeDef()
            copy.CopyFrom(node)
            copy.name = _under(prefix, node.name)
            del copy.input[:]
            copy.input.extend(("^" + _under(prefix, i[1:])) if i.startswith("^") else _under(prefix, i)
                              for i in node.input)
            fn = self.callee(node)
            if fn is not None:
                self.inline(copy, fn)
            elif copy.name in self.nodes:
                raise PageFileError(self.source, f"two nodes are named '{copy.name}' once function calls are "
                                                 "inlined")
            else:
                self.nodes[copy.name] = copy

    def inline(self, call: Any, fn: str) -> None:
        fdef = self.library[fn]
        body, ret = self.body(fn)
        data = [i for i in call.input if not i.startswith("^")]
        args = fdef.signature.input_arg
        if len(data) != len(args):
            raise PageFileError(self.source, f"'{call.name}' passes {len(data)} inputs to function {fn}, which "
                                             f"takes {len(args)}")
        for arg, inp in zip(args, data):
            self.alias[f"{_under(call.name, arg.name)}:0"] = _with_index(inp)
        for j, out in enumerate(fdef.signature.output_arg):
            self.alias[f"{call.name}:{j}"] = _under(call.name, ret[fdef.ret[out.name]])
        arg_names = {a.name for a in args}
        self.add_nodes([n for n in body if n.name not in arg_names], call.name)
        self.effects[call.name] = [_under(call.name, name) for name in fdef.control_ret.values()]

    def body(self, fn: str) -> tuple[list[Any], dict[str, str]]:
        """A function's nodes with GraphDef input names (``node:index``), and its nested names -> those."""
        if fn not in self._bodies:
            self._bodies[fn] = _graph_body(self.library, self.library[fn], self.source)
        return self._bodies[fn]

    def resolve(self, tensor: str) -> str:
        seen = 0
        while tensor in self.alias:
            tensor = self.alias[tensor]
            seen += 1
            if seen > 10000:
                raise PageFileError(self.source, f"the tensor '{tensor}' stands for itself through calls")
        return tensor

    def effects_of(self, names: list[str]) -> list[str]:
        """The nodes whose effects the nodes ``names`` have, through their calls and NoOps, needing a run."""
        out: list[str] = []
        stack = list(reversed(names))
        seen: set[str] = set()
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self.effects:
                stack.extend(reversed(self.effects[name]))
            elif name in self.nodes:
                node = self.nodes[name]
                if node.op == "NoOp":
                    stack.extend(reversed([i[1:] for i in node.input if i.startswith("^")]))
                elif node.op not in _NO_EFFECT and _is_stateful(node.op):
                    out.append(name)
        return out

    def ancestors(self, names: set[str]) -> set[str]:
        """Every node the nodes ``names`` take data from, themselves included."""
        out: set[str] = set()
        stack = [n for n in names if n in self.nodes]
        while stack:
            name = stack.pop()
            if name in out:
                continue
            out.add(name)
            for inp in self.nodes[name].input:
                if not inp.startswith("^"):
                    src = self.resolve(_with_index(inp)).split(":")[0]
                    if src in self.nodes and src not in out:
                        stack.append(src)
        return out

    def graph_def(self, roots: list[str], versions: Any) -> Any:
        """The GraphDef of what ``roots`` need through data inputs: aliases resolved, control inputs kept only
        to nodes still there, and only the library functions its nodes call."""
        from tensorflow.core.framework import graph_pb2

        keep = self.ancestors(set(roots))
        gd = graph_pb2.GraphDef()
        gd.versions.CopyFrom(versions)
        for name, node in self.nodes.items():
            if name not in keep:
                continue
            out = gd.node.add()
            out.CopyFrom(node)
            del out.input[:]
            for inp in node.input:
                if inp.startswith("^"):
                    if inp[1:] in keep:
                        out.input.append(inp)
                else:
                    out.input.append(_short(self.resolve(_with_index(inp))))
        for fn in library_calls(self.library, gd.node):
            gd.library.function.add().CopyFrom(self.library[fn])
        return gd


def _under(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def _short(tensor: str) -> str:
    return tensor[:-2] if tensor.endswith(":0") else tensor


def _is_stateful(op: str) -> bool:
    from tensorflow.python.framework import op_def_registry

    op_def = op_def_registry.get(op)
    return op_def is None or op_def.is_stateful


def library_calls(library: dict[str, Any], nodes: Any) -> list[str]:
    """The library functions the nodes call (through any func attr), and those these call, in a stable order."""
    out: list[str] = []
    stack = [fn for n in nodes for fn in _func_attrs(n)]
    while stack:
        fn = stack.pop()
        if fn in out or fn not in library:
            continue
        out.append(fn)
        stack.extend(f for n in library[fn].node_def for f in _func_attrs(n))
        stack.extend(n.op for n in library[fn].node_def if n.op in library)
    return sorted(out)


def _func_attrs(node: Any) -> list[str]:
    names = []
    for av in node.attr.values():
        kind = av.WhichOneof("value")
        if kind == "func":
            names.append(av.func.name)
        elif kind == "list":
            names.extend(f.name for f in av.list.func)
    return names


def _graph_body(library: dict[str, Any], fdef: Any, source: str) -> tuple[list[Any], dict[str, str]]:
    """A FunctionDef's nodes with inputs named as in a GraphDef (``node:flat index``, its arguments as
    ``arg:0``), and the map from its own names (``node:output_arg:i``) to those."""
    from tensorflow.core.framework import node_def_pb2
    from tensorflow.python.framework import op_def_registry

    names = {arg.name: f"{arg.name}:0" for arg in fdef.signature.input_arg}
    for node in fdef.node_def:
        op_def = library[node.op].signature if node.op in library else op_def_registry.get(node.op)
        if op_def is None:
            raise PageFileError(source, f"function {fdef.signature.name}: op {node.op} of '{node.name}' is not "
                                        "known to this TensorFlow")
        defaults = {a.name: a.default_value for a in getattr(op_def, "attr", [])}
        index = 0
        for arg in op_def.output_arg:
            for i in range(_arg_count(arg, node, defaults)):
                names[f"{node.name}:{arg.name}:{i}"] = f"{node.name}:{index}"
                index += 1
    body = []
    for node in fdef.node_def:
        copy = node_def_pb2.NodeDef()
        copy.CopyFrom(node)
        del copy.input[:]
        for inp in node.input:
            if inp.startswith("^"):
                copy.input.append(inp)
            elif inp in names:
                copy.input.append(names[inp])
            else:
                raise PageFileError(source, f"function {fdef.signature.name}: '{node.name}' takes '{inp}', "
                                            "which the function does not make")
        body.append(copy)
    return body, names


def _arg_count(arg: Any, node: Any, defaults: dict[str, Any]) -> int:
    def attr(name: str) -> Any:
        return node.attr[name] if name in node.attr else defaults.get(name)

    if arg.number_attr:
        av = attr(arg.number_attr)
        return int(av.i) if av is not None else 1
    if arg.type_list_attr:
        av = attr(arg.type_list_attr)
        return len(av.list.type) if av is not None else 0
    return 1
