"""How a step's session call is made: a compiled TensorFlow callable per (fetches, targets, baked values).

``step_callable`` gives a function of the values of all slots (``BuiltGraph.slots``) that runs a step's
targets and returns its results in order; it feeds only the slots the step reads, binds the small values
of a lean step to Consts made in the graph (``BAKED_SIZE``), and hands back None for a result on a branch
that a Switch did not take. Making the callable makes its kernels, which may raise TensorFlow's errors
(naming their node): the runner guards making and calling alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from enuflow.app.engine.builder import BuiltGraph

_UNFETCHABLE = ("resource", "variant")
_SWITCHES = ("Switch", "RefSwitch", "_SwitchN")
#: Values fed (Const blocks' and pins' values) are converted to tensors at every session call. A lean step
#: reads those of at most this many elements (strings of at most ``BAKED_TEXT`` bytes each) from Consts made
#: in the graph at the first lean step of a structure, bound to their placeholders for its callable only
#: (``CallableOptions.tensor_connection``); a value edited since is fed again until the graph is rebuilt.
BAKED_SIZE = 256
BAKED_TEXT = 4096
_DEAD = (0,)  # the shape of what TensorFlow hands back for a tensor on an untaken Switch branch

def _handles(built: BuiltGraph, targets: list[tuple[str, str]]) -> dict[tuple[str, str], np.ndarray]:
    """Resource and variant outputs among ``targets``: a ``Handle`` result each (they have no value to fetch)."""
    from enuflow.app.document.tensors import handle_array

    out = {}
    for k in targets:
        t = built.tensors.get(k)
        if t is not None and hasattr(t, "dtype") and t.dtype.base_dtype.name in _UNFETCHABLE:
            shape = tuple(t.shape.as_list()) if t.shape.is_fully_defined() and t.shape.num_elements() <= 64 else ()
            out[k] = handle_array(t.dtype.base_dtype.name, shape)
    return out


def step_callable(prepared: Any, keys: list[tuple[str, str]], targets: list[tuple[str, str]],
              feeds: list[Any] | None = None) -> Any:
    """A function of the values of all slots that runs ``targets`` and returns ``keys``' results in order
    (made once per keys, targets and baked values). Making it may raise TensorFlow's errors (its kernels
    are made with it)."""
    pair = (tuple(keys), tuple(targets))
    used = prepared.needs.get(pair)
    if used is None:
        used = prepared.needs[pair] = _slots_used(prepared.built, keys, targets)
    baked = _bake(prepared, used, feeds) if feeds is not None and used else ()
    sig = (pair[0], pair[1], baked)
    fn = prepared.callables.get(sig)
    if fn is None:
        fn = prepared.callables[sig] = _make_callable(prepared, keys, targets, used, baked)
    return fn


def _slots_used(built: BuiltGraph, keys: list[tuple[str, str]], targets: list[tuple[str, str]]) -> list[int]:
    """The slots (indices into ``built.slots``) whose values running ``keys`` and ``targets`` reads: only those
    are fed (each fed value is converted at every call)."""
    fed_ops = {s.placeholder.op for s in built.slots}  # a fetched value fed is not read from the graph
    needed = _needed_ops([op for op in _step_ops(built, keys, targets) if op not in fed_ops])
    return [i for i, s in enumerate(built.slots) if s.placeholder.op in needed]


def _make_callable(prepared: Any, keys: list[tuple[str, str]], targets: list[tuple[str, str]],
                   used: list[int], baked: tuple[int, ...]) -> Callable[[list[Any]], list[Any]]:
    """``Runner._callable``'s function, made: a compiled TensorFlow callable and the steps around it."""
    built = prepared.built
    feed_list = [s.placeholder for s in built.slots]
    fed_at = {id(t): i for i, t in enumerate(feed_list)}
    # a fed placeholder (a Const's value) cannot also be fetched: its result is the value fed
    plan: list[tuple[bool, int]] = []
    fetches = []
    for k in keys:
        t = built.tensors[k]
        if id(t) in fed_at:
            plan.append((True, fed_at[id(t)]))
        else:
            plan.append((False, len(fetches)))
            fetches.append(t)
    ops = [_target_op(built, k) for k in targets]
    used = [i for i in used if i not in baked]
    inner = _compiled(prepared, feed_list, used, baked, fetches, ops)
    checks = _dead_checks(built, fetches)
    sub: list[int] | None = None if len(used) == len(feed_list) else used
    subset: list[Any] = [None, None]  # (the feeds list last given, the part of it fed)
    # every key fetched, in order (a lean step's keys leave out the values fed): the results as they come
    as_fetched = all(not fed and i == j for j, (fed, i) in enumerate(plan))

    def fn(feeds: list[Any], _inner: Any = inner, _plan: list = plan, _checks: list = checks,
           _used: list[int] | None = sub, _subset: list = subset, _as_fetched: bool = as_fetched) -> list[Any]:
        """The step's results in the order of its keys, from the values of all slots (``feeds``)."""
        if _used is None:
            out = _inner(*feeds)
        else:
            if _subset[0] is not feeds:  # a run hands the same list at every step
                _subset[0], _subset[1] = feeds, [feeds[i] for i in _used]
            out = _inner(*_subset[1])
        for j in _checks:
            arr = out[j]
            # (a scalar comes back as a numpy scalar, a scalar string as bytes: neither is an array)
            if arr.__class__ is np.ndarray and arr.shape == _DEAD:
                out[j] = None
        if _as_fetched:
            return out
        return [feeds[i] if fed else out[i] for fed, i in _plan]

    return fn


