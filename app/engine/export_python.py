"""``enuflow export PAGE --python FILE``: a standalone TensorFlow script that builds and runs the page.

The script uses graph mode (``tf.Graph`` + ``tf.compat.v1.Session``), one statement per block in
dependency order: Consts become ``tf.constant`` of the pin value written as a Python literal, op
blocks become ``tf.raw_ops.<Op>(...)`` calls with the page's attrs, Variables become
``tf.compat.v1.Variable``. It runs the ClientSession's fetches ``steps`` times (or every output once
when the page has none) and prints the results. Values are written with ``repr`` of plain numbers,
bools and bytes, so nothing from the page can become code in the script.
"""

from __future__ import annotations

import keyword
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from enuflow.app.engine.analysis import Analysis, analyse
from enuflow.app.document.formats import PageFileError
from enuflow.app.document.formats.native import write_atomic
from enuflow.app.document.page import Page
from enuflow.blocks.base import Block

_IDENT = re.compile(r"[^0-9A-Za-z_]")


class ExportProblem(Exception):
    """A block the Python export cannot write; the message names it."""


def _literal(arr: np.ndarray) -> str:
    if arr.dtype.kind == "O":
        return repr(np.asarray(arr).tolist())
    return f"np.array({arr.reshape(-1).tolist()!r}, dtype=np.{arr.dtype.name}).reshape({list(arr.shape)!r})"


def _attr_literal(value: Any, attr_type: str) -> str:
    if attr_type == "type":
        return f"tf.{value}"
    if attr_type == "list(type)":
        return "[" + ", ".join(f"tf.{v}" for v in value) + "]"
    if attr_type == "shape":
        return repr(None if value is None else [None if d is None else int(d) for d in value])
    if attr_type == "tensor":
        return f"tf.make_tensor_proto({_literal(np.asarray(value))})"
    if isinstance(value, tuple):
        value = list(value)
    return repr(value)


class _Writer:
    def __init__(self, page: Page, an: Analysis) -> None:
        self.page = page
        self.an = an
        self.names: dict[str, str] = {}
        self.used: set[str] = set()
        self.lines: list[str] = []
        self.feeds: list[str] = []

    def var(self, block_id: str) -> str:
        if block_id not in self.names:
            name = "b_" + _IDENT.sub("_", block_id)
            if keyword.iskeyword(name):
                name += "_"
            base, i = name, 2
            while name in self.used:
                name = f"{base}_{i}"
                i += 1
            self.used.add(name)
            self.names[block_id] = name
        return self.names[block_id]

    def output_expr(self, block_id: str, port: str) -> str:
        decl = self.an.decls[block_id]
        v = self.var(block_id)
        kind = getattr(decl, "_export_kind", None)
        base, _, idx = port.partition("[")
        index = idx[:-1] if idx else None
        if decl.name in ("Const", "Const_ex", "Placeholder", "InputList", "Operation", "Output"):
            return v
        if decl.name == "Variable":
            return f"{v}.op.outputs[0]"
        if decl.name == "AddSymbolicGradients":
            return f"{v}[{index}]"
        del kind
        real = [p for p in decl.outputs if p.kind != "operation"]
        if not real:
            return v
        pos = next(i for i, p in enumerate(real) if p.name == base)
        expr = v if len(real) == 1 else f"{v}[{pos}]"
        if index is not None:
            expr += f"[{index}]"
        return expr

    def inputs_of(self, block_id: str) -> dict[str, str]:
        decl = self.an.decls[block_id]
        out: dict[str, str] = {}
        for pname, links in self.an.inputs.get(block_id, {}).items():
            port = decl.input(pname)
            exprs = [self.output_expr(ln.src, ln.src_port) for ln in links]
            out[pname] = "[" + ", ".join(exprs) + "]" if port is not None and port.is_list else exprs[0]
        return out

    def block(self, block_id: str) -> None:
        decl: Block = self.an.decls[block_id]
        inst = self.page.block(block_id)
        v = self.var(block_id)
        attrs = self.an.attrs.get(block_id, {})
        values = self.an.values.get(block_id, {})
        wired = self.inputs_of(block_id)
        self.lines.append(f"    # block {block_id!r} ({decl.name})")
        dev = inst.device
        indent = "    "
        if dev:
            self.lines.append(f"    with tf.device({dev!r}):")
            indent = "        "
        name = decl.name
        if name in ("Const", "Const_ex"):
            arr = values["val"]
            dtype = attrs.get("dtype") or ("float64" if name == "Const_ex" and arr.dtype.kind == "f"
                                           else ("string" if arr.dtype.kind == "O" else arr.dtype.name))
            self.lines.append(f"{indent}{v} = tf.constant({_literal(arr)}, dtype=tf.{dtype})")
        elif name == "Placeholder":
            shape = attrs.get("shape")
            self.lines.append(f"{indent}{v} = tf.compat.v1.placeholder(tf.{attrs['dtype']}, "
                              f"shape={_attr_literal(shape, 'shape')})")
            self.feeds.append(f"    {v}: {_literal(values['value'])},")
        elif name == "Variable":
            init = wired.get("initvalues")
            if init is None:
                arr = values["initvalues"]
                init = f"tf.constant({_literal(arr)}, dtype=tf.{attrs.get('dtype') or arr.dtype.name})"
            if attrs.get("shape") is not None:
                init = f"tf.broadcast_to({init}, {list(attrs['shape'])!r})"
            dtype = f", dtype=tf.{attrs['dtype']}" if attrs.get("dtype") else ""
            self.lines.append(f"{indent}{v} = tf.compat.v1.Variable({init}{dtype}, use_resource=False)")
        elif name == "InputList":
            self.lines.append(f"{indent}{v} = {wired.get('outputlist', '[]')}")
        elif name == "Operation":
            self.lines.append(f"{indent}{v} = getattr({wired['operation']}, 'op', {wired['operation']})")
        elif name == "Output":
            self.lines.append(f"{indent}{v} = {wired['output_op']}.op.outputs[{int(attrs.get('index', 0))}]")
        elif name == "AddSymbolicGradients":
            xs = wired.get("inputs", "[]")
            self.lines.append(f"{indent}{v} = [g if g is not None else tf.zeros_like(x) for g, x in "
                              f"zip(tf.compat.v1.gradients({wired.get('outputs', '[]')}, {xs}), {xs})]")
        elif name == "enuSpace.Inert":
            self.lines.append(f"{indent}pass  # an enuSpace block of another library: nothing to build")
        elif decl.op_name:
            args = []
            for port in decl.inputs:
                if port.name in wired:
                    args.append(f"{port.name}={wired[port.name]}")
                elif port.name in values:
                    arr = values[port.name]
                    lit = f"tf.constant({_literal(arr)})"
                    args.append(f"{port.name}={'[' + lit + ']' if port.is_list else lit}")
            for a in decl.attrs:
                if a.name in attrs and attrs[a.name] is not None and a.type != "value" and not a.inferred:
                    args.append(f"{a.name}={_attr_literal(attrs[a.name], a.type)}")
            self.lines.append(f"{indent}{v} = tf.raw_ops.{decl.op_name}({', '.join(args)})")
        else:
            raise ExportProblem(f"block '{block_id}': {name} has no Python form yet")


