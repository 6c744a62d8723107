"""The generic op block: a Block declared from a TensorFlow OpDef, and how any op is built.

``declare(op_def, input_names)`` turns one OpDef into the declaration hand-written blocks use: ports
in OpDef order named as ``tf.raw_ops`` names them, attrs with defaults, allowed values and minimums,
and the type and length attrs that wiring decides marked ``inferred``. ``build_op`` is the one place
that creates a TensorFlow op from wired tensors, pin values and attrs; hand-declared blocks that wrap
a single op call it too.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from enuflow.blocks.base import Attr, Block, BuildFailure, Port
from enuflow.blocks.tf import attr_value, load


def dtype_name(enum: int) -> str:
    return load().as_dtype(enum).name


def _attr_default(av: Any, attr_type: str) -> Any:
    """A Python value for an OpDef attr default (AttrValue proto)."""
    which = av.WhichOneof("value")
    if which is None:
        return None
    if which == "list":
        lst = av.list
        if attr_type == "list(int)":
            return list(lst.i)
        if attr_type == "list(float)":
            return list(lst.f)
        if attr_type == "list(bool)":
            return list(lst.b)
        if attr_type == "list(string)":
            return [s.decode("utf-8", "replace") for s in lst.s]
        if attr_type == "list(type)":
            return [dtype_name(t) for t in lst.type]
        if attr_type == "list(shape)":
            return [_shape(s) for s in lst.shape]
        return []
    if which == "i":
        return int(av.i)
    if which == "f":
        return float(av.f)
    if which == "b":
        return bool(av.b)
    if which == "s":
        return av.s.decode("utf-8", "replace")
    if which == "type":
        return dtype_name(av.type)
    if which == "shape":
        return _shape(av.shape)
    if which == "tensor":
        return "<tensor>"
    if which == "func":
        return av.func.name
    return None


def _shape(proto: Any) -> list[int] | None:
    if proto.unknown_rank:
        return None
    return [int(d.size) for d in proto.dim]


def declare(op_def: Any, input_names: list[str] | None = None) -> tuple[tuple[Port, ...], tuple[Port, ...],
                                                                          tuple[Attr, ...]]:
    """Ports and attrs of a block from an OpDef. ``input_names`` renames inputs by position."""
    inferred: set[str] = set()
    for arg in op_def.input_arg:
        if arg.type_attr:
            inferred.add(arg.type_attr)
        if arg.number_attr:
            inferred.add(arg.number_attr)
        if arg.type_list_attr:
            inferred.add(arg.type_list_attr)
    allowed_types: dict[str, tuple[str, ...]] = {}
    attrs: list[Attr] = []
    for a in op_def.attr:
        allowed = None
        if a.HasField("allowed_values"):
            lst = a.allowed_values.list
            if a.type in ("type", "list(type)"):
                allowed = tuple(dtype_name(t) for t in lst.type)
                allowed_types[a.name] = allowed
            elif lst.s:
                allowed = tuple(s.decode() for s in lst.s)
        has_default = a.HasField("default_value")
        attrs.append(Attr(
            name=a.name, type=a.type,
            default=_attr_default(a.default_value, a.type) if has_default else None,
            has_default=has_default, allowed=allowed,
            minimum=int(a.minimum) if a.has_minimum else None,
            doc=a.description, inferred=a.name in inferred,
            required=not has_default and a.name not in inferred,
        ))

    def port(arg: Any, name: str, is_input: bool) -> Port:
        kind = "ref" if arg.is_ref else "tensor"
        if arg.type_attr:
            dtype = arg.type_attr
        elif arg.type_list_attr:
            dtype = None
        else:
            dtype = dtype_name(arg.type)
            if dtype in ("resource", "variant"):
                kind = dtype
        list_of = "number" if arg.number_attr else "type_list" if arg.type_list_attr else None
        return Port(name=name, dtype=dtype, doc=arg.description, list_of=list_of,
                    number_attr=arg.number_attr or None, type_list_attr=arg.type_list_attr or None,
                    kind=kind, allowed=allowed_types.get(arg.type_attr) if arg.type_attr else None)

    names = list(input_names or [])
    ins = tuple(port(arg, names[i] if i < len(names) else arg.name, True)
                for i, arg in enumerate(op_def.input_arg))
    outs = tuple(port(arg, arg.name, False) for arg in op_def.output_arg)
    if not outs:
        outs = (Port("operation", kind="operation", doc="the op itself, to wire into ClientSession.run_outputs"),)
    return ins, outs, tuple(attrs)


class OpBlock(Block):
    """A block for one TensorFlow op, declared from its OpDef."""

    origin = "opdef"

    def __init__(self, op_def: Any, input_names: list[str] | None = None, doc: str = "",
                 category: str = "other") -> None:
        self.name = op_def.name
        self.op_name = op_def.name
        self.category = category
        self.doc = doc
        self.inputs, self.outputs, self.attrs = declare(op_def, input_names)
        self.deprecation = op_def.deprecation.explanation if op_def.HasField("deprecation") else ""
        self.deprecated_version = op_def.deprecation.version if op_def.HasField("deprecation") else 0
        self.stateful = bool(op_def.is_stateful)

    @classmethod
    def from_declaration(cls, name: str, inputs: tuple[Port, ...], outputs: tuple[Port, ...],
                         attrs: tuple[Attr, ...], **fields: Any) -> OpBlock:
        """An OpBlock from an already derived declaration (the catalogue cache); needs no OpDef.

        ``fields`` sets the other declaration fields (``doc``, ``category``, ``io``, ``dangerous``,
        ``unavailable``, ``deprecation``, ``deprecated_version``, ``stateful``, ``op_name``).
        """
        self = cls.__new__(cls)
        self.name = name
        self.op_name = fields.pop("op_name", None) or name
        self.inputs, self.outputs, self.attrs = tuple(inputs), tuple(outputs), tuple(attrs)
        self.deprecation = ""
        self.deprecated_version = 0
        self.stateful = False
        for key, value in fields.items():
            setattr(self, key, value)
        return self

    def build(self, scope: Any, **inputs: Any) -> dict[str, Any]:
        return build_op(scope, self, inputs)


# -- building any op ------------------------------------------------------------------------

#: DType -> the name of its base dtype (``tensor_dtype``'s memo; the builder's quick path reads it directly)
DTYPE_NAMES: dict[Any, str] = {}


def tensor_dtype(t: Any) -> str:
    """The dtype name of a tensor without ``_ref`` (memoised per DType: the property chain is slow)."""
    dt = t.dtype
    name = DTYPE_NAMES.get(dt)
    if name is None:
        name = DTYPE_NAMES[dt] = dt.base_dtype.name
    return name


def build_op(scope: Any, block: Block, inputs: dict[str, Any], op_type: str | None = None) -> dict[str, Any]:
    """Create the op of ``block`` in ``scope``'s graph; returns {output port: tensor or op}.

    ``inputs`` holds wired tensors (lists for list ports); unwired inputs take the block's pin value
    (fed at run time through ``scope.value``). Type attrs are inferred from what is wired; a clash
    raises BuildFailure naming the port.
    """
    op_type = op_type or block.op_name or block.name
    try:
        memo = scope.op_memo
    except AttributeError:  # a scope without a memo (the builder's has one)
        memo = None
    key = memo_key(block, op_type, inputs, scope.attrs, scope.values) if memo is not None else None
    if key is not None:
        plan = memo.get(key)
        if plan is not None:  # a block like one built before: same type, attrs and wired dtypes
            protos, flat_ports, out_plan = plan
            op = scope.create_op(op_type, flat_inputs(flat_ports, inputs), protos)
            outputs = op.outputs
            return {name: op if i is None else outputs[i] for name, i in out_plan}
    attrs = _OpAttrs(block, op_type, scope.attrs)
    attrs.from_wired(inputs)
    flat = _op_inputs(scope, block, inputs, attrs)
    attrs.check()
    protos = attrs.protos()
    op = scope.create_op(op_type, flat, protos)
    outs = op_outputs(block, op)
    if key is not None:
        ports = [(p.name, isinstance(inputs[p.name], (list, tuple))) for p in block.inputs
                 if inputs.get(p.name) is not None]
        memo[key] = (protos, ports, [(name, None if t is op else t.value_index) for name, t in outs.items()])
    return outs


class _OpAttrs:
    """The attrs of one op being built (``build_op``): those set on its block, and the type and length attrs its
    inputs decide, each checked against what decided it before."""

    __slots__ = ("block", "op_type", "decl", "values", "decided")

    def __init__(self, block: Block, op_type: str, set_attrs: dict[str, Any]) -> None:
        self.block = block
        self.op_type = op_type
        self.decl = decl = block.attr_map()
        #: attr -> value: the block's own, then what its inputs decide
        self.values: dict[str, Any] = {k: v for k, v in set_attrs.items() if k in decl}
        #: type attr -> (dtype, port that decided it)
        self.decided: dict[str, tuple[str, str]] = {}

    def settle(self, port: Port, dt: str, t: Any = None) -> None:
        """Input ``port`` gets a tensor of dtype ``dt`` (``t``, when its rank is checked): set the type attr it
        decides; raises BuildFailure naming the port on a wrong rank, a dtype clash or a dtype not allowed."""
        if port.rank is not None and t is not None:
            rank = t.shape.rank
            if rank is not None and rank != port.rank:
                raise BuildFailure(f"input '{port.name}' needs rank {port.rank}, but gets rank {rank} "
                                   f"(shape {t.shape.as_list()})", port.name)
        if port.dtype is None:
            return
        if port.dtype in self.decl:
            name = port.dtype
            have = self.values.get(name)
            if have is not None and have != dt:
                who = self.decided.get(name, (have, None))[1]
                by = f" (set by input '{who}')" if who else f" (attr {name} is {have})"
                raise BuildFailure(f"input '{port.name}' gets {dt}, but {name} is {have}{by}", port.name,
                                   fix={"cast": have})
            if port.allowed and dt not in port.allowed:
                raise BuildFailure(f"input '{port.name}' gets {dt}; {self.op_type} accepts "
                                   f"{', '.join(port.allowed)}", port.name)
            self.values[name] = dt
            self.decided.setdefault(name, (dt, port.name))
        elif dt != port.dtype:
            raise BuildFailure(f"input '{port.name}' needs {port.dtype}, but gets {dt}", port.name,
                               fix={"cast": port.dtype})

    def from_wired(self, inputs: dict[str, Any]) -> None:
        """Let the wired inputs decide the type and length attrs (pass 1: before any pin value is fed, so that
        values are fed in the types the wiring decided); raises BuildFailure as ``settle``."""
        values = self.values
        for port in self.block.inputs:
            v = inputs.get(port.name)
            if v is None:
                continue
            if port.list_of == "number":
                for t in v:
                    self.settle(port, tensor_dtype(t))
                values[port.number_attr] = len(v)
            elif port.list_of == "type_list":
                values[port.type_list_attr] = [tensor_dtype(t) for t in v]
            elif port.list_of == "any":
                pass
            else:
                self.settle(port, tensor_dtype(v), v)

    def check(self) -> None:
        """Raise BuildFailure naming the attr that is missing (an inferred attr nothing decided), not among its
        allowed values, or below its minimum."""
        for a in self.block.attrs:
            v = self.values.get(a.name)
            if v is None:
                if a.inferred and not a.has_default:
                    raise BuildFailure(f"cannot tell {a.name} from what is wired; wire the inputs that decide it "
                                       f"or set the pin '{a.name}'", a.name)
                continue
            if a.allowed is not None and a.type in ("type", "string") and v not in a.allowed:
                raise BuildFailure(f"{a.name} = {v!r} is not allowed; choose one of "
                                   f"{', '.join(map(str, a.allowed))}", a.name)
            if a.minimum is not None and a.type == "int" and v < a.minimum:
                raise BuildFailure(f"{a.name} = {v} is below its minimum {a.minimum}", a.name)

    def protos(self) -> dict[str, Any]:
        """The attrs set (not None) as AttrValue protos; raises BuildFailure naming an attr whose value its type
        cannot hold."""
        protos = {}
        decl = self.decl
        for k, v in self.values.items():
            if v is None:
                continue
            try:
                protos[k] = attr_value(v, decl[k].type)
            except (TypeError, ValueError) as e:
                raise BuildFailure(f"attr {k}: {e}", k) from None
        return protos


def _op_inputs(scope: Any, block: Block, inputs: dict[str, Any], attrs: _OpAttrs) -> list[Any]:
    """All the op's inputs in port order (pass 2): the wired tensors, and for each unwired input its pin value fed
    in the type the wiring decided (its attrs then settled by it); raises BuildFailure naming an input that is
    neither wired nor has a value (and is not optional), or as ``_OpAttrs.settle``."""
    flat: list[Any] = []
    values = attrs.values
    for port in block.inputs:
        v = inputs.get(port.name)
        if v is not None:
            if isinstance(v, (list, tuple)):
                flat.extend(v)
            else:
                flat.append(v)
            continue
        if not scope.has_value(port.name):
            if port.optional:
                continue
            raise BuildFailure(f"input '{port.name}' is not wired and has no value", port.name)
        want = None
        if port.dtype is not None:
            want = values.get(port.dtype) if port.dtype in attrs.decl else port.dtype
        t = scope.value(port.name, dtype=want)
        if port.list_of == "number":
            attrs.settle(port, tensor_dtype(t))
            values[port.number_attr] = 1
        elif port.list_of == "type_list":
            values[port.type_list_attr] = [tensor_dtype(t)]
        else:
            attrs.settle(port, tensor_dtype(t), t)
        flat.append(t)
    return flat


#: per declaration (by id): its input names when every input is a single tensor without a rank check or
#: option (``plain_inputs``), else None
_PLAIN_PORTS: dict[int, tuple[Block, tuple[str, ...] | None]] = {}


def plain_inputs(block: Block) -> tuple[str, ...] | None:
    """The block's input names when every input is a single tensor without a rank check or option, else None."""
    plain = _PLAIN_PORTS.get(id(block))
    if plain is None or plain[0] is not block:
        simple = all(p.list_of is None and p.rank is None and not p.optional for p in block.inputs)
        plain = _PLAIN_PORTS[id(block)] = (block, tuple(p.name for p in block.inputs) if simple else None)
    return plain[1]


