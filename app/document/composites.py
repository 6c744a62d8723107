"""Composite blocks: blocks made of blocks, as set out in ARCHITECTURE.md section 4a.

A page's ``"composites"`` object maps a name to a definition: its inner ``blocks`` and ``links`` (as on a page),
its exposed ``inputs`` (each feeding one or more inner input ports), ``outputs`` (each an inner output port) and
``pins`` (each an inner block's pin), and an optional ``doc``. A block whose ``type`` is a composite's name is an
*instance*: links to it use the exposed names, its pins set the exposed inner pins.

This module reads and checks definitions (``composites_from_doc``, raising ``PageFileError`` that names the file
and the composite), writes them back (``composite_to_doc``), and checks what needs the block types
(``check_types``, given a look-up of declarations). Files of one composite, the library folders and placing a
composite on a page are in ``app.document.composite_files``; the builder's flattening in ``app.engine.flatten``.
Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.document.page import BlockInstance, Link, Page

#: the fields of a definition this version knows (others are kept as they are)
_KNOWN = {"doc", "inputs", "outputs", "pins", "blocks", "links"}
_BLOCK_KEYS = {"id", "type", "pos", "pins", "label", "collapsed", "device"}


@dataclass
class ExposedInput:
    """An input of a composite: the inner input ports it feeds (``[(block, port), ...]``)."""

    name: str
    to: list[tuple[str, str]]


@dataclass
class ExposedOutput:
    """An output of a composite: the inner output port it gives (``(block, port)``)."""

    name: str
    src: tuple[str, str]


@dataclass
class ExposedPin:
    """A pin of a composite: an inner block's pin, set by the instance (default: the definition's value)."""

    name: str
    block: str
    pin: str


@dataclass
class Composite:
    """One composite definition."""

    name: str
    blocks: list[BlockInstance] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    inputs: list[ExposedInput] = field(default_factory=list)
    outputs: list[ExposedOutput] = field(default_factory=list)
    pins: list[ExposedPin] = field(default_factory=list)
    doc: str | None = None
    #: fields this version does not know, kept for the save
    extra: dict[str, Any] = field(default_factory=dict)

    def block(self, block_id: str) -> BlockInstance | None:
        return next((b for b in self.blocks if b.id == block_id), None)

    def input(self, name: str) -> ExposedInput | None:
        return next((p for p in self.inputs if p.name == name), None)

    def output(self, name: str) -> ExposedOutput | None:
        return next((p for p in self.outputs if p.name == name), None)

    def pin(self, name: str) -> ExposedPin | None:
        return next((p for p in self.pins if p.name == name), None)

    def pin_default(self, name: str) -> Any:
        """The definition's value of exposed pin ``name`` (None when the inner block leaves it unset)."""
        p = self.pin(name)
        b = self.block(p.block) if p is not None else None
        return None if b is None else b.pins.get(p.pin)

    def uses(self) -> set[str]:
        """The type names of its inner blocks."""
        return {b.type for b in self.blocks}

    def copy(self) -> Composite:
        return copy.deepcopy(self)


class _Where:
    """Names the file and composite in the messages of the checks."""

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self.name = name

    def fail(self, message: str) -> PageFileError:
        return PageFileError(self.path, f"composite {self.name!r}: {message}")


def _end(w: _Where, what: str, value: Any) -> tuple[str, str]:
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(x, str) and x for x in value)):
        raise w.fail(f"{what} must be [block id, port name], got {value!r}")
    return value[0], value[1]


def _name(w: _Where, what: str, item: Any, seen: set[str]) -> str:
    if not isinstance(item, dict):
        raise w.fail(f"{what} is not an object")
    name = item.get("name")
    if not isinstance(name, str) or not name or "/" in name:
        raise w.fail(f"{what} has no name (a non-empty text without '/')")
    if name in seen:
        raise w.fail(f"{what}: the name {name!r} appears twice")
    seen.add(name)
    return name


def _inner_blocks(w: _Where, blocks: Any) -> list[BlockInstance]:
    if not isinstance(blocks, list) or not blocks:
        raise w.fail("'blocks' must be a non-empty list")
    made: dict[str, BlockInstance] = {}
    for i, b in enumerate(blocks):
        if not isinstance(b, dict):
            raise w.fail(f"blocks[{i}] is not an object")
        bid, btype, pins, pos = b.get("id"), b.get("type"), b.get("pins", {}), b.get("pos", [0, 0])
        if not isinstance(bid, str) or not bid or "/" in bid:
            raise w.fail(f"blocks[{i}] has no id (a non-empty text without '/')")
        if bid in made:
            raise w.fail(f"block {bid!r} appears twice (block ids must be unique)")
        if not isinstance(btype, str) or not btype:
            raise w.fail(f"block {bid!r} has no type")
        if not isinstance(pins, dict):
            raise w.fail(f"block {bid!r} has 'pins' that is not an object")
        if (not isinstance(pos, list) or len(pos) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos)):
            raise w.fail(f"block {bid!r} has a pos that is not two numbers: {pos!r}")
        label, device = b.get("label"), b.get("device")
        collapsed = b.get("collapsed")
        made[bid] = BlockInstance(bid, btype, (float(pos[0]), float(pos[1])), dict(pins),
                                  label if isinstance(label, str) else None,
                                  collapsed if isinstance(collapsed, bool) else None,
                                  device if isinstance(device, str) else None,
                                  {k: v for k, v in b.items() if k not in _BLOCK_KEYS})
    return list(made.values())