def page_to_python(page: Page, source: str = "") -> str:
    """The script's text; raises ExportProblem naming the first block it cannot write."""
    an = analyse(page, allow_io=True)
    if an.errors:
        raise ExportProblem("; ".join(str(e) for e in an.errors[:5]))
    w = _Writer(page, an)
    session = an.plan.block
    for bid in an.order():
        if bid != session:
            w.block(bid)
    if session is not None:
        fetch_keys = list(an.plan.fetches)
        target_keys = list(an.plan.targets)
        steps = an.plan.steps
    else:
        fetch_keys = []
        for b in page:
            decl = an.decls[b.id]
            if decl.name in ("enuSpace.Inert", "InputList", "AddSymbolicGradients", "Operation"):
                continue
            for port in decl.output_names(an.attrs.get(b.id, {})):
                kind = next((p.kind for p in decl.outputs if p.name == port.partition("[")[0]), "tensor")
                if kind not in ("resource", "variant", "operation"):
                    fetch_keys.append((b.id, port))
        target_keys = [(b.id, "operation") for b in page
                       if any(p.kind == "operation" for p in an.decls[b.id].outputs) and an.decls[b.id].op_name]
        steps = 1
    fetch = [f"    {f'{b}.{p}'!r}: {w.output_expr(b, p)}," for b, p in fetch_keys
             if (b, p) not in target_keys and
             next((q.kind for q in an.decls[b].outputs if q.name == p.partition('[')[0]), "") != "operation"]
    targets = [w.output_expr(b, p) for b, p in target_keys]
    targets += [w.output_expr(b, p) for b, p in fetch_keys
                if next((q.kind for q in an.decls[b].outputs if q.name == p.partition('[')[0]), "") == "operation"]
    head = [
        f'"""Generated by enuflow from {Path(source).name or page.name!r}: page {page.name!r}.',
        "",
        "Builds the page's graph with TensorFlow in graph mode, runs it and prints the results.",
        '"""',
        "",
        "import numpy as np",
        "import tensorflow as tf",
        "",
        "graph = tf.Graph()",
        "with graph.as_default():",
    ]
    body = w.lines or ["    pass"]
    tail = [
        "    fetches = {", *fetch, "    }",
        "    targets = [" + ", ".join(targets) + "]",
        "    init = tf.compat.v1.global_variables_initializer()",
        "",
        "feeds = {", *w.feeds, "}",
        "",
        f"STEPS = {int(steps)}",
        "",
        "",
        "def main():",
        "    with tf.compat.v1.Session(graph=graph) as sess:",
        "        sess.run(init)",
        "        results = {}",
        "        for _ in range(STEPS):",
        "            results, _ = sess.run([fetches, targets], feed_dict=feeds)",
        "    for name, value in results.items():",
        "        print(name, np.asarray(value).dtype, list(np.shape(value)), np.asarray(value).tolist())",
        "    return results",
        "",
        "",
        'if __name__ == "__main__":',
        "    main()",
        "",
    ]
    return "\n".join(head + body + tail)


def export_python(page: Page, path: str) -> int:
    """Write the script to ``path`` (atomically); returns the exit status and prints problems."""
    try:
        text = page_to_python(page, path)
        write_atomic(path, text)
    except ExportProblem as e:
        print(f"enuflow: cannot export as Python: {e}", file=sys.stderr)
        return 1
    except PageFileError as e:
        print(f"enuflow: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0
