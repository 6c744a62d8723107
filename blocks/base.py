"""Block declarations and the registry of block types.

A block type is a declaration made of data: its input ports, output ports, attrs (settings shown as
pins) and documentation. The editor, the builder, the catalogue and the file formats all read the same
declaration. Hand-declared blocks (``blocks/core.py``, ``blocks/sparse_ops.py``) and blocks generated from
TensorFlow's OpDefs (``blocks/catalogue.py``) share this one shape; hand-declared ones win a name clash.

This module imports neither TensorFlow nor anything of ``app/``: a block's ``build`` method receives a
scope that carries the graph, and only blocks that build import TensorFlow (lazily, through
``blocks.tf``).
"""

from __future__ import annotations

import difflib
import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Port:
    """One input or output of a block.

    ``dtype`` is a concrete dtype name (``"int64"``), the name of a type attr that wiring decides
    (``"T"``), or ``None`` (anything). ``list_of`` marks a port that takes or gives several tensors:
    ``"number"`` (all of one dtype, count in ``number_attr``), ``"type_list"`` (dtypes in
    ``type_list_attr``) or ``"any"`` (hand-declared list ports such as ``ClientSession.fetch_outputs``).
    ``kind`` is ``"tensor"``, ``"ref"``, ``"resource"``, ``"variant"`` or ``"operation"``.
    """

    name: str
    dtype: str | None = None
    rank: int | None = None
    doc: str = ""
    list_of: str | None = None
    number_attr: str | None = None
    type_list_attr: str | None = None
    kind: str = "tensor"
    optional: bool = False
    allowed: tuple[str, ...] | None = None  # allowed dtypes when ``dtype`` names a type attr

    @property
    def is_list(self) -> bool:
        return self.list_of is not None


@dataclass(frozen=True)
class Attr:
    """A setting of a block shown as a pin: an OpDef attr, or a hand-declared value pin.

    ``type`` follows OpDef attr types: ``int``, ``float``, ``bool``, ``string``, ``type``, ``shape``,
    ``tensor``, ``func`` and ``list(...)`` of those; hand-declared blocks also use ``value`` (a tensor
    literal that is fed at run time, never baked into the graph).
    ``inferred`` marks type attrs that wiring decides; the user is not asked for them.
    """

    name: str
    type: str
    default: Any = None
    has_default: bool = False
    allowed: tuple[Any, ...] | None = None
    minimum: int | None = None
    doc: str = ""
    inferred: bool = False
    #: for ``value`` pins: the pins that give the value's dtype and shape (e.g. Const's dtype, shape)
    dtype_pin: str | None = None
    shape_pin: str | None = None
    #: the pin must be set (no default, not inferred)
    required: bool = False


class BuildFailure(Exception):
    """Raised by ``Block.build`` for a problem the user can fix; names the port when it can."""

    def __init__(self, message: str, port: str | None = None, fix: dict | None = None):
        super().__init__(message)
        self.message = message
        self.port = port
        #: a fix the editor may offer (``{"cast": "float32"}``: a Cast of what is wired into ``port`` to that dtype)
        self.fix = fix


