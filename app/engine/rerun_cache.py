"""Cached re-runs: after a run, a run of the same graph with some values edited re-runs only what they reach.

ComfyUI keys each node's outputs by its inputs. Here the key of a result is the graph it was made in (the
page's structure signature: the runner keeps one built graph per structure, ``Runner.prepare``) and the values
of every slot (a Const's value, a pin) it depends on. A result may come from the cache when its op and every
op upstream of it are *pure*: reviewed ``compute`` ops (``blocks.op_classes``) that TensorFlow's op def does
not mark stateful, that take no ref or resource input (``step_groups.has_effects``), have no ``seed`` attr and
are outside any loop or cond (a tensor there cannot be fed). So Variables, queues, readers, random ops and all
that depends on them always run; a graph with a Switch does not use the cache at all.

``RerunCache`` belongs to one built graph (``_Prepared.rerun``): a structural edit builds a new graph and starts
with nothing kept. ``store`` keeps, after a one-step run, the values the session returned for pure results (the
same arrays the results hold: no copy, at most ``MAX_BYTES`` of them) and a copy of each slot's value (compared
bit for bit, so -0.0 is not 0.0; a digest once copies would pass ``MAX_BYTES``). ``plan`` then gives, for the
next one-step run, a ``CachedStep``: results whose slots all kept their values come from the cache; the rest are
fetched by a callable fed the cached tensors on their frontier (``CallableOptions.feed`` takes any tensor), so
nothing upstream of those runs. Only the last run's values are kept. A run of several steps neither uses nor
keeps them (its steps are lean and fetch only numbers; the cache is cleared), and neither does a run on a
TensorFlow server or a run after one in which a block failed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: the most bytes of results kept for the next run (the arrays are those of the last run's results)
MAX_BYTES = 512 << 20
_PLACEHOLDERS = ("Placeholder", "PlaceholderV2")


class Kept:
    """What tells whether a slot's value is the one fed in the last run: a copy of it (compared element by element,
    bit for bit: NaN equals NaN), or a digest of it when the copies would pass ``MAX_BYTES``."""

    def __init__(self, v: Any, copy: bool) -> None:
        arr = np.asarray(v)
        self.kind, self.shape = arr.dtype.str, arr.shape
        self.copy = arr.copy() if copy else None
        self.digest = None if copy else _digest(arr)

    def same(self, v: Any) -> bool:
        arr = np.asarray(v)
        if arr.dtype.str != self.kind or arr.shape != self.shape:
            return False
        if self.copy is None:
            return _digest(arr) == self.digest
        if arr.dtype.kind == "O":
            return arr.tolist() == self.copy.tolist()
        return bool(np.array_equal(_bits(arr), _bits(self.copy)))  # bits: -0.0 is not 0.0 (1/x tells them apart)


def _bits(arr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8)


def _digest(arr: np.ndarray) -> bytes:
    h = hashlib.sha1(usedforsecurity=False)
    if arr.dtype.kind == "O":
        h.update(repr(arr.reshape(-1).tolist()).encode())
    else:
        h.update(np.ascontiguousarray(arr).view(np.uint8).reshape(-1).data)
    return h.digest()


def may_cache(op: Any) -> bool:
    """Whether ``op`` is a pure function of its inputs, and its outputs can be fed (see the module's doc)."""
    from enuflow.app.engine.step_groups import has_effects
    from enuflow.blocks.op_classes import op_class

    if op.type in _PLACEHOLDERS or has_effects(op.type) or op_class(op.type) != "compute":
        return False
    if getattr(op, "_control_flow_context", None) is not None:
        return False
    attrs = op.node_def.attr
    if "seed" in attrs or "seed2" in attrs:
        return False
    return not any(t.dtype._is_ref_dtype for t in op.outputs)


@dataclass
class CachedStep:
    """One step of a cached re-run: what is fetched, fed from the cache, and given without running."""

    fetch: list[tuple[str, str]]
    targets: list[tuple[str, str]]
    slots: list[int]                      # the slots whose values the callable reads
    fed: list[Any]                        # the cached tensors it is fed (the frontier)
    fed_values: list[Any]
    given: dict[tuple[str, str], Any]     # results from the cache or from the values fed (a Const's)
    ran: set[str] = field(default_factory=set)        # blocks that run
    cached: set[str] = field(default_factory=set)     # blocks whose every result came from the last run
    hits: int = 0                                     # results (and ops run) the cache spares

    def callable(self, prepared: Any) -> Any:
        """A function of the slots' values returning ``fetch``'s results (made once per frontier; making it may
        raise TensorFlow's errors)."""
        sig = ("cached", tuple(self.fetch), tuple(self.targets), tuple(self.slots), tuple(t.name for t in self.fed))
        fn = prepared.callables.get(sig)
        if fn is None:
            fn = prepared.callables[sig] = _make(prepared, self)
        return fn


def _make(prepared: Any, step: CachedStep) -> Any:
    from tensorflow.core.protobuf import config_pb2

    built = prepared.built
    fetches = [built.tensors[k] for k in step.fetch]
    ops = [built.operations[k] if k in built.operations else built.tensors[k].op for k in step.targets]
    if not fetches and not ops:
        return lambda feeds: []
    opts = config_pb2.CallableOptions()
    opts.feed.extend(built.slots[i].placeholder.name for i in step.slots)
    opts.feed.extend(t.name for t in step.fed)
    opts.fetch.extend(t.name for t in fetches)
    opts.target.extend(op.name for op in ops)
    inner = prepared.session._make_callable_from_options(opts)
    slots, fed_values = list(step.slots), step.fed_values

    def fn(feeds: list[Any]) -> list[Any]:
        return inner(*[feeds[i] for i in slots], *fed_values)

    return fn


class RerunCache:
    """The last one-step run's pure results on one built graph, and the values it fed."""

    def __init__(self, built: Any) -> None:
        self.built = built
        self.slot_of = {s.placeholder.op.name: i for i, s in enumerate(built.slots)}
        self._pure: set[str] | None = None
        self.kept: list[Kept] | None = None  # per slot: its value in the last run
        self.values: dict[str, Any] = {}  # tensor name -> its value in the last run

    @property
    def pure(self) -> set[str]:
        """The names of the ops whose results may be cached, judged by themselves (not by what is upstream)."""
        if self._pure is None:
            self._pure = {op.name for op in self.built.graph.get_operations() if may_cache(op)}
        return self._pure

    def clear(self) -> None:
        self.kept, self.values = None, {}

    def store(self, feeds: list[Any], produced: dict[tuple[str, str], Any], fetched: set[tuple[str, str]]) -> None:
        """Keep this run's pure results (of the keys ``fetched``) and the values it fed."""
        pure, tensors = self.pure, self.built.tensors
        values: dict[str, Any] = {}
        size = 0
        for k, v in reversed(produced.items()):  # downstream first (built in order): those spare the most
            t = tensors.get(k)
            if v is None or k not in fetched or t is None or t.op.name not in pure or t.name in values:
                continue
            size += getattr(v, "nbytes", 0)
            if size > MAX_BYTES:
                break
            values[t.name] = v
        self.values = values
        room = MAX_BYTES - size
        kept = []
        for v in feeds:  # (a value kept from the last run and unchanged is kept as it was)
            nbytes = getattr(v, "nbytes", 0)
            kept.append(Kept(v, copy=nbytes <= room))
            room -= nbytes if nbytes <= room else 0
        self.kept = kept

    def _valid(self, feeds: list[Any]) -> tuple[set[str], set[int]] | None:
        """(the ops whose results are as in the last run: pure, and all they depend on unchanged, the slots whose
        values changed), or None when nothing is kept."""
        if self.kept is None or len(self.kept) != len(feeds):
            return None
        changed = {i for i, v in enumerate(feeds) if not self.kept[i].same(v)}
        pure, slot_of = self.pure, self.slot_of
        valid: set[str] = set()
        for op in self.built.graph.get_operations():  # creation order: inputs first (loops are never pure)
            i = slot_of.get(op.name)
            if i is not None:
                if i not in changed:
                    valid.add(op.name)
            elif op.name in pure and all(t.op.name in valid for t in op.inputs) \
                    and all(c.name in valid for c in op.control_inputs):
                valid.add(op.name)
        return valid, changed

    def plan(self, feeds: list[Any], keys: list[tuple[str, str]],
             targets: list[tuple[str, str]]) -> CachedStep | None:
        """The cached step for fetching ``keys`` and running ``targets`` with ``feeds``; None when nothing is kept.
        Its ``hits`` is 0 when nothing computed would come from the cache (the step then runs as usual)."""
        got = self._valid(feeds)
        if got is None:
            return None
        valid, changed = got
        built, values = self.built, self.values
        step = CachedStep([], [], [], [], [], {})
        hits = 0
        for k in keys:
            t = built.tensors[k]
            i = self.slot_of.get(t.op.name)
            if i is not None:
                step.given[k] = feeds[i]
                (step.ran if i in changed else step.cached).add(k[0])
            elif t.op.name in valid and t.name in values:
                step.given[k] = values[t.name]
                step.cached.add(k[0])
                hits += 1
            else:
                step.fetch.append(k)
                step.ran.add(k[0])
        for k in targets:
            op = built.operations[k] if k in built.operations else built.tensors[k].op
            if op.name not in valid:
                step.targets.append(k)
                step.ran.add(k[0])
            else:
                hits += 1
        instances = {a[0] for a in built.aliases}  # a composite instance's outputs are its inner blocks'
        step.ran -= instances
        step.cached -= step.ran | instances
        step.hits = hits
        if hits:
            self._frontier(step, valid)
        return step

    def _frontier(self, step: CachedStep, valid: set[str]) -> None:
        """Fill ``step``'s slots and fed tensors: walking up from what it fetches and runs, a cached tensor is fed
        (what is upstream of it does not run)."""
        built, values = self.built, self.values
        stack = [built.tensors[k].op for k in step.fetch]
        stack += [built.operations[k] if k in built.operations else built.tensors[k].op for k in step.targets]
        seen: set[str] = set()
        slots: set[int] = set()
        fed: dict[str, Any] = {}
        while stack:
            op = stack.pop()
            if op.name in seen:
                continue
            seen.add(op.name)
            i = self.slot_of.get(op.name)
            if i is not None:
                slots.add(i)
                continue
            for t in op.inputs:
                if t.op.name in valid and t.name in values:
                    fed[t.name] = t
                else:
                    stack.append(t.op)
            stack.extend(op.control_inputs)
        step.slots = sorted(slots)
        step.fed = list(fed.values())
        step.fed_values = [values[n] for n in fed]
