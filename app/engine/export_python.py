"""``enuflow export PAGE --python FILE``: a standalone TensorFlow script that builds and runs the page.

The script uses graph mode (``tf.Graph`` + ``tf.compat.v1.Session``), one statement per block in
dependency order: Consts become ``tf.constant`` of the pin value written as a Python literal, op
blocks become ``tf.raw_ops.<Op>(...)`` calls with the page's attrs, Variables become
``tf.compat.v1.Variable``. It runs the ClientSession's fetches ``steps`` times (or every output once
when the page has none) and prints the results. Values are written with ``repr`` of plain numbers,
bools and bytes, so nothing from the page can become code in the script.

The script keeps what the page says about its run and its data:

- its session runs with TensorFlow's graph optimizer on or off as the ClientSession's ``optimize`` pin
  decides (``auto`` decided at export time by enuflow's own rule on the page's built graph,
  ``app.engine.session_options``), so ``CONFIG`` is what ``enuflow run`` would use;
- values kept in the page's data file (an imported model's weights) are not written into the script: they
  go to ``SCRIPT_data.npz`` beside it (the entries the page uses), which the script reads with
  ``allow_pickle=False``;
- files named by absolute Windows paths (enuSpace pages) are read from, and written to, ``DATA_DIR``: the
  page's data folder, a constant at the top of the script.
"""

from __future__ import annotations

import keyword
import ntpath
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from enuflow.app.document import data_folder as df
from enuflow.app.document import datafile
from enuflow.app.engine.analysis import Analysis, analyse
from enuflow.app.document.formats import PageFileError
from enuflow.app.document.formats.native import write_atomic
from enuflow.app.document.page import Page
from enuflow.blocks.base import Block

_IDENT = re.compile(r"[^0-9A-Za-z_]")


class ExportProblem(Exception):
    """A block the Python export cannot write; the message names it."""


def _literal(arr: np.ndarray, paths: dict[Any, str] | None = None) -> str:
    if arr.dtype.kind == "O":
        if paths:
            return _nested(np.asarray(arr).tolist(), paths)
        return repr(np.asarray(arr).tolist())
    return f"np.array({arr.reshape(-1).tolist()!r}, dtype=np.{arr.dtype.name}).reshape({list(arr.shape)!r})"


def _nested(value: Any, paths: dict[Any, str]) -> str:
    """A nested list of strings as Python text; a path inside the data folder becomes ``data_path(NAME)``."""
    if isinstance(value, list):
        return "[" + ", ".join(_nested(v, paths) for v in value) + "]"
    if value in paths:
        name = paths[value]
        return f"data_path({name!r}).encode()" if isinstance(value, bytes) else f"data_path({name!r})"
    return repr(value)


def _attr_literal(value: Any, attr_type: str, paths: dict[Any, str] | None = None) -> str:
    if paths and isinstance(value, (str, list)) and attr_type in ("string", "list(string)"):
        return _nested(value, paths)
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
        #: lines that give loops' Merges their NextIteration input, written after every block (``inputs_of``)
        self.loops: list[str] = []
        #: with a data file beside the script: its entries (key -> array); None writes values inline
        self.data: dict[str, np.ndarray] | None = None
        #: mapped data-folder path (str and bytes) -> the file's name in DATA_DIR
        self.paths: dict[Any, str] = {}

    def value(self, block_id: str, pin: str) -> str:
        """The Python text of a pin's parsed value: the data file's entry, or a literal."""
        raw = self.page.block(block_id).pins.get(pin)
        arr = self.an.values[block_id][pin]
        if self.data is not None and datafile.is_ref(raw):
            key = str(raw[datafile.FIELD])
            self.data[key] = arr
            return f"DATA[{key!r}]"
        return _literal(arr, self.paths)

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
            if decl.name == "Merge":
                exprs = self._loop_inputs(block_id, links, exprs)
            out[pname] = "[" + ", ".join(exprs) + "]" if port is not None and port.is_list else exprs[0]
        return out

    def _loop_inputs(self, block_id: str, links: list[Any], exprs: list[str]) -> list[str]:
        """A loop's Merge's inputs: its NextIteration (written later) stood in for by its other input, and given it
        afterwards (``_update_input``, as TensorFlow's importer does)."""
        back = [i for i, ln in enumerate(links) if self.an.decls[ln.src].name == "NextIteration"]
        stand = next((e for i, e in enumerate(exprs) if i not in back), None)
        if not back or stand is None:
            return exprs
        merged = f"tf.nest.flatten({self.var(block_id)})[0].op"
        self.loops.extend(f"    {merged}._update_input({i}, {exprs[i]})  # the loop's back edge" for i in back)
        return [stand if i in back else e for i, e in enumerate(exprs)]

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
            self.lines.append(f"{indent}{v} = tf.constant({self.value(block_id, 'val')}, dtype=tf.{dtype})")
        elif name == "Placeholder":
            shape = attrs.get("shape")
            self.lines.append(f"{indent}{v} = tf.compat.v1.placeholder(tf.{attrs['dtype']}, "
                              f"shape={_attr_literal(shape, 'shape')})")
            self.feeds.append(f"    {v}: {self.value(block_id, 'value')},")
        elif name == "Variable":
            init = wired.get("initvalues")
            if init is None:
                arr = values["initvalues"]
                dt = attrs.get("dtype") or arr.dtype.name
                init = f"tf.constant({self.value(block_id, 'initvalues')}, dtype=tf.{dt})"
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
        elif name == "Initializer":
            self.lines.append(f"{indent}{v} = [getattr(x, 'op', x) for x in {wired.get('ops', '[]')}]")
        elif name == "enuSpace.Inert":
            self.lines.append(f"{indent}pass  # an enuSpace block of another library: nothing to build")
        elif decl.op_name:
            args = []
            for port in decl.inputs:
                if port.name in wired:
                    args.append(f"{port.name}={wired[port.name]}")
                elif port.name in values:
                    lit = f"tf.constant({self.value(block_id, port.name)})"
                    args.append(f"{port.name}={'[' + lit + ']' if port.is_list else lit}")
            for a in decl.attrs:
                if a.name in attrs and attrs[a.name] is not None and a.type != "value" and not a.inferred:
                    args.append(f"{a.name}={_attr_literal(attrs[a.name], a.type, self.paths)}")
            self.lines.append(f"{indent}{v} = tf.raw_ops.{decl.op_name}({', '.join(args)})")
        else:
            raise ExportProblem(f"block '{block_id}': {name} has no Python form yet")