class Block:
    """The declaration of a block type, and how it builds its TensorFlow op.

    Subclasses set the class attributes; generated blocks set the same names on the instance.
    ``build(scope, **inputs)`` receives one tensor per wired single input, a list per list input
    and ``None`` for an unwired optional input; it returns a dict {output port: tensor} or a tuple in
    ``outputs`` order. ``scope.attrs`` holds the block's parsed attrs.
    """

    name: str = ""
    category: str = "core"
    doc: str = ""
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    attrs: tuple[Attr, ...] = ()
    #: pins whose values are fed at run time (editing them never rebuilds the graph)
    value_pins: tuple[str, ...] = ()
    #: (output, pin) of a block whose build is just that output = the pin's value fed as it is
    #: (``scope.value(pin)``); the builder then makes its placeholder without calling ``build``
    fed_output: tuple[str, str] | None = None
    #: "io": reads or writes files or acts on the process; runs only when allowed
    io: bool = False
    #: a reason this block cannot run here (deprecated op, no CPU kernel), or ""
    unavailable: str = ""
    #: may crash or hang the process it runs in (Abort, ParseExample, ...)
    dangerous: bool = False
    #: kept from an imported page, builds nothing; a run skips it with a warning
    inert: bool = False
    #: where the block comes from: "hand" or "opdef"
    origin: str = "hand"
    op_name: str | None = None

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if "doc" not in cls.__dict__ and cls.__doc__:
            import inspect

            cls.doc = inspect.cleandoc(cls.__doc__)

    # -- declaration queries ------------------------------------------------------------------
    @property
    def summary(self) -> str:
        text = (self.doc or "").strip()
        return text.splitlines()[0].strip() if text else ""

    def input(self, name: str) -> Port | None:
        return self.input_map().get(name)

    def input_map(self) -> dict[str, Port]:
        """The block's input ports by name (made once per declaration)."""
        cached = self.__dict__.get("_input_map")
        if cached is None or cached[0] is not self.inputs:
            cached = (self.inputs, {p.name: p for p in self.inputs})
            self.__dict__["_input_map"] = cached
        return cached[1]

    def attr(self, name: str) -> Attr | None:
        for a in self.attrs:
            if a.name == name:
                return a
        return None

    def output_names(self, attrs: dict[str, Any] | None = None) -> list[str]:
        """The output port names of an instance; list outputs are numbered ``name[i]``.

        The count of a list output comes from its number attr (or type-list attr) in ``attrs``.
        """
        names: list[str] = []
        attrs = attrs or {}
        for p in self.outputs:
            if p.is_list:
                n = list_length(p, attrs)
                names.extend(f"{p.name}[{i}]" for i in range(n))
            else:
                names.append(p.name)
        return names

    def single_outputs(self) -> frozenset[str]:
        """Names of the outputs that are one tensor or op (not a list), made once per declaration."""
        cached = self.__dict__.get("_single_outputs")
        if cached is None or cached[0] is not self.outputs:
            cached = (self.outputs, frozenset(p.name for p in self.outputs if not p.is_list))
            self.__dict__["_single_outputs"] = cached
        return cached[1]

    def has_output(self, port: str, attrs: dict[str, Any] | None = None) -> bool:
        base, index = split_indexed(port)
        for p in self.outputs:
            if p.name == base:
                if p.is_list:
                    if index is None:
                        return False
                    n = list_length(p, attrs or {}, unknown=-1)
                    return n < 0 or index < n
                return index is None
        return False

    def attr_map(self) -> dict[str, Attr]:
        """The block's attrs by name (made once per declaration; the builder asks for it on every block)."""
        cached = self.__dict__.get("_attr_map")
        if cached is None or cached[0] is not self.attrs:
            cached = (self.attrs, {a.name: a for a in self.attrs})
            self.__dict__["_attr_map"] = cached
        return cached[1]

    def build(self, scope: Any, **inputs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description of the declaration (for ``enuflow blocks --json`` and the palette)."""
        return {
            "name": self.name,
            "category": self.category,
            "summary": self.summary,
            "origin": self.origin,
            "io": self.io,
            "dangerous": self.dangerous,
            "unavailable": self.unavailable,
            "inputs": [port_json(p) for p in self.inputs],
            "outputs": [port_json(p) for p in self.outputs],
            "attrs": [attr_json(a) for a in self.attrs],
        }


def port_json(p: Port) -> dict[str, Any]:
    d: dict[str, Any] = {"name": p.name, "dtype": p.dtype, "kind": p.kind}
    if p.rank is not None:
        d["rank"] = p.rank
    if p.is_list:
        d["list"] = p.list_of
        if p.number_attr:
            d["number_attr"] = p.number_attr
        if p.type_list_attr:
            d["type_list_attr"] = p.type_list_attr
    if p.optional:
        d["optional"] = True
    if p.allowed:
        d["allowed"] = list(p.allowed)
    if p.doc:
        d["doc"] = p.doc
    return d


def attr_json(a: Attr) -> dict[str, Any]:
    d: dict[str, Any] = {"name": a.name, "type": a.type}
    if a.has_default:
        d["default"] = a.default
    if a.allowed is not None:
        d["allowed"] = list(a.allowed)
    if a.minimum is not None:
        d["minimum"] = a.minimum
    if a.inferred:
        d["inferred"] = True
    if a.doc:
        d["doc"] = a.doc
    return d


def split_indexed(port: str) -> tuple[str, int | None]:
    """``"output[2]"`` -> ("output", 2); ``"output"`` -> ("output", None)."""
    if port.endswith("]") and "[" in port:
        base, _, rest = port.partition("[")
        num = rest[:-1]
        if num.isdigit():
            return base, int(num)
    return port, None


def list_length(p: Port, attrs: dict[str, Any], unknown: int = 0) -> int:
    """How many tensors a list port holds, from its number or type-list attr (``unknown`` if unset)."""
    if p.number_attr:
        v = attrs.get(p.number_attr)
        return int(v) if isinstance(v, int) and not isinstance(v, bool) else unknown
    if p.type_list_attr:
        v = attrs.get(p.type_list_attr)
        return len(v) if isinstance(v, (list, tuple)) else unknown
    return unknown


# -- the registry -----------------------------------------------------------------------------

@dataclass
class Registry:
    """Block types by name: hand-declared ones first, then the generated catalogue (loaded lazily).

    ``generated`` is a callable returning {name: Block} for the whole catalogue; it is called the first
    time a name is not found among the hand-declared blocks (it needs TensorFlow).
    """

    hand: dict[str, Block] = field(default_factory=dict)
    generated_loader: Callable[[], dict[str, Block]] | None = None
    _generated: dict[str, Block] | None = None

    def register(self, block: Block) -> Block:
        self.hand[block.name] = block
        return block

    def generated(self) -> dict[str, Block]:
        if self._generated is None:
            self._generated = self.generated_loader() if self.generated_loader else {}
            gc.freeze()  # the catalogue lives as long as the process: the cyclic collector need not walk it again
        return self._generated

    def get(self, name: str) -> Block | None:
        b = self.hand.get(name)
        if b is not None:
            return b
        return self.generated().get(name)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def names(self) -> list[str]:
        return sorted(set(self.hand) | set(self.generated()))

    def all(self) -> Iterable[Block]:
        seen = dict(self.generated())
        seen.update(self.hand)
        return [seen[k] for k in sorted(seen)]

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """The closest known block names to ``name`` (case-insensitive first, then by similarity)."""
        names = self.names()
        lower = {k.lower(): k for k in names}
        if name.lower() in lower:
            return [lower[name.lower()]]
        close = difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.6)
        return [lower[c] for c in close]


REGISTRY = Registry()


def register(cls: type[Block]) -> type[Block]:
    """Class decorator: register one instance of a hand-declared block type."""
    REGISTRY.register(cls())
    return cls
