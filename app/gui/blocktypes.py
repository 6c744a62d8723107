"""What the editor knows about block types, without ever loading TensorFlow.

``blocks.REGISTRY.get`` falls back to the generated catalogue, which may import TensorFlow when its JSON
cache is missing. The editor must stay TensorFlow-free, so it looks block types up here: hand-declared
blocks always, catalogue blocks only once ``blocks.catalogue_index.cache_ready()`` says the cache exists
(the worker child builds it). ``analyse_safely`` runs ``app.engine.analysis.analyse`` against that view, and
``check_link`` decides whether a wire may be drawn (direction, single input taken, dtype clash, cycle).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from collections.abc import Iterable
from typing import Any

import networkx as nx

from enuflow.app.engine.analysis import Analysis, analyse, list_counts
from enuflow.app.document.composites import Composite
from enuflow.app.document.page import Link, Page, composite_named
from enuflow.app.document.values import ValueParseError, parse_dtype, parse_tensor
from enuflow.blocks import REGISTRY
from enuflow.blocks.base import Attr, Block, Port, Registry, split_indexed

_state: dict[str, Any] = {"catalogue": False}


def catalogue_ready() -> bool:
    """True when the catalogue's JSON cache exists, so op blocks resolve without TensorFlow.

    Once true it stays true for this process (the cache is read once; checking it again costs a read).
    """
    if _state["catalogue"] or _state.get("cache_seen"):
        return True
    try:
        from enuflow.blocks import catalogue_index

        ready = getattr(catalogue_index, "cache_ready", None)
        seen = bool(ready()) if callable(ready) else False
    except Exception:  # noqa: BLE001 - a broken cache must not stop the editor
        return False
    _state["cache_seen"] = seen  # asked once per block of a page being opened: reading the cache each time cost seconds
    return seen


def catalogue_loaded() -> bool:
    """True once the catalogue's op blocks are known here (``refresh`` found the cache)."""
    return bool(_state["catalogue"])


def refresh() -> None:
    """Call after the worker says "ready": op blocks from the catalogue cache become known."""
    if _state["catalogue"] and _view._generated:
        return  # already loaded from the cache
    _state["catalogue"] = catalogue_ready()
    _view._generated = None


def _generated_if_cached() -> dict[str, Block]:
    if not _state["catalogue"]:
        return {}
    try:
        return REGISTRY.generated()
    except Exception:  # noqa: BLE001
        return {}


_view = Registry(hand=REGISTRY.hand, generated_loader=_generated_if_cached)


def registry() -> Registry:
    """The TensorFlow-free registry view (hand-declared blocks, plus the cached catalogue when ready)."""
    return _view


def lookup(type_name: str) -> Block | None:
    """The declaration of ``type_name``, or None when it is not known (yet) without TensorFlow. A composite of a
    page in memory (``app.document.page.composite_named``) is declared by its exposed inputs, outputs and pins."""
    decl = _view.get(type_name)
    if decl is None:
        comp = composite_named(type_name)
        if comp is not None:
            return composite_decl(comp)
    return decl


#: declarations made for composites, by (definition's id, its exposed names): rebuilt when those change
_composite_decls: dict[tuple, Block] = {}


def composite_decl(comp: Composite) -> Block:
    """A declaration for instances of ``comp``: its exposed inputs and outputs as ports (dtype unknown), its
    exposed pins as attrs shaped like the inner pins they set, defaulting to the definition's values."""
    key = (id(comp), comp.doc, tuple(p.name for p in comp.inputs), tuple(p.name for p in comp.outputs),
           tuple((p.name, p.block, p.pin) for p in comp.pins))
    decl = _composite_decls.get(key)
    if decl is not None:
        return decl
    attrs = []
    for p in comp.pins:
        inner = comp.block(p.block)
        idecl = _view.get(inner.type) if inner is not None else None
        a = idecl.attr(p.pin) if idecl is not None else None
        default = comp.pin_default(p.name)
        if a is None:
            a = Attr(p.name, "value")
        attrs.append(dataclasses.replace(a, name=p.name, default=default, has_default=default is not None,
                                         dtype_pin=None, shape_pin=None, required=False, inferred=False,
                                         doc=f"sets {p.block}.{p.pin}" + (f": {a.doc}" if a.doc else "")))
    decl = Block()
    decl.name = comp.name
    decl.category = "composite"
    decl.doc = comp.doc or f"composite {comp.name}"
    decl.origin = "composite"
    decl.inputs = tuple(Port(p.name, doc="to " + ", ".join(f"{b}.{q}" for b, q in p.to)) for p in comp.inputs)
    decl.outputs = tuple(Port(p.name, doc=f"from {p.src[0]}.{p.src[1]}") for p in comp.outputs)
    decl.attrs = tuple(attrs)
    if len(_composite_decls) > 256:
        _composite_decls.clear()
    _composite_decls[key] = decl
    return decl


