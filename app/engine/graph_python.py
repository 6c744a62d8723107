"""A GraphDef written as a standalone TensorFlow script: one ``tf.raw_ops`` call per node, in dependency order.

``graph_script(graph_def, x, y)`` gives the script's text and the arrays it reads (every Const of more than a few
elements goes to ``SCRIPT_weights.npz`` beside it, read with ``allow_pickle=False``). The script builds the graph
in ``build(values)``, and ``predict(x)`` runs it in a ``tf.compat.v1.Session``; run as a program it reads ``x``
from an ``.npy`` file and prints ``y`` (or saves it, with ``-o OUT.npy``). Attr values are written as Python literals
(numbers, strings, dtypes, shapes), never evaluated from the page. Control inputs are left out (an inference
graph orders nothing). Used by ``enuflow export --python`` for the inference part of a trained page
(``app.engine.export_inference``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from enuflow.blocks.tf import load

#: Consts of at most this many elements are written into the script; larger ones go to the .npz
INLINE_SIZE = 16


class GraphScriptProblem(Exception):
    """A node the script cannot write (its message names the node)."""


def _order(gd: Any) -> list[Any]:
    """The nodes of ``gd`` in dependency order (data inputs first)."""
    nodes = {n.name: n for n in gd.node}
    done: set[str] = set()
    out: list[Any] = []
    for start in nodes:
        stack = [(start, False)]
        while stack:
            name, expanded = stack.pop()
            if name in done or name not in nodes:
                continue
            if expanded:
                done.add(name)
                out.append(nodes[name])
                continue
            stack.append((name, True))
            for inp in nodes[name].input:
                if not inp.startswith("^"):
                    src = inp.split(":")[0]
                    if src not in done:
                        stack.append((src, False))
    return out


def _attr_literal(tf: Any, node: str, name: str, v: Any) -> str:
    """An AttrValue as a Python literal for a raw_ops call."""
    which = v.WhichOneof("value")
    if which == "s":
        return repr(v.s.decode("utf-8", "replace"))
    if which in ("i", "f", "b"):
        return repr(getattr(v, which))
    if which == "type":
        return f"tf.{tf.as_dtype(v.type).name}"
    if which == "shape":
        return repr(None if v.shape.unknown_rank else [None if d.size < 0 else int(d.size) for d in v.shape.dim])
    if which == "list":
        lst = v.list
        if lst.type:
            return "[" + ", ".join(f"tf.{tf.as_dtype(t).name}" for t in lst.type) + "]"
        if lst.shape:
            return repr([None if s.unknown_rank else [None if d.size < 0 else int(d.size) for d in s.dim]
                         for s in lst.shape])
        for field in ("i", "f", "b"):
            if getattr(lst, field):
                return repr(list(getattr(lst, field)))
        if lst.s:
            return repr([s.decode("utf-8", "replace") for s in lst.s])
        return "[]"
    raise GraphScriptProblem(f"node '{node}': attr '{name}' ({which}) has no Python form")


def _inputs(op_def: Any, node: Any) -> list[tuple[str, list[str]]]:
    """(input arg name, the node's inputs it takes) in the op's order."""
    data = [i for i in node.input if not i.startswith("^")]
    out, at = [], 0
    for arg in op_def.input_arg:
        if arg.number_attr:
            n = node.attr[arg.number_attr].i
        elif arg.type_list_attr:
            n = len(node.attr[arg.type_list_attr].list.type)
        else:
            n = 1
        out.append((arg.name, data[at:at + n] if (arg.number_attr or arg.type_list_attr) else data[at:at + 1]))
        at += n
    return out


def _python_names(tf: Any, op_def: Any, attrs: list[Any]) -> tuple[list[str], list[str]]:
    """The keyword names ``tf.raw_ops.<Op>`` takes for the op's inputs and for ``attrs``, in their order (its
    Python API may rename them: Mean's ``reduction_indices`` is ``axis``)."""
    import inspect

    fn = getattr(tf.raw_ops, op_def.name, None)
    if fn is None:
        raise GraphScriptProblem(f"op {op_def.name} has no tf.raw_ops function")
    params = [p for p in inspect.signature(fn).parameters if p != "name"]
    n = len(op_def.input_arg)
    rest = params[n:]
    names = [a.name if a.name in rest else (rest[i] if i < len(rest) else a.name) for i, a in enumerate(attrs)]
    return params[:n], names


def _call(tf: Any, op_def: Any, node: Any) -> str:
    """``tf.raw_ops.Op(arg=..., attr=...)`` for ``node``."""
    inferred = {a for arg in op_def.input_arg for a in (arg.type_attr, arg.number_attr, arg.type_list_attr) if a}
    attrs = [a for a in op_def.attr if a.name not in inferred and not a.name.startswith("_")]
    input_names, attr_names = _python_names(tf, op_def, attrs)
    parts = []
    for arg, name, (_, srcs) in zip(op_def.input_arg, input_names, _inputs(op_def, node)):
        refs = [f"out(t, {s.split(':')[0]!r}, {int(s.split(':')[1]) if ':' in s else 0})" for s in srcs]
        is_list = bool(arg.number_attr or arg.type_list_attr)
        parts.append(f"{name}=[{', '.join(refs)}]" if is_list else f"{name}={refs[0]}")
    for a, name in zip(attrs, attr_names):
        v = node.attr[a.name] if a.name in node.attr else (a.default_value if a.HasField("default_value") else None)
        if v is not None:
            parts.append(f"{name}={_attr_literal(tf, node.name, a.name, v)}")
    return f"tf.raw_ops.{node.op}({', '.join(parts)})"


def _const(tf: Any, node: Any, values: dict[str, np.ndarray]) -> str:
    arr = tf.make_ndarray(node.attr["value"].tensor)
    dtype = f"tf.{tf.as_dtype(node.attr['dtype'].type).name}"
    if arr.dtype.kind == "O" or arr.size <= INLINE_SIZE:
        literal = repr(arr.tolist()) if arr.dtype.kind == "O" else \
            f"np.array({arr.reshape(-1).tolist()!r}, dtype=np.{arr.dtype.name}).reshape({list(arr.shape)!r})"
        return f"tf.constant({literal}, dtype={dtype})"
    key = f"c{len(values)}"
    values[key] = arr
    return f"tf.constant(values[{key!r}], dtype={dtype})"


def _body(gd: Any, x: str, y: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """The lines of ``build(values)`` and the arrays they read."""
    from tensorflow.python.framework import op_def_registry

    tf = load()
    values: dict[str, np.ndarray] = {}
    lines = ["    t = {}"]
    x_op = x.split(":")[0]
    for node in _order(gd):
        key = repr(node.name)
        if node.op == "Const":
            expr = _const(tf, node, values)
        elif node.name == x_op:
            shape = _attr_literal(tf, node.name, "shape", node.attr["shape"])
            expr = f"tf.compat.v1.placeholder(tf.{tf.as_dtype(node.attr['dtype'].type).name}, {shape}, name='x')"
        else:
            op_def = op_def_registry.get(node.op)
            if op_def is None:
                raise GraphScriptProblem(f"node '{node.name}': op {node.op} is not known to TensorFlow here")
            expr = _call(tf, op_def, node)
        lines.append(f"    t[{key}] = {expr}")
    y_op, _, y_index = y.partition(":")
    lines.append(f"    return t[{x_op!r}], out(t, {y_op!r}, {int(y_index or 0)})")
    return lines, values


def graph_script(gd: Any, x: str, y: str, source: str, weights_name: str) -> tuple[str, dict[str, np.ndarray]]:
    """The script that builds ``gd`` and maps tensor ``x`` to ``y``, and the arrays for ``weights_name``."""
    body, values = _body(gd, x, y)
    head = [
        '"""The inference part of ' + source.replace('"', "'") + ", written by enuflow export --python.",
        "",
        "predict(x) runs it on a batch x; as a program: python THIS.py X.npy [-o Y.npy] prints (or saves) y.",
        '"""',
        "import sys",
        "from pathlib import Path",
        "",
        "import numpy as np",
        "import tensorflow as tf",
        "",
        f"WEIGHTS = Path(__file__).with_name({weights_name!r})",
        "",
        "",
        "def out(t, name, index):",
        '    """Output ``index`` of the op made for node ``name`` (raw_ops give a tensor, a tuple or a list)."""',
        "    got = t[name]",
        "    if isinstance(got, tf.Tensor):",
        "        return got",
        "    flat = []",
        "    for g in got:",
        "        flat.extend(g if isinstance(g, (list, tuple)) else [g])",
        "    return flat[index]",
        "",
        "",
        "def build(values):",
        '    """Build the graph in the default graph; returns (x, y)."""',
    ]
    tail = [
        "",
        "",
        "def predict(x):",
        '    """y for the batch x (a numpy array)."""',
        "    values = {}",
        "    if WEIGHTS.exists():",
        "        with np.load(WEIGHTS, allow_pickle=False) as f:",
        "            values = {k: f[k] for k in f.files}",
        "    graph = tf.Graph()",
        "    with graph.as_default():",
        "        xt, yt = build(values)",
        "    with tf.compat.v1.Session(graph=graph) as session:",
        "        return session.run(yt, {xt: x})",
        "",
        "",
        "def main(argv):",
        '    """python THIS.py X.npy [-o Y.npy]: y printed or saved; a mistake is a message, not a traceback."""',
        '    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "-o"):',
        '        print(f"usage: python {Path(argv[0]).name} X.npy [-o Y.npy]", file=sys.stderr)',
        "        return 2",
        "    try:",
        "        x = np.load(argv[1], allow_pickle=False)",
        "        if not isinstance(x, np.ndarray):",
        '            raise ValueError("it is an .npz archive; give one array, saved with np.save")',
        "    except (OSError, ValueError) as e:",
        '        print(f"{argv[1]}: cannot be read as a .npy array: {e}", file=sys.stderr)',
        "        return 2",
        "    try:",
        "        y = predict(x)",
        "    except (ValueError, TypeError, tf.errors.OpError) as e:",
        "        print(f\"{argv[1]}: {getattr(e, 'message', e)}\", file=sys.stderr)",
        "        return 1",
        "    if len(argv) == 4:",
        "        np.save(argv[3], y)",
        "    else:",
        "        print(y)",
        "    return 0",
        "",
        "",
        'if __name__ == "__main__":',
        "    sys.exit(main(sys.argv))",
        "",
    ]
    return "\n".join(head + body + tail), values
