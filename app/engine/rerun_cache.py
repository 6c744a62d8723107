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


#: values of at most this many bytes are kept as their bytes (quick to compare); larger ones as a copy
_SMALL = 1 << 16


def kept_value(v: Any, copy: bool) -> tuple:
    """What tells whether a slot's value is the one fed in the last run: its dtype, shape and bits (its bytes, or a
    copy of it: compared bit for bit, so NaN equals NaN and -0.0 is not 0.0), or a digest of it when ``copy`` is
    False."""
    arr = np.asarray(v)
    if arr.dtype.kind == "O":
        return arr.dtype.str, arr.shape, "list", arr.tolist()
    if arr.nbytes <= _SMALL:
        return arr.dtype.str, arr.shape, "bytes", arr.tobytes()
    if copy:
        return arr.dtype.str, arr.shape, "copy", arr.copy()
    return arr.dtype.str, arr.shape, "digest", _digest(arr)


def same_value(kept: tuple, v: Any) -> bool:
    """Whether ``v`` is the value ``kept`` (``kept_value``) was made from."""
    arr = v if v.__class__ is np.ndarray else np.asarray(v)
    dtype, shape, how, what = kept
    if arr.shape != shape or arr.dtype.str != dtype:
        return False
    if how == "bytes":
        return arr.tobytes() == what
    if how == "copy":
        return bool(np.array_equal(_bits(arr), _bits(what)))
    if how == "list":
        return arr.tolist() == what
    return _digest(arr) == what


def _bits(arr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8)