def analyse_safely(page: Page) -> Analysis | None:
    """``analyse(page)`` on the TensorFlow-free view; None if the analysis itself failed."""
    try:
        return analyse(page, registry=_view, allow_io=True)
    except Exception:  # noqa: BLE001 - validation is advisory in the editor
        return None


def output_ports(decl: Block | None, pins: dict[str, Any], wired: Iterable[str] = ()) -> list[str]:
    """The output port names of an instance (list outputs numbered from the pins' count attrs).

    A list output whose count no pin gives (AddSymbolicGradients' ``grad_outputs``) shows every element
    that ``wired`` (the instance's wired output ports) uses, plus one free element to wire next."""
    if decl is None:
        return []
    names = decl.output_names(list_counts(decl, pins))
    used: dict[str, set[int]] = {}
    for w in wired:
        base, index = split_indexed(w)
        if index is not None:
            used.setdefault(base, set()).add(index)
    for p in decl.outputs:
        if p.is_list and not any(n.startswith(p.name + "[") for n in names):
            top = max(used.get(p.name, ()), default=-1)
            names.extend(f"{p.name}[{i}]" for i in range(top + 2))
    return names


def port_dtype(decl: Block | None, pins: dict[str, Any], port: Port | None) -> str | None:
    """The concrete dtype of a port when it is known from the declaration or a set type pin."""
    if decl is None or port is None or port.dtype is None:
        return None
    name = port.dtype
    if decl.attr(name) is not None:
        raw = pins.get(name)
        if raw in (None, ""):
            return _value_dtype(decl, pins, name)
        try:
            return parse_dtype(raw)
        except ValueParseError:
            return None
    try:
        return parse_dtype(name)
    except ValueParseError:
        return None


def _value_dtype(decl: Block, pins: dict[str, Any], type_attr: str) -> str | None:
    """The dtype a value pin infers for an unset type attr (Const's ``val`` of ``2.5`` gives float32)."""
    for a in decl.attrs:
        if a.dtype_pin != type_attr or pins.get(a.name) in (None, ""):
            continue
        try:
            arr = parse_tensor(pins[a.name], None)
        except (ValueParseError, ValueError, TypeError):
            return None
        return "string" if arr.dtype.kind in "OSU" else str(arr.dtype)
    return None


def output_port(decl: Block | None, name: str) -> Port | None:
    if decl is None:
        return None
    base, _ = split_indexed(name)
    for p in decl.outputs:
        if p.name == base:
            return p
    return None


@dataclass
class LinkCheck:
    ok: bool
    reason: str = ""
    link: Link | None = None


def check_link(page: Page, a_block: str, a_port: str, a_is_output: bool, b_block: str, b_port: str,
               b_is_output: bool) -> LinkCheck:
    """Whether a wire between two ports may be made; the link is oriented output -> input."""
    if a_is_output == b_is_output:
        side = "outputs" if a_is_output else "inputs"
        return LinkCheck(False, f"both ends are {side}; wires go from an output to an input")
    src, sp, dst, dp = (a_block, a_port, b_block, b_port) if a_is_output else (b_block, b_port, a_block, a_port)
    if src == dst:
        return LinkCheck(False, "a block cannot feed itself")
    link = Link(src, sp, dst, dp)
    sb, db = page.get(src), page.get(dst)
    if sb is None or db is None:
        return LinkCheck(False, "block not on the page")
    sdecl, ddecl = lookup(sb.type), lookup(db.type)
    in_port = ddecl.input(dp) if ddecl is not None else None
    if ddecl is not None and in_port is None:
        return LinkCheck(False, f"{ddecl.name} has no input '{dp}'")
    # a list port takes the same output again, in order (AddN(a, b, a)); any other port only once
    if page.has_link(link) and (in_port is None or not in_port.is_list):
        return LinkCheck(False, "these ports are already linked")
    taken_by = page.links_into(dst, dp) if in_port is not None and not in_port.is_list else []
    if taken_by:
        taken = taken_by[0]
        return LinkCheck(False, f"input '{dp}' takes one link and already has one (from {taken.src}.{taken.src_port})")
    clash = type_clash(page, link)
    if clash:
        return LinkCheck(False, clash)
    g = nx.DiGraph()
    g.add_edges_from((ln.src, ln.dst) for ln in page.links)
    if dst in g and src in g and nx.has_path(g, dst, src):
        return LinkCheck(False, "this wire would make a cycle")
    return LinkCheck(True, "", link)


