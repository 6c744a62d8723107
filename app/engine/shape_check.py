"""Static dtypes and shapes of every block output, and the page's problems, found without running it.

``ShapeChecker.check(page)`` builds the page's graph with the builder (``app.engine.builder``; composites flattened,
their inner blocks keyed by path) and reads each output's dtype and static shape as TensorFlow's C++ shape
functions inferred them while the ops were made; nothing runs. A dimension TensorFlow cannot infer is ``None``
(``?``); a shape whose rank is unknown is ``None`` as a whole. The report's errors are the page check's and the
build's (a type clash names the block, the port and both dtypes; a shape clash names both shapes and the ports
they come in on); its warnings are ``app.engine.hazards``' (a variable read and assigned in the same step without
an order, outputs nothing uses, Placeholders without a value). A Placeholder without a value is checked with its
declared dtype and shape.

The checker is incremental: it keeps its ``tf.Graph`` between checks of a page, and makes a block again only when
what decides its ops changed: its type, its settings, the dtype and shape of its fed values (their numbers do not
shape the graph), what is wired into it, the blocks its control links come from. What is wired in counts by its
static type for floating-point, complex, bool and string tensors (shape functions read only whole-number inputs'
numbers), so an edit that keeps a block's output types stops there; a whole-number tensor (or a handle) counts
by identity, so an edit reaches every block downstream of it through such tensors. Every other block keeps its
ops (wired, maybe, to the old ops of a block made again: their types are the same), its static types and its
errors from the last check. A block made again gets new ops beside its old ones
(a graph only grows): once the graph holds ``REGROW`` times the ops of a fresh build, the next check starts afresh.

Unlike a run's graph, a check's graph holds small whole-number values as Consts (``_CheckScope``): TensorFlow's
shape functions read them (``Reshape`` to ``[-1, 784]`` gives ``[?,784]``), and such a value's numbers are then part
of its block's key.

This module needs TensorFlow: it runs in the worker process (``app.worker.child`` answers "check" requests), never
in the editor's.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from enuflow.app.document.page import Page
from enuflow.app.document.static_types import shape_text
from enuflow.app.engine import hazards
from enuflow.app.engine.analysis import Analysis, AnalysisCache, analyse, bakeable
from enuflow.app.engine.builder import BuiltGraph, PageScope, _failure, _PageBuild
from enuflow.app.engine.problems import BuildError
from enuflow.app.gcpause import paused_gc
from enuflow.blocks.opblock import tensor_dtype
from enuflow.blocks.tf import load

_NODE_NAMED = re.compile(r" for node '[^']*'")
#: the dtypes of the inputs that a block's ops depend on by their static types alone (``ShapeChecker._wired``)
_BY_TYPE = frozenset({"float16", "bfloat16", "float32", "float64", "complex64", "complex128", "bool", "string"})
#: a fresh graph is started when the kept one holds this many times the ops of the last fresh build
REGROW = 3


@dataclass(frozen=True)
class StaticType:
    """The dtype name and static shape of an output (``None`` dims unknown; ``shape`` None: rank unknown)."""

    dtype: str
    shape: tuple[int | None, ...] | None
    #: a reference to a variable (``Variable.ref``)
    ref: bool = False

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"dtype": self.dtype, "shape": None if self.shape is None else list(self.shape)}
        if self.ref:
            d["ref"] = True
        return d


def static_type(t: Any) -> StaticType | None:
    """The static type of tensor ``t``; None for what is not one tensor (an op, a list of tensors)."""
    dtype = getattr(t, "dtype", None)
    if dtype is None or isinstance(t, list):
        return None
    shape = t.shape
    dims = None if shape.rank is None else tuple(shape.as_list())
    return StaticType(tensor_dtype(t), dims, bool(dtype._is_ref_dtype))


@dataclass
class CheckReport:
    """What a check found: every output's static type, keyed (block, port), and the problems."""

    types: dict[tuple[str, str], StaticType] = field(default_factory=dict)
    errors: list[BuildError] = field(default_factory=list)
    warnings: list[BuildError] = field(default_factory=list)
    #: how many blocks this check made (the others kept what the last check made)
    made: int = 0

    def outputs_json(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{block: {port: {"dtype", "shape"}}}`` (``enuflow check --json``'s "outputs")."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for (b, p), st in self.types.items():
            out.setdefault(b, {})[p] = st.to_json()
        return out


@dataclass
class _Made:
    """One block as the last check made it: the key it was made for, its outputs' static types, its errors."""

    key: tuple
    types: dict[str, StaticType]
    errors: list[BuildError]
    failed: bool
    #: its entries in the kept graph's tensors and operations
    ports: list[tuple[str, str]]


class ShapeChecker:
    """Checks pages, keeping the graph (and what each block made) for the next check of the same page."""

    def __init__(self) -> None:
        self.cache = AnalysisCache()
        self.allow_io = False
        self._fresh()

    def _fresh(self) -> None:
        tf = load()
        self.graph = tf.Graph()
        self.built = BuiltGraph(graph=self.graph, analysis=None)  # type: ignore[arg-type]
        self.scope: PageScope | None = None
        self.made: dict[str, _Made] = {}
        self.fresh_ops = 0

    @paused_gc
    def check(self, page: Page, allow_io: bool = False) -> CheckReport:
        """Check ``page``: every output's static type, errors and warnings; never raises for the page's problems."""
        an = analyse(page, allow_io=allow_io, cache=self.cache)
        self.allow_io = allow_io
        unfed = {e.block for e in hazards.unfed_placeholders(an)}
        warnings = list(an.warnings) + hazards.placeholder_warnings(e for e in an.errors if e.block in unfed)
        errors = [e for e in an.errors if not (e.block in unfed and e.port == "value")]
        bad = {e.block for e in errors if e.block is not None} | (an.bad - unfed)
        if len(self.graph._nodes_by_id) > REGROW * self.fresh_ops + 1000:
            self._fresh()
        report = CheckReport()
        with self.graph.as_default():
            report.made = self._make_all(an, bad, unfed)
        for bid in an.order():
            m = self.made.get(bid)
            if m is not None:
                errors.extend(m.errors)
                for port, st in m.types.items():
                    report.types[(bid, port)] = st
        for alias, (b, p) in an.aliases.items():
            st = report.types.get((b, p))
            if st is not None:
                report.types[alias] = st
        report.errors = errors
        report.warnings = warnings + hazards.races(an) + hazards.unused_outputs(an)
        return report

    def _make_all(self, an: Analysis, bad: set[str], unfed: set[str]) -> int:
        """Make (or keep) every block of ``an`` in dependency order; returns how many were made."""
        built = self.built
        built.analysis, built.errors, built.built, built.slots, built.init_ops = an, [], [], [], []
        built.datasets, built.train_ops, built.variables, built.init_feeds = [], [], [], {}  # a check runs nothing
        if self.scope is None:
            self.scope = _CheckScope(self.graph, built)
        self.scope.scoped = an.scoped
        self.scope.folder, self.scope.allow_io = an.page.folder, self.allow_io
        data_dir = an.page.extra.get("data_dir")
        self.scope.data_dir = data_dir if isinstance(data_dir, str) and data_dir.strip() else None
        failed: set[str] = set()
        # the build's own record of failures holds the block being made only (so that it never needs the block
        # graph to find failed blocks upstream: that is done here, from the block's links)
        pb = _PageBuild(an.page, an, self.scope, set(), load().Operation)
        old, self.made = self.made, {}
        made = 0
        session, inputs, controls = an.plan.block, an.inputs, an.controls
        for bid in an.order():
            if bid == session or bid not in an.decls:
                continue
            if bid in bad or (failed and _after(bid, inputs[bid], controls.get(bid), failed)):
                failed.add(bid)
                self._drop(old.pop(bid, None))
                continue
            key = self._key(an, bid)
            m = old.pop(bid, None)
            if m is None or not _same(m.key, key):
                self._drop(m)
                m = self._make(pb, an, bid, key, bid in unfed)
                pb.failed.clear()
                made += 1
            self.made[bid] = m
            if m.failed:
                failed.add(bid)
        for m in old.values():  # blocks no longer on the page
            self._drop(m)
        if len(self.made) == made:
            self.fresh_ops = len(self.graph._nodes_by_id)
        return made

    def _key(self, an: Analysis, bid: str) -> tuple:
        """What decides the ops of block ``bid``: its type, its settings, its fed values' dtypes and shapes (and the
        numbers of a value the block reads while it is built, or that a check makes a Const), what is wired into it
        (``_wired``), and the blocks its control links come from."""
        decl = an.decls[bid]
        # the parsed settings as they are: the analysis keeps the same dict while a block's pins are unchanged
        parts: list[Any] = [decl, an.attrs.get(bid)]
        values = an.values.get(bid)
        if values:
            baked = _read_while_built(decl)
            for pin, arr in values.items():
                parts.append((pin, arr.dtype, arr.shape, _digest(arr) if pin in baked or bakeable(arr) else None))
        tensors, made = self.built.tensors, self.made
        for pname, lns in an.inputs[bid].items():
            parts.append(pname)
            for ln in lns:
                parts.append(self._wired(ln, tensors, made))
        for src in an.controls.get(bid, ()):
            parts.append(("^", id(made.get(src))))
        return tuple(parts)

    def _wired(self, ln: Any, tensors: dict[tuple[str, str], Any], made: dict[str, _Made]) -> Any:
        """What decides a block's ops of the output link ``ln`` brings in: its static type when that is a
        floating-point, complex, bool or string tensor (TensorFlow's shape functions read the numbers only of
        whole-number inputs: shapes, axes, sizes; and of handles), else the tensor itself (a block upstream made
        again gives a new one), by identity."""
        m = made.get(ln.src)
        if m is not None:
            st = m.types.get(ln.src_port)
            if st is not None and st.dtype in _BY_TYPE and not st.ref:
                return st
        k = (ln.src, ln.src_port)
        t = tensors.get(k)
        return id(t if t is not None else self.built.operations.get(k))

    def _make(self, pb: _PageBuild, an: Analysis, bid: str, key: tuple, unfed: bool) -> _Made:
        """Make block ``bid`` in the kept graph; its outputs' static types and errors."""
        built = self.built
        tensors, operations = built.tensors, built.operations
        n_err, n_t, n_o = len(built.errors), len(tensors), len(operations)
        if unfed:
            self._unfed_placeholder(an, bid, pb.failed)
        else:
            pb.build([bid])
        errors = [_with_input_types(e, an, self.made) for e in built.errors[n_err:]]
        new_t = list(islice(reversed(tensors), len(tensors) - n_t))[::-1]
        new_o = list(islice(reversed(operations), len(operations) - n_o))[::-1]
        types = {}
        for k in new_t:
            st = static_type(tensors[k])
            if st is not None:
                types[k[1]] = st
        return _Made(key, types, errors, bid in pb.failed, new_t + new_o)

    def _unfed_placeholder(self, an: Analysis, bid: str, failed: set[str]) -> None:
        """Make the placeholder of a Placeholder block that has no value, of its declared dtype and shape."""
        attrs = an.attrs.get(bid) or {}
        shape = attrs.get("shape")
        dims = None if shape is None else [None if d is None or d < 0 else int(d) for d in shape]
        scope = self.scope
        assert scope is not None
        try:
            t = scope.fed_placeholder(bid, f"{scope.op_name_for(bid)}/value", "value", str(attrs["dtype"]), dims)
        except Exception as e:  # noqa: BLE001 - any failure of one block is that block's error
            _failure(self.built, failed, bid, e)
            return
        self.built.tensors[(bid, "output")] = t

    def _drop(self, m: _Made | None) -> None:
        """Forget the outputs of a block that is made again, failed, or left the page."""
        if m is None:
            return
        tensors, operations = self.built.tensors, self.built.operations
        for k in m.ports:
            tensors.pop(k, None)
            operations.pop(k, None)


class _CheckScope(PageScope):
    """The page scope of a check: small whole-number values (a Reshape's shape, a Transpose's perm, an axis) are
    made Consts rather than fed placeholders, so that the shape functions that read such a value can use it (a
    check runs nothing, so nothing is fed). Placeholder blocks keep their placeholders: their declared shape is
    what a run may feed."""

    def fed_placeholder(self, block_id: str, op_name: str, pin: str, dt: str, shape: list[int | None]) -> Any:
        an = self.built.analysis
        arr = (an.values.get(block_id) or {}).get(pin)
        if arr is None or not bakeable(arr) or an.decls[block_id].name == "Placeholder":
            return super().fed_placeholder(block_id, op_name, pin, dt, shape)
        return self.const(op_name, arr, dt)


def _after(bid: str, ins: dict[str, list[Any]], controls: list[str] | None, failed: set[str]) -> bool:
    """Whether block ``bid`` (its input links ``ins``, the blocks its control links come from) is downstream of a
    block in ``failed``."""
    return any(ln.src in failed for lns in ins.values() for ln in lns) or any(c in failed for c in controls or ())


def _same(a: tuple, b: tuple) -> bool:
    """Whether two block keys are equal (a setting that cannot be compared, such as an array, counts as changed)."""
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        return False


def _read_while_built(decl: Any) -> frozenset[str]:
    """The value pins whose numbers a block of type ``decl`` reads while it is built (value attrs it does not
    declare as fed, such as GraphFunction's ``graph``), made once per declaration."""
    got = decl.__dict__.get("_read_while_built")
    if got is None:
        got = frozenset(a.name for a in decl.attrs if a.type == "value") - frozenset(decl.value_pins)
        decl.__dict__["_read_while_built"] = got
    return got


def _digest(arr: Any) -> str:
    return hashlib.blake2b(arr.tobytes() if arr.dtype.kind != "O" else repr(arr.tolist()).encode(),
                           digest_size=16).hexdigest()


def _with_input_types(e: BuildError, an: Analysis, made: dict[str, _Made]) -> BuildError:
    """A block's error from TensorFlow about shapes, with the static type of each wired input and where it comes
    from (``a [2,3] from 'x.output'``), so that both shapes are named with their ports."""
    if e.port is not None or e.block is None or "shape" not in e.message:
        return e
    # the node's name in the kept graph may carry a suffix (a block made again): the block is named already
    message = _NODE_NAMED.sub("", e.message)
    parts = []
    for pname, lns in an.inputs.get(e.block, {}).items():
        for ln in lns:
            src = made.get(ln.src)
            st = src.types.get(ln.src_port) if src is not None else None
            if st is not None:
                parts.append(f"{pname} {st.dtype}{shape_text(st.shape)} from '{ln.src}.{ln.src_port}'")
    if not parts:
        return e
    return BuildError(e.block, e.port, f"{message} (inputs: {'; '.join(parts)})")


def check_page(page: Page, allow_io: bool = False) -> CheckReport:
    """One check of ``page`` with a fresh checker (``ShapeChecker.check``)."""
    return ShapeChecker().check(page, allow_io=allow_io)


__all__ = ["CheckReport", "ShapeChecker", "StaticType", "check_page", "static_type"]