def _inner_links(w: _Where, links: Any, ids: set[str]) -> list[Link]:
    if not isinstance(links, list):
        raise w.fail("'links' must be a list")
    made = []
    for i, ln in enumerate(links):
        if not isinstance(ln, dict):
            raise w.fail(f"links[{i}] is not an object")
        src = _end(w, f"links[{i}].from", ln.get("from"))
        dst = _end(w, f"links[{i}].to", ln.get("to"))
        for key, end in (("from", src), ("to", dst)):
            if end[0] not in ids:
                raise w.fail(f"links[{i}].{key} names block {end[0]!r}, which is not in the composite")
        made.append(Link(src[0], src[1], dst[0], dst[1]))
    return made


def _exposed(w: _Where, doc: dict[str, Any], ids: set[str]) -> tuple[list, list, list]:
    """The exposed inputs, outputs and pins of a definition, each naming an inner block that exists."""
    lists = {}
    for key in ("inputs", "outputs", "pins"):
        value = doc.get(key, [])
        if not isinstance(value, list):
            raise w.fail(f"'{key}' must be a list")
        lists[key] = value
    inputs, outputs, pins = [], [], []
    seen: set[str] = set()
    for i, item in enumerate(lists["inputs"]):
        name = _name(w, f"inputs[{i}]", item, seen)
        to = item.get("to")
        if not isinstance(to, list) or not to:
            raise w.fail(f"input {name!r} must have 'to': a list of [block id, port name]")
        ends = [_end(w, f"input {name!r}", t) for t in to]
        for bid, _port in ends:
            if bid not in ids:
                raise w.fail(f"input {name!r} feeds block {bid!r}, which is not in the composite")
        inputs.append(ExposedInput(name, ends))
    seen = set()
    for i, item in enumerate(lists["outputs"]):
        name = _name(w, f"outputs[{i}]", item, seen)
        src = _end(w, f"output {name!r}", item.get("from"))
        if src[0] not in ids:
            raise w.fail(f"output {name!r} comes from block {src[0]!r}, which is not in the composite")
        outputs.append(ExposedOutput(name, src))
    seen = {p.name for p in inputs}
    for i, item in enumerate(lists["pins"]):
        name = _name(w, f"pins[{i}]", item, seen)
        bid, pin = item.get("block"), item.get("pin")
        if not isinstance(bid, str) or bid not in ids:
            raise w.fail(f"pin {name!r} names block {bid!r}, which is not in the composite")
        if not isinstance(pin, str) or not pin:
            raise w.fail(f"pin {name!r} has no 'pin' (the inner block's pin name)")
        pins.append(ExposedPin(name, bid, pin))
    return inputs, outputs, pins


def composite_from_doc(path: str, name: Any, doc: Any) -> Composite:
    """One definition from its JSON object; raises PageFileError naming the file and the composite."""
    if not isinstance(name, str) or not name or "/" in name:
        raise PageFileError(path, f"a composite has no name (a non-empty text without '/'): {name!r}")
    w = _Where(path, name)
    if not isinstance(doc, dict):
        raise w.fail("is not an object")
    text = doc.get("doc")
    if text is not None and not isinstance(text, str):
        raise w.fail("has a 'doc' that is not text")
    blocks = _inner_blocks(w, doc.get("blocks"))
    ids = {b.id for b in blocks}
    links = _inner_links(w, doc.get("links", []), ids)
    inputs, outputs, pins = _exposed(w, doc, ids)
    extra = {k: v for k, v in doc.items() if k not in _KNOWN and k not in ("format", "version", "name")}
    return Composite(name, blocks, links, inputs, outputs, pins, text, extra)


def composites_from_doc(path: str, doc: Any) -> dict[str, Composite]:
    """A page's ``"composites"`` object read and checked (``check_structure``); raises PageFileError."""
    if not isinstance(doc, dict):
        raise PageFileError(path, "'composites' must be an object (composite name -> definition)")
    found = {name: composite_from_doc(path, name, d) for name, d in doc.items()}
    check_structure(path, found)
    return found


def _instance_pins(w: _Where, block: BlockInstance, comp: Composite) -> None:
    for pin in block.pins:
        if comp.pin(pin) is None and not pin.startswith("result_"):
            exposed = ", ".join(p.name for p in comp.pins) or "none"
            raise w.fail(f"block {block.id!r} sets pin {pin!r}, which {comp.name!r} does not expose "
                         f"(its pins: {exposed})")


