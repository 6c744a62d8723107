"""Sweep of the whole catalogue: every op of ``tf.raw_ops`` built and run twice, page path and direct path.

For each op, automatic inputs are made from its OpDef (Consts of a few shapes and dtypes: a 2x2 matrix,
a scalar, a vector, a 1x2x2x1 image; integer inputs named like axes or counts as small scalars; attr
defaults, or simple values for required attrs). The same candidates, in the same order, go through:

- the *page* path: a page of Const blocks wired into one block of the op's type, analysed, built and run
  by ``app.engine.analysis`` / ``app.engine.builder`` / ``app.engine.runner`` (IO allowed);
- the *direct* path: ``tf.raw_ops.<Op>(...)`` on ``tf.constant`` inputs in a graph, run in a session.

Each path stops at its first candidate that runs. Work runs in isolated worker processes (one task = one
op on one path) in a scratch folder, so an op that aborts, segfaults or hangs only costs its worker, which
is replaced; a task past ``--timeout`` seconds counts as crashed (hung). Outcomes: ran, build error, run
error, skipped (inputs that cannot be made automatically: refs, resources, variants, functions), crashed.

The baseline is the direct path, ``tf.raw_ops`` on the same inputs: what TensorFlow itself runs when
called by hand, so it bounds what a page can run (the ratio counts ops, not seconds: the pairs of
``bench/common.py`` time nothing here, and only its last line, ``finish``, is shared).

Prints counts per outcome for both paths, the ops whose outcomes differ, ops whose values differ where
both ran (stateless ops only), saves the table to ``bench/results/catalogue_sweep.json`` (and ``.tsv``),
and ends with ``ratio <page ran / direct ran>`` (target 1.0).

    .venv/bin/python bench/catalogue_sweep.py                 # the whole catalogue (a few minutes)
    .venv/bin/python bench/catalogue_sweep.py --limit 40      # the first 40 ops
    .venv/bin/python bench/catalogue_sweep.py --ops AddN,Split,Abort
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import queue
import select
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import finish  # noqa: E402

RESULTS = ROOT / "bench" / "results"
OUTCOMES = ("ran", "build error", "run error", "skipped", "crashed")

# dtypes tried for a type attr, in order; only those numpy and page pins can express
PREFERRED = ("float32", "int32", "int64", "float64", "bool", "string", "complex64", "uint8", "int8", "int16",
             "uint16", "uint32", "uint64", "float16", "complex128")
# integer inputs with these names are mostly axes, counts or sizes: small scalars
SCALAR_INT_NAMES = ("axis", "dim", "split_dim", "reduction_indices", "num", "k", "n", "size", "depth", "seed",
                    "seed2", "multiples", "num_segments", "num_lower", "num_upper", "max_size", "limit", "delta",
                    "start", "index", "num_bits", "bins", "nbins", "diagonal_index", "num_rows", "num_cols",
                    "batch_dim", "seq_dim", "element_shape", "maxlen", "num_elements", "num_spectrograms",
                    "row_splits", "count", "n_samples", "num_samples", "max_output_size", "pos", "len")

# integer inputs with these names are shapes, permutations or paddings: vectors (``int_shape``)
VECTOR_INT_NAMES = ("shape", "perm", "dims", "size_splits", "paddings", "multiples", "begin", "end", "strides",
                    "size", "ksize", "output_shape", "dense_shape", "input_sizes", "filter_sizes", "block_shape",
                    "crops", "new_shape", "input_shape", "s0", "s1", "segment_ids", "indices", "orig_input_shape")

#: the input sets tried, in order: data inputs of ``shape``; integer inputs named like shapes and
#: indices as vectors of ``int_shape`` filled with ``int_fill`` (when given)
CANDIDATES = (
    {"name": "matrix", "shape": [2, 2]},
    {"name": "scalar", "shape": []},
    {"name": "vector", "shape": [4]},
    {"name": "image", "shape": [1, 2, 2, 1]},
    {"name": "matrix+shapes", "shape": [2, 2], "int_shape": [2], "int_fill": 2},
    {"name": "matrix+ones", "shape": [2, 2], "int_shape": [2], "int_fill": 1},
    {"name": "matrix+range", "shape": [2, 2], "int_shape": [2], "int_fill": "range"},
    {"name": "vector+indices", "shape": [4], "int_shape": [4], "int_fill": 0},
)
#: crashes of one op on one path before the remaining candidates are given up
MAX_CRASHES = 3
_RANK = {"ran": 3, "run error": 2, "build error": 1, "skipped": 0}


class Skip(Exception):
    """Inputs or attrs for this op cannot be made automatically."""


# -- the worker: inputs, both paths -------------------------------------------------------------------

def _values(dtype: str, shape: list[int], name: str) -> Any:
    """A deterministic nested list of ``shape`` for ``dtype`` (small values that suit indices and axes)."""
    import numpy as np

    size = int(np.prod(shape)) if shape else 1
    if dtype == "string":
        flat: list[Any] = ["a", "b", "c", "d"] * (size // 4 + 1)
    elif dtype == "bool":
        flat = [True, False] * (size // 2 + 1)
    elif dtype.startswith(("int", "uint")):
        flat = [1, 0] * (size // 2 + 1)
    elif dtype.startswith("complex"):
        flat = [0.5, 1.5, 0.25, 1.0] * (size // 4 + 1)
    else:
        flat = [0.5, 1.5, 0.25, 1.0] * (size // 4 + 1)
    flat = flat[:size]
    arr = np.array(flat, dtype=object).reshape(shape) if shape else flat[0]
    return arr.tolist() if shape else arr


def _pick_type(allowed: tuple[str, ...] | None) -> str:
    for dt in PREFERRED:
        if allowed is None or dt in allowed:
            return dt
    raise Skip(f"no automatic dtype among {', '.join(allowed or ())}")


def make_case(block: Any, cand: dict[str, Any], ref_ok: bool = True) -> dict[str, Any]:
    """Inputs (per port: one or several (dtype, shape, value)) and attrs for ``block`` under ``cand``.

    A ref input gets a variable initialised with the value (``ref_ok``: the page has a Variable block).
    """
    attrs_decl = {a.name: a for a in block.attrs}
    types: dict[str, Any] = {}
    counts: dict[str, int] = {}
    inputs: dict[str, list[tuple[str, list[int], Any]]] = {}
    for p in block.inputs:
        if p.kind in ("resource", "variant") or (p.kind == "ref" and not ref_ok):
            raise Skip(f"input '{p.name}' needs a {p.kind}")
        if p.list_of == "type_list":
            a = attrs_decl[p.type_list_attr]
            n = max(a.minimum or 0, 1)
            dts = types.setdefault(p.type_list_attr, [_pick_type(a.allowed)] * n)
        else:
            if p.dtype in attrs_decl:
                a = attrs_decl[p.dtype]
                dt = types.setdefault(p.dtype, _pick_type(a.allowed or p.allowed))
            else:
                dt = p.dtype or "float32"
                if dt not in PREFERRED:
                    raise Skip(f"input '{p.name}' needs {dt}")
            if p.list_of == "number":
                a = attrs_decl[p.number_attr]
                n = counts.setdefault(p.number_attr, max(a.minimum or 0, 2))
            else:
                n = 1
            dts = [dt] * n
        shape = list(cand["shape"])
        fill = None
        is_int = bool(dts) and dts[0] in ("int32", "int64")
        if is_int and "int_shape" in cand and p.name.lower() in VECTOR_INT_NAMES:
            shape, fill = list(cand["int_shape"]), cand["int_fill"]
        elif is_int and p.name.lower() in SCALAR_INT_NAMES:
            shape = []
        if fill is None:
            vals = [(dt, shape, _values(dt, shape, p.name)) for dt in dts]
        else:
            v = list(range(shape[0])) if fill == "range" else [fill] * shape[0]
            vals = [(dt, shape, v) for dt in dts]
        inputs[p.name] = vals
    attrs: dict[str, Any] = {}
    for a in block.attrs:
        if a.inferred or a.has_default:
            continue
        attrs[a.name] = _attr_value(a, cand)
    return {"inputs": inputs, "attrs": attrs}


def _attr_value(a: Any, cand: dict[str, Any]) -> Any:
    t = a.type
    if t == "int":
        return max(a.minimum or 0, 2) if a.name in ("num_split", "num", "N") else max(a.minimum or 0, 1)
    if t == "float":
        return 0.5
    if t == "bool":
        return False
    if t == "string":
        return a.allowed[0] if a.allowed else "a"
    if t == "type":
        return _pick_type(a.allowed)
    if t == "shape":
        return list(cand["shape"])
    if t == "list(int)":
        return [1] * max(a.minimum or 0, len(cand["shape"]) or 1)
    if t == "list(float)":
        return [0.5] * max(a.minimum or 0, 1)
    if t == "list(type)":
        return [_pick_type(a.allowed)] * max(a.minimum or 0, 1)
    if t == "list(shape)":
        return [list(cand["shape"])] * max(a.minimum or 0, 1)
    if t == "list(string)":
        return ["a"] * max(a.minimum or 0, 1)
    raise Skip(f"attr '{a.name}' of type {t} has no automatic value")


def page_path(block: Any, case: dict[str, Any], runner_cls: Any) -> tuple[str, str, dict[str, Any]]:
    """Run ``case`` through a page; returns (outcome, detail, {output: array})."""
    from enuflow.app.document.page import BlockInstance, Link, Page

    page = Page("sweep")
    links = []
    refs = {p.name for p in block.inputs if p.kind == "ref"}
    for pname, vals in case["inputs"].items():
        for i, (dt, shape, v) in enumerate(vals):
            cid = f"in_{pname}_{i}"
            if pname in refs:  # a variable holding the value, assigned before the first step
                page.add_block(BlockInstance(cid, "Variable", (0.0, 0.0), {"initvalues": v, "dtype": dt,
                                                                            "shape": shape if shape else "[]"}))
                links.append(Link(cid, "ref", "op", pname))
                continue
            page.add_block(BlockInstance(cid, "Const", (0.0, 0.0), {"val": v, "dtype": dt,
                                                                     "shape": shape if shape else "[]"}))
            links.append(Link(cid, "output", "op", pname))
    page.add_block(BlockInstance("op", block.name, (200.0, 0.0), dict(case["attrs"])))
    for ln in links:
        page.add_link(ln)
    runner = runner_cls()
    try:
        prepared, _, _ = runner.prepare(page, allow_io=True)
        if prepared.built.errors:
            return "build error", "; ".join(str(e) for e in prepared.built.errors), {}
        report = runner.run(page, allow_io=True)
        if report.errors:
            return "run error", "; ".join(str(e) for e in report.errors), {}
        outs = {p: v for (b, p), v in report.results.values.items() if b == "op"}
        return "ran", "", outs
    finally:
        runner.close()


def direct_path(block: Any, case: dict[str, Any], tf: Any, fn: Any) -> tuple[str, str, dict[str, Any]]:
    """Run ``case`` by calling ``tf.raw_ops`` in a graph; returns (outcome, detail, {output: array})."""
    g = tf.Graph()
    with g.as_default():
        try:
            kwargs: dict[str, Any] = {}
            inits: list[Any] = []
            for p in block.inputs:
                ts = [tf.constant(v, dtype=tf.as_dtype(dt)) for dt, _, v in case["inputs"][p.name]]
                if p.kind == "ref":  # a variable holding the value, assigned before running the op
                    refs = []
                    for t in ts:
                        var = tf.raw_ops.VariableV2(shape=t.shape, dtype=t.dtype)
                        inits.append(tf.raw_ops.Assign(ref=var, value=t))
                        refs.append(var)
                    ts = refs
                kwargs[p.name] = ts if p.is_list else ts[0]
            for k, v in case["attrs"].items():
                a = block.attr(k)
                if a.type == "type":
                    v = tf.as_dtype(v)
                elif a.type == "list(type)":
                    v = [tf.as_dtype(x) for x in v]
                kwargs[k] = v
            res = fn(**kwargs)
        except Exception as e:  # noqa: BLE001 - any failure to build is the outcome we record
            return "build error", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", {}
        fetch_names: list[str] = []
        fetches: list[Any] = []
        ops: list[Any] = []
        items = res if isinstance(res, (list, tuple)) else [res]
        names = _output_names(block, items)
        flat = [x for it in items for x in (it if isinstance(it, (list, tuple)) else [it])]
        for name, t in zip(names, flat):
            if isinstance(t, tf.Operation):
                ops.append(t)
            elif t.dtype.base_dtype.name not in ("resource", "variant"):
                fetch_names.append(name)
                fetches.append(t)
            else:
                ops.append(t.op)
        config = tf.compat.v1.ConfigProto(allow_soft_placement=True)
        with tf.compat.v1.Session(graph=g, config=config) as sess:
            try:
                if inits:
                    sess.run(inits)
                out = sess.run(fetches + ops)
            except Exception as e:  # noqa: BLE001
                return "run error", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", {}
        return "ran", "", dict(zip(fetch_names, out[: len(fetches)]))


def _output_names(block: Any, items: list[Any]) -> list[str]:
    """Port names for the flat outputs raw_ops returned (list outputs flattened as ``name[i]``)."""
    names: list[str] = []
    flat: list[Any] = []
    for it in items:
        if isinstance(it, (list, tuple)):
            flat.extend(it)
        else:
            flat.append(it)
    ports = [p for p in block.outputs if p.kind != "operation"]
    if len(ports) == 1 and ports[0].is_list:
        return [f"{ports[0].name}[{i}]" for i in range(len(flat))]
    for p, it in zip(ports, items):
        if isinstance(it, (list, tuple)):
            names.extend(f"{p.name}[{i}]" for i in range(len(it)))
        else:
            names.append(p.name)
    return names or ["operation"] * len(items)


def worker() -> int:
    """Read tasks (JSON lines) on stdin, answer one JSON line each on stdout; runs in a scratch folder."""
    os.chdir(tempfile.mkdtemp(prefix="enuflow-sweep-"))
    real_stdout = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # ops that print must not corrupt the answers
    import numpy as np

    from enuflow.app.engine.runner import Runner
    from enuflow.blocks import REGISTRY
    from enuflow.blocks.tf import load

    tf = load()
    REGISTRY.generated()
    real_stdout.write("READY\n")
    for line in sys.stdin:
        task = json.loads(line)
        op, path, start = task["op"], task["path"], task.get("start", 0)
        result: dict[str, Any] = {"op": op, "path": path}
        try:
            block = REGISTRY.get(op)  # what a page of this type gets: a hand-declared block wins
            generated = REGISTRY.generated()[op]
            fn = getattr(tf.raw_ops, op)
            outcome, detail, outs, used = "skipped", "", {}, None
            if block is not generated and [p.name for p in block.inputs] != [p.name for p in generated.inputs]:
                result.update(outcome="skipped", detail=f"hand-declared {op} has its own ports", candidate=None)
                real_stdout.write(json.dumps(result) + "\n")
                continue
            for k, cand in enumerate(CANDIDATES):
                if k < start:
                    continue
                real_stdout.write(json.dumps({"try": k}) + "\n")
                try:
                    case = make_case(block, cand, ref_ok="Variable" in REGISTRY.hand)
                except Skip as e:
                    if used is None:
                        outcome, detail = "skipped", str(e)
                    break
                if path == "page":
                    got = page_path(block, case, Runner)
                else:
                    got = direct_path(generated, case, tf, fn)
                # keep the furthest any candidate got (ran > run error > build error)
                if used is None or _RANK[got[0]] > _RANK[outcome]:
                    (outcome, detail, outs), used = got, cand["name"]
                if outcome == "ran":
                    break
            result.update(outcome=outcome, detail=detail[:300], candidate=used)
            if outcome == "ran" and not getattr(block, "stateful", True):
                result["digest"] = {k: _digest(np, v) for k, v in sorted(outs.items())}
        except Exception as e:  # noqa: BLE001 - a harness failure is reported, never fatal
            result.update(outcome="build error", detail=f"harness: {type(e).__name__}: {e}"[:300],
                          trace=traceback.format_exc()[-600:])
        real_stdout.write(json.dumps(result) + "\n")
    return 0


def _digest(np: Any, v: Any) -> str:
    a = np.asarray(v)
    if a.dtype.kind == "O":
        return repr(a.tolist())[:200]
    if a.dtype.kind in "fc":
        a = np.round(a.astype(np.complex128 if a.dtype.kind == "c" else np.float64), 5)
    return f"{a.dtype}{list(a.shape)}:{a.tobytes().hex()[:400]}"


# -- the parent: workers that survive crashes ---------------------------------------------------------

class Worker:
    """One worker process; replaced when it dies or hangs."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.done = 0
        self._buf = b""

    def start(self) -> None:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1, env=env, cwd=str(ROOT))
        self._buf = b""
        line = self._readline(120.0)
        if not line or line.strip() != "READY":
            raise RuntimeError("a sweep worker did not start")
        self.done = 0

    def _readline(self, timeout: float) -> str | None:
        """The next line; None on timeout, "" when the worker died (end of its output).

        Reads the pipe with ``os.read`` into our own buffer: a buffered file object could hold a whole
        line already read while ``select`` waits on the empty pipe.
        """
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return ""
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode("utf-8", "replace") + "\n"

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None

    def run(self, op: str, path: str) -> dict[str, Any]:
        """Run one op on one path; a crash or hang on one candidate resumes at the next candidate.

        The result's outcome is the best reached: ran, else crashed (when any candidate crashed or
        hung), else run error, build error, skipped. ``crashes`` lists what each crash was.
        """
        crashes: list[str] = []
        start = 0
        while True:
            res, tried = self._attempt(op, path, start)
            if "crash" not in res:
                break
            crashes.append(f"{CANDIDATES[tried]['name']}: {res['crash']}" if tried is not None else res["crash"])
            # a fast death (a failed CHECK) depends on the inputs: try the next candidate; a hang (waiting
            # for data that never comes) does not, and each try would cost the whole timeout
            if (tried is None or tried + 1 >= len(CANDIDATES) or res["crash"].startswith("hung")
                    or len(crashes) >= MAX_CRASHES):
                res = {"op": op, "path": path, "outcome": "skipped", "detail": "", "candidate": None}
                break
            start = tried + 1
        if crashes:
            res["crashes"] = crashes
            if res["outcome"] != "ran":
                res.update(outcome="crashed", detail="; ".join(crashes))
        return res

    def _attempt(self, op: str, path: str, start: int) -> tuple[dict[str, Any], int | None]:
        if self.proc is None or self.proc.poll() is not None or self.done >= 300:
            self.stop()
            self.start()
        assert self.proc is not None and self.proc.stdin is not None
        self.done += 1
        try:
            self.proc.stdin.write(json.dumps({"op": op, "path": path, "start": start}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.stop()
            return {"crash": "worker died before the task"}, None
        tried: int | None = None
        while True:
            t0 = time.monotonic()
            line = self._readline(self.timeout)
            if not line:
                if line == "":
                    self.proc.wait()
                code = self.proc.returncode
                self.stop()
                why = (f"hung: no answer within {self.timeout:g} s" if line is None
                       else f"process died (exit status {code}) after {time.monotonic() - t0:.1f} s")
                return {"crash": why}, tried
            msg = json.loads(line)
            if "try" in msg:
                tried = msg["try"]
                continue
            return msg, tried


def sweep(ops: list[str], n_workers: int, timeout: float, progress: bool = True) -> dict[str, dict[str, Any]]:
    """Run every (op, path) task; returns {op: {"page": result, "direct": result}}."""
    tasks: queue.Queue = queue.Queue()
    for op in ops:
        for path in ("direct", "page"):
            tasks.put((op, path))
    table: dict[str, dict[str, Any]] = collections.defaultdict(dict)
    lock = threading.Lock()
    total = tasks.qsize()
    done = [0]

    def loop() -> None:
        w = Worker(timeout)
        try:
            while True:
                try:
                    op, path = tasks.get_nowait()
                except queue.Empty:
                    return
                res = w.run(op, path)
                with lock:
                    table[op][path] = res
                    done[0] += 1
                    if progress and done[0] % 200 == 0:
                        print(f"  {done[0]}/{total} tasks", file=sys.stderr, flush=True)
        finally:
            w.stop()

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(max(1, n_workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return dict(table)


def _op_list(ns: argparse.Namespace) -> list[str]:
    from enuflow.blocks import catalogue

    if ns.ops:
        return [o.strip() for o in ns.ops.split(",") if o.strip()]
    cached = catalogue.read_cache()
    names = sorted(cached) if cached is not None else catalogue.raw_op_names()
    return names[: ns.limit] if ns.limit else names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ops", help="comma-separated op names (default: every op of tf.raw_ops)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N ops (by name)")
    ap.add_argument("--workers", type=int, default=3, help="worker processes (default 3)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds one op on one path may take")
    ap.add_argument("--out", default=str(RESULTS / "catalogue_sweep"),
                    help="table path without extension (.json and .tsv are written)")
    ns = ap.parse_args(argv)
    if ns.worker:
        return worker()
    ops = _op_list(ns)
    t0 = time.perf_counter()
    print(f"sweeping {len(ops)} ops on 2 paths with {ns.workers} workers (timeout {ns.timeout:g} s per task)",
          flush=True)
    table = sweep(ops, ns.workers, ns.timeout)
    elapsed = time.perf_counter() - t0

    counts = {path: collections.Counter(table[op][path]["outcome"] for op in ops) for path in ("page", "direct")}
    print(f"\n{'outcome':<14}{'page':>8}{'direct':>8}")
    for o in OUTCOMES:
        print(f"{o:<14}{counts['page'][o]:>8}{counts['direct'][o]:>8}")
    # a difference that matters: one path ran (or crashed) and the other did not
    differ = [op for op in ops if table[op]["page"]["outcome"] != table[op]["direct"]["outcome"]
              and not {table[op]["page"]["outcome"], table[op]["direct"]["outcome"]} <= {"build error", "run error"}]
    # both failed, but at different stages: the page feeds its values, so shape checks that need a
    # constant's value happen at run time there and at build time in the direct path
    stage = [op for op in ops if table[op]["page"]["outcome"] != table[op]["direct"]["outcome"] and op not in differ]
    print(f"\nops that failed on both paths at different stages (build / run): {len(stage)}")
    print(f"\nops whose outcomes differ ({len(differ)}):")
    for op in differ:
        p, d = table[op]["page"], table[op]["direct"]
        print(f"  {op}: page {p['outcome']} ({p.get('detail', '')[:140]}) | direct {d['outcome']} "
              f"({d.get('detail', '')[:140]})")
    values_differ = [op for op in ops if "digest" in table[op]["page"] and "digest" in table[op]["direct"]
                     and table[op]["page"]["digest"] != table[op]["direct"]["digest"]]
    print(f"\nops that ran on both paths with different values ({len(values_differ)}): "
          + ", ".join(values_differ))
    crashed = sorted({op for op in ops if "crashed" in (table[op]["page"]["outcome"],
                                                        table[op]["direct"]["outcome"])})
    print(f"\nops that crashed or hung a worker ({len(crashed)}): " + ", ".join(crashed))

    out = Path(ns.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"ops": len(ops), "seconds": round(elapsed, 1), "workers": ns.workers, "timeout": ns.timeout,
           "counts": {k: dict(v) for k, v in counts.items()}, "differ": differ, "differ_stage": stage, "values_differ": values_differ,
           "crashed": crashed, "table": {op: table[op] for op in ops}}
    _write(out.with_suffix(".json"), json.dumps(doc, indent=1, sort_keys=True) + "\n")
    rows = ["op\tpage\tdirect\tpage_candidate\tdirect_candidate\tpage_detail\tdirect_detail"]
    for op in ops:
        p, d = table[op]["page"], table[op]["direct"]
        rows.append("\t".join([op, p["outcome"], d["outcome"], str(p.get("candidate")), str(d.get("candidate")),
                               p.get("detail", "").replace("\t", " ").replace("\n", " ")[:200],
                               d.get("detail", "").replace("\t", " ").replace("\n", " ")[:200]]))
    _write(out.with_suffix(".tsv"), "\n".join(rows) + "\n")
    print(f"\ntable saved to {out.with_suffix('.json')} and .tsv ({elapsed:.0f} s)")
    page_ran, direct_ran = counts["page"]["ran"], counts["direct"]["ran"]
    print(f"page ran {page_ran}, direct ran {direct_ran}")
    if not direct_ran:
        print("catalogue_sweep: no op ran on the direct path, so there is nothing to compare with", file=sys.stderr)
        return 1
    finish(page_ran / direct_ran)
    return 0


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