def _compiled(prepared: Any, feed_list: list[Any], used: list[int], baked: tuple[int, ...],
              fetches: list[Any], ops: list[Any]) -> Callable[..., list[Any]]:
    """TensorFlow's callable taking the ``used`` slots' values positionally, fetching ``fetches`` and running
    ``ops``; the ``baked`` slots' values are read from their Consts (``BAKED_SIZE``)."""
    if not fetches and not ops:
        return lambda *feeds: []
    # CallableOptions give a compiled step that takes the feeds positionally; Session.make_callable
    # with a feed_list falls back to Session.run's slow per-call feed and fetch handling
    from tensorflow.core.protobuf import config_pb2

    opts = config_pb2.CallableOptions()
    for i in baked:  # the value's Const stands for the placeholder in this callable's graph
        link = opts.tensor_connection.add()
        link.from_tensor = prepared.baked[i][1].name
        link.to_tensor = feed_list[i].name
    opts.feed.extend(feed_list[i].name for i in used)
    opts.fetch.extend(t.name for t in fetches)
    opts.target.extend(op.name for op in ops)
    return prepared.session._make_callable_from_options(opts)


def _dead_checks(built: BuiltGraph, fetches: list[Any]) -> list[int]:
    """The fetches that may come back "dead" (an empty array for a tensor on an untaken Switch branch): where
    the graph has Switches, those whose static shape cannot be [0] (a result of shape [0] is then such a one)."""
    if not any(op.type in _SWITCHES for op in built.graph.get_operations()):
        return []
    return [j for j in range(len(fetches)) if not fetches[j].shape.is_compatible_with([0])]


def _target_op(built: BuiltGraph, k: tuple[str, str]) -> Any:
    """The op that running target ``k`` runs: a block's operation, or the op making the output."""
    return built.operations[k] if k in built.operations else built.tensors[k].op


def _step_ops(built: BuiltGraph, keys: list[tuple[str, str]], targets: list[tuple[str, str]]) -> list[Any]:
    """The ops that fetching ``keys`` and running ``targets`` asks for."""
    return [built.tensors[k].op for k in keys] + [_target_op(built, k) for k in targets]


def _value_key(v: np.ndarray) -> Any:
    """What tells two values fed apart: dtype, shape and contents (bytes, so NaN equals NaN)."""
    if v.dtype.kind == "O":
        return v.shape, tuple(v.reshape(-1).tolist())
    return v.dtype.str, v.shape, v.tobytes()


def _bakeable(v: Any) -> bool:
    if v.__class__ is not np.ndarray or v.size > BAKED_SIZE:
        return False
    if v.dtype.kind == "O":
        return all(isinstance(x, (bytes, str)) and len(x) <= BAKED_TEXT for x in v.reshape(-1).tolist())
    return v.dtype.kind in "biufc"


def _bake(prepared: Any, used: list[int], feeds: list[Any]) -> tuple[int, ...]:
    """The slots among ``used`` whose value is read from a Const in the graph: small values (``BAKED_SIZE``)
    equal to the value baked for the slot, which is made here the first time (for the values of this run)."""
    out = []
    baked = prepared.baked
    for i in used:
        v = feeds[i]
        if not _bakeable(v):
            continue
        key = _value_key(v)
        have = baked.get(i)
        if have is None:
            t = _make_const(prepared.built, i, v)
            if t is None:
                continue
            have = baked[i] = (key, t)
        if have[0] == key:
            out.append(i)
    return tuple(out)


def _make_const(built: BuiltGraph, i: int, v: np.ndarray) -> Any:
    """A Const in ``built.graph`` holding ``v``, slot ``i``'s value, beside its placeholder (None if ``v`` cannot
    be one)."""
    from tensorflow.core.framework import attr_value_pb2
    from tensorflow.python.framework import tensor_util

    ph = built.slots[i].placeholder
    try:
        proto = tensor_util.make_tensor_proto(v, dtype=ph.dtype, shape=v.shape)
    except (TypeError, ValueError):
        return None
    attrs = {"value": attr_value_pb2.AttrValue(tensor=proto),
             "dtype": attr_value_pb2.AttrValue(type=ph.dtype.as_datatype_enum)}
    # named under the placeholder, so a message about it names the block
    op = built.graph._create_op_internal("Const", [], name=ph.op.name + "/baked", attrs=attrs)
    if ph.op.device:
        op._set_device(ph.op.device)
    return op.outputs[0]


def _needed_ops(ops: list[Any]) -> set[Any]:
    """The ops that running ``ops`` runs: they and everything upstream (op and control inputs)."""
    seen: set[Any] = set()
    stack = list(ops)
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return seen