def check_structure(path: str, comps: dict[str, Composite]) -> None:
    """Check what the definitions say of each other: no composite uses itself, even through others, and an inner
    instance sets only exposed pins. Raises PageFileError naming the file and the composite."""
    for name, comp in comps.items():
        w = _Where(path, name)
        for b in comp.blocks:
            inner = comps.get(b.type)
            if inner is not None:
                _instance_pins(w, b, inner)
    state: dict[str, int] = {}  # 1: being visited, 2: done

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for used in sorted(comps[name].uses()):
            if used not in comps:
                continue
            if state.get(used) == 1:
                cycle = " -> ".join(trail[trail.index(used):] + [used]) if used in trail else f"{name} -> {used}"
                raise PageFileError(path, f"composite {used!r} uses itself ({cycle}); composites may nest but "
                                          "not recurse")
            if state.get(used) is None:
                visit(used, trail + [used])
        state[name] = 2

    for name in comps:
        if state.get(name) is None:
            visit(name, [name])


def check_instances(path: str, page: Page) -> None:
    """Check the page's instances: pins they set must be exposed; raises PageFileError naming the block."""
    comps = page.composites
    if not comps:
        return
    for b in page:
        comp = comps.get(b.type)
        if comp is None:
            continue
        for pin in b.pins:
            if comp.pin(pin) is None and not pin.startswith("result_"):
                exposed = ", ".join(p.name for p in comp.pins) or "none"
                raise PageFileError(path, f"sets pin {pin!r}, which composite {comp.name!r} does not expose "
                                          f"(its pins: {exposed})", block=b.id)


#: a look-up of block declarations by type name (``blocks.base.REGISTRY.get``)
Lookup = Callable[[str], Any]


def _ports(decl: Any, comp: Composite | None) -> tuple[set[str] | None, set[str] | None, set[str] | None]:
    """(input ports, output ports, pins) of an inner block's type; None where any name may do."""
    if comp is not None:
        return ({p.name for p in comp.inputs}, {p.name for p in comp.outputs}, {p.name for p in comp.pins})
    ins = {p.name for p in decl.inputs}
    outs = None if any(p.is_list for p in decl.outputs) else {p.name for p in decl.outputs}
    pins = ins | {a.name for a in decl.attrs} | set(decl.value_pins) | {"dtype", "shape"}
    return ins, outs, pins


def _port_name(port: str) -> str:
    return port.split("[", 1)[0]  # an element of a list port (``output[1]``) names the list


def check_types(path: str, comps: dict[str, Composite], lookup: Lookup) -> None:
    """Check the definitions against the block types: every inner type is known (a block type or another composite
    of the page), and every exposed input, output and pin names a port or pin of its inner block (or its control
    port ``^``: a control link through the composite's boundary, as a folded model has). Raises
    PageFileError naming the file, composite and block."""
    for name, comp in comps.items():
        w = _Where(path, name)
        if lookup(name) is not None:
            raise w.fail(f"has the name of the block type {name!r}; give the composite another name")
        found = {}
        for b in comp.blocks:
            inner = comps.get(b.type)
            decl = None if inner is not None else lookup(b.type)
            if inner is None and decl is None:
                raise w.fail(f"block {b.id!r} has the unknown type {b.type!r}")
            found[b.id] = _ports(decl, inner)
        for p in comp.inputs:
            for bid, port in p.to:
                if found[bid][0] is not None and port != "^" and _port_name(port) not in found[bid][0]:
                    raise w.fail(f"input {p.name!r} feeds {bid}.{port}, which is not an input of block {bid!r}")
        for p in comp.outputs:
            bid, port = p.src
            if found[bid][1] is not None and port != "^" and _port_name(port) not in found[bid][1]:
                raise w.fail(f"output {p.name!r} comes from {bid}.{port}, which is not an output of block {bid!r}")
        for p in comp.pins:
            if found[p.block][2] is not None and p.pin not in found[p.block][2]:
                raise w.fail(f"pin {p.name!r} names {p.block}.{p.pin}, which is not a pin of block {p.block!r}")


def composite_to_doc(comp: Composite) -> dict[str, Any]:
    """A definition as the page format writes it (without its name, which is its key)."""
    from enuflow.app.document.formats.native import block_to_doc

    doc: dict[str, Any] = {}
    if comp.doc is not None:
        doc["doc"] = comp.doc
    doc["inputs"] = [{"name": p.name, "to": [[b, port] for b, port in p.to]} for p in comp.inputs]
    doc["outputs"] = [{"name": p.name, "from": [p.src[0], p.src[1]]} for p in comp.outputs]
    doc["pins"] = [{"name": p.name, "block": p.block, "pin": p.pin} for p in comp.pins]
    doc["blocks"] = [block_to_doc(b) for b in comp.blocks]
    doc["links"] = [{"from": [ln.src, ln.src_port], "to": [ln.dst, ln.dst_port]} for ln in comp.links]
    doc.update(comp.extra)
    return copy.deepcopy(doc)


def needed(comps: dict[str, Composite], name: str) -> list[str]:
    """``name`` and every composite it uses, nested ones included (each once, users first)."""
    out: list[str] = []
    todo = [name]
    while todo:
        n = todo.pop(0)
        if n in out or n not in comps:
            continue
        out.append(n)
        todo.extend(sorted(comps[n].uses()))
    return out