def _digest(arr: np.ndarray) -> bytes:
    return hashlib.sha1(np.ascontiguousarray(arr).view(np.uint8).reshape(-1).data, usedforsecurity=False).digest()


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
        self._deps: dict[str, int] | None = None
        self.kept: list[tuple] | None = None  # per slot: its value in the last run (``kept_value``)
        #: the last run's results (key -> value; those of pure ops are used), and the key of each tensor among them
        self.last: dict[tuple[str, str], Any] = {}
        self._key_of: dict[str, tuple[str, str]] = {}
        self._changed_last = -1  # the slots the last plan found changed (-1: all)
        #: per list of keys: (key, tensor name, slot or -1, the slots it depends on or None) of each
        self._infos: dict[tuple, list[tuple]] = {}

    @property
    def deps(self) -> dict[str, int]:
        """Op name -> the slots it depends on (a bit each), for the ops whose results may be cached: pure, and all
        upstream of them too (made once per graph)."""
        if self._deps is None:
            deps: dict[str, int] = {}
            slot_of = self.slot_of
            for op in self.built.graph.get_operations():  # creation order: inputs first (loops are never pure)
                i = slot_of.get(op.name)
                if i is not None:
                    deps[op.name] = 1 << i
                    continue
                mask = 0
                for src in [t.op for t in op.inputs] + list(op.control_inputs):
                    m = deps.get(src.name)
                    if m is None:
                        break
                    mask |= m
                else:
                    if may_cache(op):
                        deps[op.name] = mask
            self._deps = deps
        return self._deps

    def _info(self, keys: list[tuple[str, str]]) -> list[tuple]:
        """(key, tensor name, slot or -1, the slots it depends on or None) of each of ``keys`` (made once per list)."""
        sig = tuple(keys)
        got = self._infos.get(sig)
        if got is None:
            tensors, deps, slot_of = self.built.tensors, self.deps, self.slot_of
            got = []
            for k in keys:
                t = tensors[k]
                name = t.op.name
                got.append((k, t.name, slot_of.get(name, -1), deps.get(name)))
                self._key_of.setdefault(t.name, k)
            if len(self._infos) > 8:
                self._infos.clear()
            self._infos[sig] = got
        return got

    def clear(self) -> None:
        self.kept, self.last, self._changed_last = None, {}, -1

    def store(self, feeds: list[Any], produced: dict[tuple[str, str], Any], keys: list[tuple[str, str]]) -> None:
        """Keep this run's results (those of pure ops among ``keys`` are used) and the values it fed. The arrays
        used are made read-only: they are the run's results too, and a change made to them in place would be fed
        to the next run."""
        size = sum(getattr(v, "nbytes", 0) for v in produced.values())
        if size > MAX_BYTES:
            produced, size = self._within(produced)
        for k, _name, slot, mask in self._info(keys):
            v = produced.get(k)
            if mask is not None and slot < 0 and v.__class__ is np.ndarray:
                v.flags.writeable = False
        self.last = produced
        kept, changed, room = self.kept, self._changed_last, MAX_BYTES - size
        if kept is None or len(kept) != len(feeds) or changed < 0:
            kept, changed = [None] * len(feeds), (1 << len(feeds)) - 1
        else:
            kept = list(kept)
        for i, v in enumerate(feeds):
            if changed >> i & 1 or kept[i] is None:  # (an unchanged value's record stays)
                nbytes = getattr(v, "nbytes", 0)
                kept[i] = kept_value(v, copy=nbytes <= room)
                room -= nbytes if nbytes <= room else 0
        self.kept = kept

    def _within(self, produced: dict[tuple[str, str], Any]) -> tuple[dict[tuple[str, str], Any], int]:
        """The pure results among ``produced`` that ``MAX_BYTES`` holds, downstream first (those spare the most)."""
        out: dict[tuple[str, str], Any] = {}
        size = 0
        tensors, deps = self.built.tensors, self.deps
        for k, v in reversed(produced.items()):  # (built in order)
            t = tensors.get(k)
            if v is None or t is None or not hasattr(t, "op") or deps.get(t.op.name) is None:
                continue
            if size + getattr(v, "nbytes", 0) > MAX_BYTES:
                break
            size += getattr(v, "nbytes", 0)
            out[k] = v
        return out, size

    def _changed(self, feeds: list[Any]) -> int | None:
        """The slots whose values changed since the last run (a bit each), or None when nothing is kept."""
        kept = self.kept
        if kept is None or len(kept) != len(feeds):
            return None
        mask = 0
        for i, v in enumerate(feeds):
            if not same_value(kept[i], v):
                mask |= 1 << i
        return mask

    def plan(self, feeds: list[Any], keys: list[tuple[str, str]],
             targets: list[tuple[str, str]]) -> CachedStep | None:
        """The cached step for fetching ``keys`` and running ``targets`` with ``feeds``; None when nothing is kept.
        Its ``hits`` is 0 when nothing computed would come from the cache (the step then runs as usual)."""
        changed = self._changed(feeds)
        self._changed_last = -1 if changed is None else changed
        if changed is None:
            return None
        last, deps = self.last, self.deps
        step = CachedStep([], [], [], [], [], {})
        given, fetch, ran, cached = step.given, step.fetch, step.ran, step.cached
        hits = 0
        for k, _name, slot, mask in self._info(keys):
            if slot >= 0:
                given[k] = feeds[slot]
                (ran if changed >> slot & 1 else cached).add(k[0])
            elif mask is not None and not mask & changed and last.get(k) is not None:
                given[k] = last[k]
                cached.add(k[0])
                hits += 1
            else:
                fetch.append(k)
                ran.add(k[0])
        for k in targets:
            mask = deps.get(self._target(k).name)
            if mask is None or mask & changed:
                step.targets.append(k)
                ran.add(k[0])
            else:
                hits += 1
        instances = {a[0] for a in self.built.aliases}  # a composite instance's outputs are its inner blocks'
        step.ran -= instances
        step.cached -= step.ran | instances
        step.hits = hits
        if hits:
            self._frontier(step, changed)
        return step

    def _target(self, k: tuple[str, str]) -> Any:
        built = self.built
        return built.operations[k] if k in built.operations else built.tensors[k].op

    def _frontier(self, step: CachedStep, changed: int) -> None:
        """Fill ``step``'s slots and fed tensors: walking up from what it fetches and runs, a cached tensor is fed
        (what is upstream of it does not run)."""
        last, deps, slot_of, key_of = self.last, self.deps, self.slot_of, self._key_of
        stack = [self.built.tensors[k].op for k in step.fetch] + [self._target(k) for k in step.targets]
        seen: set[str] = set()
        slots: set[int] = set()
        fed: dict[str, tuple[Any, Any]] = {}
        while stack:
            op = stack.pop()
            if op.name in seen:
                continue
            seen.add(op.name)
            i = slot_of.get(op.name)
            if i is not None:
                slots.add(i)
                continue
            for t in op.inputs:
                mask = deps.get(t.op.name)
                v = last.get(key_of.get(t.name)) if mask is not None and not mask & changed else None
                if v is not None:
                    fed[t.name] = (t, v)
                else:
                    stack.append(t.op)
            stack.extend(op.control_inputs)
        step.slots = sorted(slots)
        step.fed = [t for t, _v in fed.values()]
        step.fed_values = [v for _t, v in fed.values()]