def optimizes(page: Page, an: Analysis) -> bool:
    """Whether ``enuflow run`` would run ``page`` with TensorFlow's graph optimizer (its ``optimize`` pin;
    ``auto`` decided on the graph enuflow builds for it)."""
    from enuflow.app.engine.session_options import should_optimize

    setting = an.plan.optimize
    if setting in ("on", "off"):
        return setting == "on"
    from enuflow.app.engine.builder import build

    return should_optimize(setting, build(page, an, allow_io=True).graph)


def page_to_python(page: Page, source: str = "") -> str:
    """The script's text, values written inline; raises ExportProblem naming the first block it cannot write."""
    return python_script(page, source)[0]


def python_script(page: Page, source: str = "", data_file: str | None = None) -> tuple[str, dict[str, np.ndarray]]:
    """The script's text and the arrays of its data file ``data_file`` (a name beside the script): with one, the
    values the page keeps in its data file are read from there, not written inline. Raises ExportProblem naming
    the first block it cannot write."""
    an = analyse(page, allow_io=True)
    if an.errors:
        raise ExportProblem("; ".join(str(e) for e in an.errors[:5]))
    page = an.page  # composites flattened: their inner blocks named by path
    w = _Writer(page, an)
    if data_file is not None:
        w.data = {}
    folder = df.data_folder(page)
    if folder is not None:
        w.paths.update(_data_folder_names(page))
    session = an.plan.block
    for bid in an.order():
        if bid != session:
            start = len(w.lines)
            w.block(bid)
            if bid in an.controls:
                _ordered_after(w, start, an.controls[bid])
    w.lines.extend(w.loops)
    fetch_keys, target_keys, steps = _run_outputs(page, an)
    fetch, targets = _fetch_text(w, an, fetch_keys, target_keys)
    head = _script_head(page, source, folder)
    body = w.lines or ["    pass"]  # written first: it fills w.data
    if w.data:
        head += ["# the page's large values (its data file's entries), beside this script",
                 f"DATA = np.load(Path(__file__).with_name({data_file!r}), allow_pickle=False)", "", ""]
    if an.controls:
        head += ["def control_ops(*outputs):", '    """The ops behind these outputs (what a control link runs first)."""',
                 "    return [getattr(t, 'op', t) for x in outputs for t in tf.nest.flatten(x)]", "", ""]
    optimize = optimizes(page, an)
    head += [
        f"# TensorFlow's graph optimizer {'runs' if optimize else 'is off'}, as enuflow runs the page "
        f"(its ClientSession's optimize: {an.plan.optimize})",
        "CONFIG = tf.compat.v1.ConfigProto(allow_soft_placement=True)",
        f"CONFIG.graph_options.rewrite_options.disable_meta_optimizer = {not optimize}",
        "",
        "graph = tf.Graph()",
        "with graph.as_default():",
    ]
    inits = [w.var(b.id) for b in page if an.decls[b.id].name == "Initializer"]  # run once, as Variables' Assigns
    return "\n".join(head + body + _script_tail(fetch, targets, w.feeds, steps, inits)), w.data or {}


def _ordered_after(w: _Writer, start: int, sources: list[str]) -> None:
    """Put the lines of the block written from ``w.lines[start]`` on (its comment first) under a
    ``tf.control_dependencies`` of the blocks its control links come from (``sources``)."""
    head, body = w.lines[start:start + 1], w.lines[start + 1:]
    deps = ", ".join(w.var(src) for src in sources)
    w.lines[start:] = head + [f"    with tf.control_dependencies(control_ops({deps})):"] + ["    " + ln for ln in body]


