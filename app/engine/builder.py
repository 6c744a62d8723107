"""Page -> TensorFlow graph.

``build(page)`` analyses the page (``app.engine.analysis``), then builds every block that has no problem, in
dependency order, into a fresh ``tf.Graph``: each block's ``build(scope, **inputs)`` receives the
tensors wired into it. Pin values are not baked into the graph: each becomes a placeholder that the
runner feeds, so a value edit reuses the graph. Blocks downstream of a failed block are not built.
The result, ``BuiltGraph``, maps every (block, output) to its tensor, every op back to its block, and
lists the values to feed. Build problems are returned as ``BuildError`` values, never raised.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from enuflow.app.engine.analysis import Analysis, BuildError, analyse
from enuflow.app.gcpause import paused_gc
from enuflow.app.document.page import Page
from enuflow.app.document.values import np_name
from enuflow.blocks.base import BuildFailure
from enuflow.blocks.opblock import DTYPE_NAMES, OpBlock, flat_inputs, memo_key, plain_inputs, tensor_dtype
from enuflow.blocks.tf import attr_value, const_attrs, load

_NAME_OK = re.compile(r"[^A-Za-z0-9_.\-]")
#: pin and op type names as parts of op names (``_part``)
_PARTS: dict[str, str] = {}
#: a block id that is a TensorFlow op name as it is (most are)
_NAME_PLAIN = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-]*")


def _part(name: str) -> str:
    """A pin or op type name as it may stand in an op name (made once per name)."""
    part = _PARTS.get(name)
    if part is None:
        part = _PARTS[name] = _NAME_OK.sub("_", name)
    return part


@dataclass
class ValueSlot:
    """A pin value fed at run time: which block and pin, its placeholder, and the dtype it is fed as."""

    block: str
    pin: str
    placeholder: Any
    dtype: str


@dataclass
class DatasetHandles:
    """A ``DatasetSource`` block's iterator and its initialisers (``BuiltGraph.datasets``, TRAIN_DESIGN section 2).

    ``train_init`` starts one shuffled epoch of the train split, ``test_init`` the test split once, ``repeat_init``
    the train split for ever (registered as an initialiser, so that plain steps read batches)."""

    #: the helper block's path id (``data/source``)
    block: str
    #: the page's ``data.Dataset`` block id (``data``): the first part of ``block``
    instance: str
    train_init: Any
    test_init: Any
    repeat_init: Any
    n_train: int
    n_test: int
    batch_size: int
    #: for integer labels, the largest label + 1; None otherwise
    num_classes: int | None = None
    #: for integer labels, the smallest label; None otherwise
    min_label: int | None = None


@dataclass
class BuiltGraph:
    """A page built into a ``tf.Graph``, ready for the runner."""

    graph: Any
    analysis: Analysis
    tensors: dict[tuple[str, str], Any] = field(default_factory=dict)
    operations: dict[tuple[str, str], Any] = field(default_factory=dict)
    slots: list[ValueSlot] = field(default_factory=list)
    op_block: dict[str, str] = field(default_factory=dict)
    init_ops: list[Any] = field(default_factory=list)
    errors: list[BuildError] = field(default_factory=list)
    built: list[str] = field(default_factory=list)
    #: an exposed output of a composite instance (also in ``tensors``) -> the inner output it is
    aliases: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    #: training records (TRAIN_DESIGN section 2), empty on pages without training blocks: the page's ``training``
    #: flag (a scalar bool placeholder_with_default, made by ``PageScope.training``), its datasets, the update op of
    #: each ``Minimize`` block (block id, op), every Variable by a stable name (name, resource handle or ref), and
    #: the arrays fed only when the initialisers run
    training: Any = None
    datasets: list[DatasetHandles] = field(default_factory=list)
    train_ops: list[tuple[str, Any]] = field(default_factory=list)
    variables: list[tuple[str, Any]] = field(default_factory=list)
    init_feeds: dict[Any, np.ndarray] = field(default_factory=dict)
    #: problems found while building that do not stop the page (a data file holding NaN), by block and pin
    warnings: list[BuildError] = field(default_factory=list)

    def feed_values(self, analysis: Analysis | None = None) -> list[np.ndarray]:
        """The arrays to feed, in slot order, from ``analysis`` (a page with the same signature)."""
        an = analysis or self.analysis
        out = []
        for s in self.slots:
            arr = an.values[s.block][s.pin]
            out.append(convert_value(arr, s.dtype))
        return out

    @property
    def signature(self) -> str:
        """The signature of the page this graph was built from (``Analysis.signature``)."""
        return self.analysis.signature

    def block_of_op(self, op_name: str) -> str | None:
        """The block whose op is ``op_name``: the one named by its first part, or for a block inside a composite
        (named by its path, ``d1/mm``) by its first parts."""
        parts = op_name.split("/")
        for i in range(1, len(parts) + 1):
            bid = self.op_block.get("/".join(parts[:i]))
            if bid is not None:
                return bid
        return None


def convert_value(arr: np.ndarray, dtype: str) -> np.ndarray:
    """``arr`` as ``dtype`` when the conversion loses nothing; raises BuildFailure otherwise."""
    if dtype == "string" or np_name(arr.dtype) == dtype:
        return arr
    from enuflow.app.document.values import numpy_dtype

    target = np.dtype(numpy_dtype(dtype))
    if arr.dtype.kind == "O" or target.kind == "O":
        raise BuildFailure(f"a {arr.dtype} value cannot be used as {dtype}")
    with np.errstate(all="ignore"):
        conv = arr.astype(target)
        back = conv.astype(arr.dtype)
    same = np.array_equal(back, arr, equal_nan=arr.dtype.kind in "fc")
    if not same:
        if arr.dtype.kind in "f" and target.kind == "f":
            return conv  # float -> narrower float: rounding is what the user asks for
        raise BuildFailure(f"value {arr.reshape(-1)[:4].tolist()} does not fit {dtype}")
    return conv


class PageScope:
    """The per-page scope: the graph, the device, names, fed values and initialisers."""

    def __init__(self, graph: Any, built: BuiltGraph, device: str = "") -> None:
        self.graph = graph
        self.built = built
        self.device = device
        self._used: set[str] = set()
        #: op plans of blocks built so far, for the blocks like them (``blocks.opblock.build_op``)
        self.op_memo: dict[tuple, Any] = {}
        self._placeholder_attrs: dict[tuple, dict[str, Any]] = {}
        self.scoped = built.analysis.scoped
        self.op_names = built.analysis.op_names
        #: the folder of the page's file (relative data files are read there), or None; whether io is allowed
        self.folder: str | None = None
        self.allow_io = False
        #: the page's data folder (``data_dir``), where files are read without io allowed too, or None
        self.data_dir: str | None = None
        #: the trainable Variables made by helper blocks, by the name of their handle's op: (stable name, handle)
        self.trainable: dict[str, tuple[str, Any]] = {}

    def training(self) -> Any:
        """The page's ``training`` flag (made once): a scalar bool placeholder_with_default, True by default on a
        page with a ``Minimize`` (its plain steps train), else False; the epoch runner feeds it."""
        t = self.built.training
        if t is None:
            tf = load()
            default = any(d.name == "Minimize" for d in self.built.analysis.decls.values())
            name = "enuflow_training"
            while name.lower() in self._used:
                name += "_"
            self._used.add(name.lower())
            with self.graph.as_default(), tf.compat.v1.name_scope(None), self.graph.device(self.device):
                t = tf.compat.v1.placeholder_with_default(tf.constant(default), [], name=name)
            self.built.training = t
        return t

    def add_init_feed(self, placeholder: Any, array: np.ndarray) -> None:
        """Feed ``array`` into ``placeholder`` whenever the initialisers run (a dataset's arrays)."""
        self.built.init_feeds[placeholder] = array

    def add_dataset(self, **fields: Any) -> None:
        """Record a dataset's iterator and initialisers (the fields of ``DatasetHandles``) for the epoch runner."""
        self.built.datasets.append(DatasetHandles(**fields))

    def warn(self, block_id: str, port: str | None, message: str) -> None:
        """A problem found while building that does not stop the run (``BuiltGraph.warnings``)."""
        self.built.warnings.append(BuildError(block_id, port, message))

    def add_variable(self, name: str, variable: Any, trainable: bool = False) -> None:
        """Record a Variable (its resource handle or ref) for checkpoints; a trainable one also for ``Minimize``."""
        self.built.variables.append((name, variable))
        if trainable:
            self.trainable[variable.op.name] = (name, variable)

    def placeholder_attrs(self, dtype: str, shape: list[int | None] | None) -> dict[str, Any]:
        """The attrs of a Placeholder of ``dtype`` and ``shape``, made once per distinct pair."""
        key = (dtype, None if shape is None else tuple(shape))
        attrs = self._placeholder_attrs.get(key)
        if attrs is None:
            attrs = self._placeholder_attrs[key] = {"dtype": attr_value(dtype, "type"),
                                                    "shape": attr_value(shape, "shape")}
        return attrs

    def fed_placeholder(self, block_id: str, op_name: str, pin: str, dt: str, shape: list[int | None]) -> Any:
        """The placeholder ``op_name``, fed with pin ``pin`` of ``block_id`` (as ``dt``) at each run; for a block whose
        values are in the graph (``Analysis.baked``: a value a shape input reads; ``Analysis.controls``: a block that
        control links order, where a placeholder fed from outside could not stand in a loop's frame), a Const."""
        an = self.built.analysis
        if (an.baked and block_id in an.baked) or (an.controls and block_id in an.controls):
            arr = (an.values.get(block_id) or {}).get(pin)
            if arr is not None:
                return self.const(op_name, arr, dt)
        op = self.graph._create_op_internal("Placeholder", [], name=op_name, attrs=self.placeholder_attrs(dt, shape))
        t = op.outputs[0]
        self.built.slots.append(ValueSlot(block_id, pin, t, dt))
        return t

    def const(self, op_name: str, arr: np.ndarray, dt: str) -> Any:
        """The tensor of a Const ``op_name`` holding ``arr`` as ``dt`` (raises BuildFailure when it does not fit)."""
        attrs = const_attrs(convert_value(arr, dt), dt)
        return self.graph._create_op_internal("Const", [], name=op_name, attrs=attrs).outputs[0]

    def op_name_for(self, block_id: str) -> str:
        own = self.op_names.get(block_id)
        if own:  # a block that names its op (a model folded by scope keeps the model's names)
            name = "/".join(_plain(part) for part in own.split("/") if part)
        elif _NAME_PLAIN.fullmatch(block_id):
            name = block_id
        elif block_id in self.scoped:  # a block inside a composite: its path is its name scope (``d1/mm``)
            name = "/".join(_plain(part) for part in block_id.split("/"))
        else:
            name = _plain(block_id)
        low = name.lower()
        if low in self._used:
            base, i = name, 2
            while low in self._used:
                name = f"{base}_{i}"
                low = name.lower()
                i += 1
        self._used.add(low)
        self.built.op_block[name] = block_id
        return name


def _plain(block_id: str) -> str:
    """``block_id`` as an op name (or one part of one): characters TensorFlow refuses become ``_``."""
    if _NAME_PLAIN.fullmatch(block_id):
        return block_id
    name = _NAME_OK.sub("_", block_id)
    if not name or not (name[0].isalnum() or name[0] == "."):
        name = "b" + name
    return name


class BlockScope:
    """What a block's ``build`` receives: the graph, its attrs, its fed values and op creation."""

    __slots__ = ("page", "graph", "block_id", "attrs", "values", "name", "_made", "op_memo")

    def __init__(self, page_scope: PageScope, block_id: str, attrs: dict[str, Any],
                 values: dict[str, np.ndarray]) -> None:
        self.page = page_scope
        self.graph = page_scope.graph
        self.block_id = block_id
        self.attrs = attrs
        #: the block's parsed pin values, by pin
        self.values = values
        self.name = page_scope.op_name_for(block_id)
        self._made: set[str] | None = None
        self.op_memo = page_scope.op_memo

    def has_value(self, pin: str) -> bool:
        return pin in self.values

    def array(self, pin: str) -> np.ndarray:
        """The pin's parsed value itself (not fed), for blocks that read data at build time."""
        if pin not in self.values:
            raise BuildFailure(f"pin '{pin}' has no value", pin)
        return self.values[pin]

    def value(self, pin: str, dtype: str | None = None, shape: Any = None) -> Any:
        """A placeholder fed with the pin's value at each run (as ``dtype`` when given; a Const where the page scope
        says the value is in the graph: ``PageScope.fed_placeholder``)."""
        if pin not in self.values:
            raise BuildFailure(f"pin '{pin}' has no value", pin)
        arr = self.values[pin]
        converted = arr
        if dtype is None:  # the value's own dtype
            dt = "string" if arr.dtype.kind == "O" else np_name(arr.dtype)
        else:
            dt = dtype
            try:
                converted = convert_value(arr, dt)
            except BuildFailure as e:
                raise BuildFailure(f"pin '{pin}': {e.message}", pin) from None
        if shape is None:
            shp = list(arr.shape)
        else:
            shp = None if shape is None else [None if d is None or d < 0 else d for d in shape]
            if shp is not None and (len(shp) != arr.ndim
                                    or any(d is not None and d != s for d, s in zip(shp, arr.shape))):
                raise BuildFailure(f"value of shape {list(arr.shape)} does not fit the declared shape "
                                   f"{['?' if d is None else d for d in shp]}", pin)
        return self.page.fed_placeholder(self.block_id, self._op_name("Placeholder", pin), pin, dt, shp)

    def create_op(self, op_type: str, inputs: list[Any], attrs: dict[str, Any], suffix: str | None = None) -> Any:
        """Create an op named after the block (``suffix`` for helper ops); returns the tf.Operation."""
        return self.graph._create_op_internal(op_type, inputs, name=self._op_name(op_type, suffix), attrs=attrs)

    def _op_name(self, op_type: str, suffix: str | None) -> str:
        """A new op's name: the block's own for its first op, ``<block>/<suffix or type>`` for helper ops."""
        made = self._made
        if made is None:
            made = self._made = set()
        if suffix is None and self.name not in made:
            name = self.name
        else:
            part = _part(suffix or op_type)
            name = f"{self.name}/{part}"
            i = 2
            while name in made:
                name = f"{self.name}/{part}_{i}"
                i += 1
        made.add(name)
        return name

    def add_initializer(self, op: Any) -> None:
        """Register an op to run once before the first step (e.g. a Variable's Assign)."""
        self.page.built.init_ops.append(op)


@paused_gc
def build(page: Page, analysis: Analysis | None = None, allow_io: bool = False, device: str = "",
          skip: Collection[str] = ()) -> BuiltGraph:
    """Build ``page`` into a new tf.Graph; problems come back in ``BuiltGraph.errors``.

    Blocks in ``skip`` (e.g. placed on a cluster task that is down; the caller reports why) are left out,
    with everything downstream of them.
    """
    tf = load()
    an = analysis or analyse(page, allow_io=allow_io)
    graph = tf.Graph()
    built = BuiltGraph(graph=graph, analysis=an, errors=list(an.errors))
    scope = PageScope(graph, built, device or an.plan.device)
    scope.folder, scope.allow_io = getattr(page, "folder", None) or getattr(an.page, "folder", None), allow_io
    data_dir = an.page.extra.get("data_dir")
    scope.data_dir = data_dir if isinstance(data_dir, str) and data_dir.strip() else None
    blocks = _PageBuild(an.page, an, scope, set(an.bad) | set(skip), tf.Operation)
    with graph.as_default():
        blocks.build(an.order())
    for alias, inner in an.aliases.items():
        if inner in built.tensors:
            built.tensors[alias] = built.tensors[inner]
            built.aliases[alias] = inner
    return built


class _DeclInfo(NamedTuple):
    """What the builder reads of a declaration once per build (``_PageBuild.info``)."""

    #: its list inputs (wired as lists of tensors)
    list_ports: frozenset[str]
    #: its op type when it builds through ``build_op`` alone (an ``OpBlock``), else None
    plain_op: str | None
    #: its fed output (``Block.fed_output``)
    fed_output: tuple[str, str] | None
    #: its inputs' names when they are all single (``plain_inputs``) and it is a plain op, else None
    single_inputs: tuple[str, ...] | None


#: the attrs or values of a block that has none
_NONE: dict[str, Any] = {}


class _PageBuild:
    """One build in progress: what the blocks of a page share while they are built in dependency order (the
    graph, the tensors made so far, the failed blocks, the op plans of blocks built before)."""

    __slots__ = ("an", "built", "scope", "graph", "create", "name_for", "done", "dev", "devices", "failed", "preds",
                 "infos", "memo", "tensors", "operations", "Operation", "loops")

    def __init__(self, page: Page, an: Analysis, scope: PageScope, failed: set[str], operation_type: type) -> None:
        self.an = an
        self.scope = scope
        self.built = built = scope.built
        self.graph = graph = scope.graph
        self.create = graph._create_op_internal
        self.name_for = scope.op_name_for
        #: records a block built (``BuiltGraph.built``)
        self.done = built.built.append
        self.dev = scope.device
        #: block -> its own device, for the blocks that name one
        self.devices = {b.id: b.device for b in page if b.device}
        #: blocks that failed (or were skipped), and the blocks found downstream of them
        self.failed = failed
        #: the block graph's predecessors, read only when a block has failed
        self.preds: Any = None
        self.infos: dict[Any, _DeclInfo] = {}
        self.memo = scope.op_memo
        self.tensors = built.tensors
        self.operations = built.operations
        self.Operation = operation_type
        #: the inputs of loops' Merges wired after their NextIteration is built: (merge block, input, source)
        self.loops: list[tuple[str, int, tuple[str, str]]] = []

    def build(self, order: list[str]) -> None:
        """Build the blocks of ``order`` (dependency order) in turn, recording their outputs in the BuiltGraph; a
        block that fails, or that is downstream of one that did, records its error (if any) and builds nothing."""
        an = self.an
        decls, inputs, attrs = an.decls, an.inputs, an.attrs
        session_id = an.plan.block
        failed, infos, controls, baked = self.failed, self.infos, an.controls, an.baked
        for bid in order:
            if bid == session_id or bid not in decls or (failed and self.after_failure(bid)):
                continue
            decl = decls[bid]
            info = infos.get(decl)
            if info is None:
                info = self.info(decl)
            ins = inputs[bid]
            if controls and bid in controls:
                self.ordered(bid, decl, info, ins, controls[bid])
                continue
            if baked and bid in baked:  # a value a shape input reads: a Const in the graph (``Analysis.baked``)
                self.block(bid, decl, info, ins)
                continue
            single = info.single_inputs
            if single is not None and len(ins) == len(single) and not attrs.get(bid) \
                    and self.quick(bid, decl, info.plain_op, single, ins):
                continue
            self.block(bid, decl, info, ins)
        if self.loops:
            self.close_loops()

    def close_loops(self) -> None:
        """Give each loop's Merge its NextIteration input once that is built, as TensorFlow's own importer does
        (``_update_input``): the Merge was made before the loop's body, its first input standing in for that one.
        A Merge whose NextIteration failed fails too; one whose NextIteration is not built yet stays waiting (a
        build of some blocks only: ``shape_check``)."""
        waiting = []
        for bid, index, key in self.loops:
            merged, t = self.tensors.get((bid, "output")), self.tensors.get(key)
            if merged is None or bid in self.failed:
                continue
            if t is None and key[0] not in self.failed:
                waiting.append((bid, index, key))
            elif t is None or t.__class__ is list:
                self.built.errors.append(BuildError(bid, "inputs", f"'{key[0]}.{key[1]}' gives no tensor to close "
                                                                   "the loop with"))
                self.failed.add(bid)
            else:
                merged.op._update_input(index, t)
        self.loops = waiting

    def ordered(self, bid: str, decl: Any, info: _DeclInfo, ins: dict[str, list[Any]], sources: list[str]) -> None:
        """Build block ``bid``, which control links order after the blocks ``sources``: each of its ops gets their
        ops as control inputs (TensorFlow's ``^a``), so that it runs after them in every step."""
        ops: list[Any] = []
        for src in sources:
            found = self.ops_of(src)
            if not found:
                self.built.errors.append(BuildError(bid, "^", f"the control link from '{src}' orders nothing: "
                                                              f"'{src}' makes no op to run first"))
                self.failed.add(bid)
                return
            ops.extend(found)
        with self.graph.control_dependencies(ops):
            self.block(bid, decl, info, ins)  # a value ordered after an op is a Const in the graph

    def ops_of(self, bid: str) -> list[Any]:
        """The ops behind the outputs of block ``bid`` built so far (what running the block runs)."""
        an = self.an
        decl = an.decls.get(bid)
        if decl is None:
            return []
        ops: dict[str, Any] = {}
        for port in decl.output_names(an.attrs.get(bid)):
            got = self.operations.get((bid, port))
            if got is None:
                got = self.tensors.get((bid, port))
            for x in got if isinstance(got, list) else [got]:
                op = getattr(x, "op", x)
                if op is not None:
                    ops[op.name] = op
        return list(ops.values())

    def after_failure(self, bid: str) -> bool:
        """Whether block ``bid`` failed or was skipped, or is downstream of such a block (then it is marked
        failed too, so that its own successors see it)."""
        preds = self.preds
        if preds is None:
            preds = self.preds = self.an.dag.pred
        failed = self.failed
        if bid in failed or any(p in failed for p in preds[bid]):
            failed.add(bid)
            return True
        return False

    def info(self, decl: Any) -> _DeclInfo:
        """What the build reads of ``decl``, made once per declaration."""
        op_type = (decl.op_name or decl.name) if type(decl).build is OpBlock.build else None
        info = self.infos[decl] = _DeclInfo(frozenset(p.name for p in decl.inputs if p.is_list), op_type,
                                            decl.fed_output, plain_inputs(decl) if op_type is not None else None)
        return info

    def quick(self, bid: str, decl: Any, op_type: str, names: tuple[str, ...], ins: dict[str, list[Any]]) -> bool:
        """Build the most common block, an op whose inputs (``names``) are all single and wired once, with no attr
        set, from the plan of a block like it built before; returns False (nothing done) when its inputs are not
        all single tensors or no such block was built yet, True when it was built or its op failed."""
        tensors = self.tensors
        flat = []
        key = [decl, op_type]
        for pname in names:
            lns = ins.get(pname)
            if lns is None or len(lns) != 1:
                return False
            ln = lns[0]
            t = tensors.get((ln.src, ln.src_port))
            if t is None or t.__class__ is list:
                return False
            flat.append(t)
            dtype = DTYPE_NAMES.get(t.dtype)
            key.append(dtype if dtype is not None else tensor_dtype(t))
        plan = self.memo.get(tuple(key))
        if plan is None:
            return False
        self.planned(bid, op_type, flat, plan)
        return True

    def planned(self, bid: str, op_type: str, flat: list[Any], plan: tuple) -> None:
        """Build a block's op from a memoised plan (attrs, input ports, outputs) on inputs ``flat`` and record its
        outputs; on failure, the block's error."""
        protos, _, out_plan = plan
        name = self.name_for(bid)
        devices = self.devices
        device = devices.get(bid) or self.dev if devices else self.dev
        try:
            if device:
                with self.graph.device(device):
                    op = self.create(op_type, flat, name=name, attrs=protos)
            else:
                op = self.create(op_type, flat, name=name, attrs=protos)
        except Exception as e:  # noqa: BLE001 - any failure of one block is that block's error
            _failure(self.built, self.failed, bid, e)
            return
        outs = op.outputs
        tensors = self.tensors
        for port_name, i in out_plan:
            if i is None:
                self.operations[(bid, port_name)] = op
            else:
                tensors[(bid, port_name)] = outs[i]
        self.done(bid)

    def block(self, bid: str, decl: Any, info: _DeclInfo, ins: dict[str, list[Any]]) -> None:
        """Build a block the quick path did not: wire its inputs, then make its op from the plan of a block like
        it (same type, attrs and wired dtypes), or its fed value's placeholder (a Const block), or call its
        ``build``."""
        wired = self.wire(bid, ins, info.list_ports) if ins else {}
        if wired is None:
            return
        plain_op = info.plain_op
        if plain_op is not None:
            an = self.an
            key = memo_key(decl, plain_op, wired, an.attrs.get(bid) or _NONE, an.values.get(bid) or _NONE)
            plan = self.memo.get(key) if key is not None else None
            if plan is not None:
                self.planned(bid, plain_op, flat_inputs(plan[1], wired), plan)
                return
        if info.fed_output is not None and self.fed(bid, info.fed_output):
            return
        self.own_build(bid, decl, wired)

    def wire(self, bid: str, ins: dict[str, list[Any]], list_ports: frozenset[str]) -> dict[str, Any] | None:
        """The tensors (or ops) wired into ``bid``, by input: a list for a list port, else the one tensor; None,
        with the block's error recorded, when a link's source gave nothing to wire."""
        tensors, operations = self.tensors, self.operations
        wired: dict[str, Any] = {}
        for pname, lns in ins.items():
            ts = []
            for ln in lns:
                key = (ln.src, ln.src_port)
                t = tensors.get(key)
                if t is None:
                    t = operations.get(key)
                if t is None and pname in list_ports and self.later(bid, ln.src):
                    self.loops.append((bid, len(ts), key))
                    ts.append(None)  # stands for the loop's NextIteration, built later (``close_loops``)
                    continue
                if t is None:
                    message = f"'{ln.src}.{ln.src_port}' gives no tensor to wire"
                    self.built.errors.append(BuildError(bid, pname, message))
                    self.failed.add(bid)
                    return None
                if isinstance(t, list):
                    ts.extend(t)  # a list output (InputList) passes its tensors in order
                else:
                    ts.append(t)
            if None in ts:
                stand = next((t for t in ts if t is not None), None)
                if stand is None:
                    self.built.errors.append(BuildError(bid, pname, "a loop's Merge needs an input from outside "
                                                                    "the loop (an Enter) besides its NextIteration"))
                    self.failed.add(bid)
                    return None
                ts = [stand if t is None else t for t in ts]
            wired[pname] = ts if pname in list_ports else ts[0]
        return wired

    def later(self, bid: str, src: str) -> bool:
        """Whether ``src`` is a loop's NextIteration wired into ``bid``, a Merge, built after it (a back edge)."""
        decls = self.an.decls
        sd, dd = decls.get(src), decls.get(bid)
        return sd is not None and dd is not None and sd.name == "NextIteration" and dd.name == "Merge" \
            and src not in self.failed

    def fed(self, bid: str, fed_output: tuple[str, str]) -> bool:
        """Make the output of a block whose output is its pin value fed (a Const): its placeholder, without a
        BlockScope; returns False (nothing done) when the pin has no value, True when made or failed."""
        out_port, pin = fed_output
        arr = (self.an.values.get(bid) or _NONE).get(pin)
        if arr is None:
            return False
        dt = "string" if arr.dtype.kind == "O" else np_name(arr.dtype)
        scope = self.scope
        name = f"{scope.op_name_for(bid)}/{_part(pin)}"
        devices = self.devices
        device = devices.get(bid) or self.dev if devices else self.dev
        try:
            if device:
                with self.graph.device(device):
                    t = scope.fed_placeholder(bid, name, pin, dt, list(arr.shape))
            else:
                t = scope.fed_placeholder(bid, name, pin, dt, list(arr.shape))
        except Exception as e:  # noqa: BLE001 - any failure of one block is that block's error
            _failure(self.built, self.failed, bid, e)
            return True
        self.tensors[(bid, out_port)] = t
        self.done(bid)
        return True

    def own_build(self, bid: str, decl: Any, wired: dict[str, Any]) -> None:
        """Build a block by its declaration's ``build`` and record its outputs (ops apart from tensors); a
        BuildFailure becomes the block's error naming its port and what is wired there, any other exception the
        block's error with TensorFlow's message."""
        an = self.an
        bscope = BlockScope(self.scope, bid, an.attrs.get(bid, {}), an.values.get(bid, {}))
        devices = self.devices
        device = devices.get(bid) or self.dev if devices else self.dev
        try:
            if device:
                with self.graph.device(device):
                    outs = decl.build(bscope, **wired)
            else:
                outs = decl.build(bscope, **wired)
            if isinstance(outs, (tuple, list)):
                outs = dict(zip(decl.output_names(bscope.attrs), outs))
        except BuildFailure as e:
            port = e.port
            msg = e.message
            if port and port in an.inputs[bid]:
                srcs = ", ".join(f"'{x.src}.{x.src_port}'" for x in an.inputs[bid][port])
                msg += f" (wired from {srcs})"
            fix = None
            if e.fix and port and len(an.inputs[bid].get(port, ())) == 1:  # one wire to cast: the editor offers it
                fix = {**e.fix, "block": bid, "port": port}
            self.built.errors.append(BuildError(bid, port, msg, fix=fix))
            self.failed.add(bid)
            return
        except Exception as e:  # noqa: BLE001 - any failure of one block is that block's error
            _failure(self.built, self.failed, bid, e)
            return
        if outs:
            operation_type = self.Operation
            for port_name, t in outs.items():
                if isinstance(t, operation_type):
                    self.operations[(bid, port_name)] = t
                else:
                    self.tensors[(bid, port_name)] = t
        self.done(bid)


def _failure(built: BuiltGraph, failed: set[str], bid: str, e: Exception) -> None:
    """Record that block ``bid`` failed to build with ``e`` (TensorFlow's message, cleaned)."""
    built.errors.append(BuildError(bid, None, clean_message(str(getattr(e, "message", e)))))
    failed.add(bid)


_NOISE = (
    re.compile(r"^Graph execution error:\s*$"),
    re.compile(r"^Detected at node .*"),
    re.compile(r"^\s*File \".*"),
    re.compile(r"^\s*\[\[\{\{node .*\}\}\]\]\s*$"),
    re.compile(r"^Node: '.*'$"),
)


def clean_message(text: str) -> str:
    """TensorFlow's message without Python stack lines and node markers; the core sentence kept."""
    lines = []
    skipping_stack = False
    for line in str(text).splitlines():
        if line.startswith(("Detected at node", "Detected unsupported operations")):
            skipping_stack = True
            continue
        if skipping_stack and (line.startswith("  ") or line.strip() == ""):
            continue
        skipping_stack = False
        if any(p.match(line) for p in _NOISE):
            continue
        if line.strip():
            lines.append(line.strip())
    msg = " ".join(lines) if lines else str(text).strip()
    msg = re.sub(r"\s*\[\[\{\{node [^}]*\}\}\]\]", "", msg)
    msg = re.sub(r"for '\{\{node ([^}]*)\}\} = [^']*'", r"for node '\1'", msg)
    return msg.strip()