def type_clash(page: Page, link: Link, earlier_only: bool = False,
               into: dict[str, list[Link]] | None = None) -> str | None:
    """Why ``link`` joins ports of incompatible kinds or dtypes, or None when they fit (or are unknown).

    The dtype of an output comes from its block's type pin, else from the value it holds (a Const
    ``val`` of ``2.5`` is float32); an input refuses a dtype its declaration does not allow. ``into``: the page's
    links by the block they go into (``links_by_reader``), for checking many links of one page.
    """
    sb, db = page.get(link.src), page.get(link.dst)
    if sb is None or db is None:
        return None
    sdecl, ddecl = lookup(sb.type), lookup(db.type)
    in_port = ddecl.input(link.dst_port) if ddecl is not None else None
    out_port = output_port(sdecl, link.src_port)
    if in_port is None or out_port is None or sdecl.inert or ddecl.inert:
        return None
    sp, dp = link.src_port, link.dst_port
    if out_port.kind == "operation" and in_port.kind != "operation" and not in_port.is_list:
        return f"'{sp}' is an op to run, not a tensor; '{dp}' takes a {in_port.kind}"
    if in_port.kind in ("ref", "resource") and out_port.kind in ("tensor", "variant"):
        what = "a variable's ref (a Variable block's 'ref')" if in_port.kind == "ref" else \
            "a resource handle (a VarHandleOp's 'resource')"
        return f"'{dp}' takes {what}, not a value: '{sp}' gives a value"
    st = port_dtype(sdecl, sb.pins, out_port)
    dt = port_dtype(ddecl, db.pins, in_port)
    if st and dt and st != dt:
        return f"dtype clash: '{sp}' gives {st}, '{dp}' takes {dt}"
    clash = _attr_clash(page, link, ddecl, in_port, st, earlier_only, into) if st and not dt else None
    if clash:
        return clash
    if st and in_port.allowed and st not in in_port.allowed:
        more = "..." if len(in_port.allowed) > 6 else ""
        return f"'{dp}' takes {', '.join(in_port.allowed[:6])}{more}, not {st} (from {link.src}.{sp})"
    return None


def _attr_clash(page: Page, link: Link, ddecl: Block, in_port: Port, st: str, earlier_only: bool,
                into: dict[str, list[Link]] | None) -> str | None:
    """Why a ``st`` tensor cannot go into ``in_port`` when another input of the block, typed by the same type attr
    (Add's ``x`` and ``y`` share ``T``), already gets another dtype; None when they agree. ``earlier_only``: only
    inputs declared before it count (on a page the first sets the attr, as TensorFlow reads it)."""
    attr = in_port.dtype
    if not attr or ddecl.attr(attr) is None:
        return None
    reaching = into.get(link.dst, []) if into is not None else page.links_into(link.dst)
    for other in ddecl.inputs:
        if other.name == in_port.name:
            if earlier_only:
                break
            continue
        if other.dtype != attr:
            continue
        for ln in reaching:
            ob = page.get(ln.src) if ln.dst_port == other.name else None
            odecl = lookup(ob.type) if ob is not None else None
            od = port_dtype(odecl, ob.pins, output_port(odecl, ln.src_port)) if ob is not None else None
            if od and od != st:
                return f"gets {st}, but {attr} is {od} (set by input '{other.name}', from {ln.src}.{ln.src_port})"
    return None


def links_by_reader(page: Page) -> dict[str, list[Link]]:
    """The page's links by the block they go into, in page order (one pass, for checking all of them)."""
    into: dict[str, list[Link]] = {}
    for ln in page.links:
        into.setdefault(ln.dst, []).append(ln)
    return into


def _link_kind(page: Page, ln: Link, into: dict[str, list[Link]], readers: dict[str, tuple | None]) -> tuple | None:
    """What decides whether ``ln`` fits when no block it concerns has a pin set (its ends' types and ports, and what
    the other inputs of its reader get, which a shared type attr compares): a key for checking it once per kind;
    None when a pin is set. ``readers`` keeps each reader's inputs (``_reader_inputs``) for the reader's other
    links (a NoOp that runs after hundreds of blocks reads them once, not once per link)."""
    sb, db = page.get(ln.src), page.get(ln.dst)
    if sb is None or db is None or sb.pins or db.pins:
        return None
    if ln.dst in readers:
        others = readers[ln.dst]
    else:
        others = readers[ln.dst] = _reader_inputs(page, into.get(ln.dst, ()))
    return None if others is None else (sb.type, ln.src_port, db.type, ln.dst_port, others)


def _reader_inputs(page: Page, reaching: list[Link]) -> tuple | None:
    """(port, source type, source port) of every link into one block, sorted; None when a source has a pin set."""
    others = []
    for o in reaching:
        ob = page.get(o.src)
        if ob is None or ob.pins:
            return None
        others.append((o.dst_port, ob.type, o.src_port))
    return tuple(sorted(others))


def link_problems(page: Page) -> dict[str, list[str]]:
    """Type clashes of the page's links, as {block: [message]} keyed by the receiving block."""
    out: dict[str, list[str]] = {}
    fit: set[tuple] = set()  # kinds of links that fit (``_link_kind``)
    into = links_by_reader(page)
    readers: dict[str, tuple | None] = {}
    for ln in page.links:
        kind = _link_kind(page, ln, into, readers)
        if kind is not None and kind in fit:
            continue
        why = type_clash(page, ln, earlier_only=True, into=into)
        if not why and kind is not None:
            fit.add(kind)
        if why:
            out.setdefault(ln.dst, []).append(f"block '{ln.dst}', port '{ln.dst_port}': {why}")
    return out