def _data_folder_names(page: Page) -> dict[Any, str]:
    """The page's data files named by absolute Windows paths, each path (as str and bytes) -> the file's name in
    the script's ``DATA_DIR``."""
    names: dict[Any, str] = {}
    for f in df.data_files(page):
        if not df.is_windows_path(f.path):
            name = ntpath.basename(f.path) or Path(f.path).name
            names[f.path] = name
            names[f.path.encode()] = name
    return names


def _port_kind(an: Analysis, block_id: str, port: str, default: str) -> str:
    """The kind (tensor, operation, resource, ...) of output ``port`` (``name`` or ``name[i]``) of a block;
    ``default`` when its declaration has no such output."""
    base = port.partition("[")[0]
    return next((p.kind for p in an.decls[block_id].outputs if p.name == base), default)


def _run_outputs(page: Page, an: Analysis) -> tuple[list[tuple[str, str]], list[tuple[str, str]], int]:
    """What the script runs: (fetched outputs, target ops, steps): the ClientSession's, or, for a page without
    one, every output that can be fetched (no resource, variant or op), every op of an op block run once."""
    if an.plan.block is not None:
        return list(an.plan.fetches), list(an.plan.targets), an.plan.steps
    fetch_keys = []
    for b in page:
        decl = an.decls[b.id]
        if decl.name in ("enuSpace.Inert", "InputList", "AddSymbolicGradients", "Operation"):
            continue
        for port in decl.output_names(an.attrs.get(b.id, {})):
            if _port_kind(an, b.id, port, "tensor") not in ("resource", "variant", "operation"):
                fetch_keys.append((b.id, port))
    target_keys = [(b.id, "operation") for b in page
                   if any(p.kind == "operation" for p in an.decls[b.id].outputs) and an.decls[b.id].op_name]
    return fetch_keys, target_keys, 1


def _fetch_text(w: _Writer, an: Analysis, fetch_keys: list[tuple[str, str]],
                target_keys: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """The script's ``fetches`` dict entries (``'block.port': expression,`` lines) and its ``targets``
    expressions: a fetched op output runs as a target."""
    fetch = [f"    {f'{b}.{p}'!r}: {w.output_expr(b, p)}," for b, p in fetch_keys
             if (b, p) not in target_keys and _port_kind(an, b, p, "") != "operation"]
    targets = [w.output_expr(b, p) for b, p in target_keys]
    targets += [w.output_expr(b, p) for b, p in fetch_keys if _port_kind(an, b, p, "") == "operation"]
    return fetch, targets


def _script_head(page: Page, source: str, folder: Any) -> list[str]:
    """The script's first lines: its docstring, imports, ``DATA_DIR`` (the page's data folder) and ``data_path``."""
    return [
        f'"""Generated by enuflow from {Path(source).name or page.name!r}: page {page.name!r}.',
        "",
        "Builds the page's graph with TensorFlow in graph mode, runs it and prints the results.",
        '"""',
        "",
        "import os",
        "from pathlib import Path",
        "",
        "import numpy as np",
        "import tensorflow as tf",
        "",
        "# the page's data folder: files its blocks name by absolute Windows paths are read and written here",
        f"DATA_DIR = {str(folder) if folder is not None else ''!r}",
        "",
        "",
        "def data_path(name):",
        "    return os.path.join(DATA_DIR, name)",
        "",
        "",
    ]


def _script_tail(fetch: list[str], targets: list[str], feeds: list[str], steps: int,
                 inits: list[str]) -> list[str]:
    """The script's last lines: what it fetches and runs, its feeds and steps, and ``main`` that runs the graph
    ``steps`` times and prints the fetched values; ``inits``: the Initializer blocks' variables (lists of ops run
    once with the Variables' initialiser)."""
    return [
        "    fetches = {", *fetch, "    }",
        "    targets = [" + ", ".join(targets) + "]",
        "    init = tf.group(tf.compat.v1.global_variables_initializer()" + "".join(f", *{v}" for v in inits) + ")",
        "",
        "feeds = {", *feeds, "}",
        "",
        f"STEPS = {int(steps)}",
        "",
        "",
        "def main():",
        "    with tf.compat.v1.Session(graph=graph, config=CONFIG) as sess:",
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


def export_python(page: Page, path: str) -> int:
    """Write the script to ``path`` (atomically), with ``STEM_data.npz`` beside it when the page keeps values in
    its data file; returns the exit status and prints problems."""
    data_name = Path(path).stem + "_data.npz"
    target = Path(path).with_name(data_name)
    try:
        text, arrays = python_script(page, path, data_name)
        if arrays:
            if page.data_path and target.resolve() == Path(page.data_path).resolve():
                raise ExportProblem(f"{target} is the page's own data file; write the script under another name")
            try:
                datafile.write_npz(target, arrays)
            except OSError as e:
                raise PageFileError(str(target), f"cannot be written: {e.strerror or e}") from None
        write_atomic(path, text)
    except ExportProblem as e:
        print(f"enuflow: cannot export as Python: {e}", file=sys.stderr)
        return 1
    except PageFileError as e:
        print(f"enuflow: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}" + (f" and its data file {target}" if arrays else ""))
    return 0