def memo_key(block: Block, op_type: str, inputs: dict[str, Any], attrs: dict[str, Any],
             values: Container[str]) -> tuple | None:
    """What decides an op's attrs, input order and outputs when every input it takes is wired: the block type,
    its parsed attrs (``attrs``), and the dtype (and rank, where a port checks it) of each wired tensor; None
    when a pin value is fed (its placeholder is made per block) or an attr value cannot be a key. ``values``
    holds the names of the block's pins that have a value."""
    key: list[Any] = [block, op_type]
    try:
        for port in block.inputs:
            v = inputs.get(port.name)
            if v is None:
                if port.optional and port.name not in values:
                    key.append(None)
                    continue
                return None
            if type(v) is list or type(v) is tuple:
                key.append(tuple(tensor_dtype(t) for t in v))
            elif port.rank is not None:
                key.append((tensor_dtype(v), v.shape.rank))
            else:
                key.append(tensor_dtype(v))
        if attrs:
            items = tuple(sorted(attrs.items()))
            hash(items)
            key.append(items)
    except Exception:  # noqa: BLE001 - an unusual input (an op wired as a tensor) takes the checked path
        return None
    return tuple(key)


def flat_inputs(flat_ports: Any, inputs: dict[str, Any]) -> list[Any]:
    """The op's inputs in port order, from a memoised plan's ``(port, is list)`` pairs."""
    flat: list[Any] = []
    for name, many in flat_ports:
        v = inputs[name]
        if many:
            flat.extend(v)
        else:
            flat.append(v)
    return flat


def op_outputs(block: Block, op: Any) -> dict[str, Any]:
    """Map an op's outputs to the block's output port names (list outputs as ``name[i]``)."""
    outs: dict[str, Any] = {}
    idx = 0
    for port in block.outputs:
        if port.kind == "operation":
            outs[port.name] = op
            continue
        if port.is_list:
            if port.number_attr:
                n = int(op.get_attr(port.number_attr))
            else:
                n = len(op.get_attr(port.type_list_attr))
            for i in range(n):
                outs[f"{port.name}[{i}]"] = op.outputs[idx]
                idx += 1
        else:
            outs[port.name] = op.outputs[idx]
            idx += 1
    return outs
