"""What the editor knows about block types, without ever loading TensorFlow.

``blocks.REGISTRY.get`` falls back to the generated catalogue, which may import TensorFlow when its JSON
cache is missing. The editor must stay TensorFlow-free, so it looks block types up here: hand-declared
blocks always, catalogue blocks only once ``blocks.catalogue_index.cache_ready()`` says the cache exists
(the worker child builds it). ``analyse_safely`` runs ``app.engine.analysis.analyse`` against that view, and
``check_link`` decides whether a wire may be drawn (direction, single input taken, dtype clash, cycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

from enuflow.app.engine.analysis import Analysis, analyse, list_counts
from enuflow.app.document.page import Link, Page
from enuflow.app.document.values import ValueParseError, parse_dtype
from enuflow.blocks import REGISTRY
from enuflow.blocks.base import Block, Port, Registry, split_indexed

_state: dict[str, Any] = {"catalogue": False}


def catalogue_ready() -> bool:
    """True when the catalogue's JSON cache exists, so op blocks resolve without TensorFlow.

    Once true it stays true for this process (the cache is read once; checking it again costs a read).
    """
    if _state["catalogue"]:
        return True
    try:
        from enuflow.blocks import catalogue_index

        ready = getattr(catalogue_index, "cache_ready", None)
        return bool(ready()) if callable(ready) else False
    except Exception:  # noqa: BLE001 - a broken cache must not stop the editor
        return False


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
    """The declaration of ``type_name``, or None when it is not known (yet) without TensorFlow."""
    return _view.get(type_name)


def analyse_safely(page: Page) -> Analysis | None:
    """``analyse(page)`` on the TensorFlow-free view; None if the analysis itself failed."""
    try:
        return analyse(page, registry=_view, allow_io=True)
    except Exception:  # noqa: BLE001 - validation is advisory in the editor
        return None


def output_ports(decl: Block | None, pins: dict[str, Any]) -> list[str]:
    """The output port names of an instance (list outputs numbered from the pins' count attrs)."""
    if decl is None:
        return []
    names = decl.output_names(list_counts(decl, pins))
    # a list output whose count is unknown still gets one numbered port so it can be wired
    for p in decl.outputs:
        if p.is_list and not any(n.startswith(p.name + "[") for n in names):
            names.append(f"{p.name}[0]")
    return names


def port_dtype(decl: Block | None, pins: dict[str, Any], port: Port | None) -> str | None:
    """The concrete dtype of a port when it is known from the declaration or a set type pin."""
    if decl is None or port is None or port.dtype is None:
        return None
    name = port.dtype
    if decl.attr(name) is not None:
        raw = pins.get(name)
        if raw in (None, ""):
            return None
        try:
            return parse_dtype(raw)
        except ValueParseError:
            return None
    try:
        return parse_dtype(name)
    except ValueParseError:
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
    out_port = output_port(sdecl, sp)
    if in_port is not None and out_port is not None:
        if out_port.kind == "operation" and in_port.kind != "operation" and not in_port.is_list:
            return LinkCheck(False, f"'{sp}' is an op to run, not a tensor; '{dp}' takes a {in_port.kind}")
        st = port_dtype(sdecl, sb.pins, out_port)
        dt = port_dtype(ddecl, db.pins, in_port)
        if st and dt and st != dt:
            return LinkCheck(False, f"dtype clash: '{sp}' gives {st}, '{dp}' takes {dt}")
        if st and in_port.allowed and in_port.dtype and ddecl.attr(in_port.dtype) is not None \
                and st not in in_port.allowed:
            return LinkCheck(False, f"'{dp}' takes {', '.join(in_port.allowed[:6])}..., not {st}")
    g = nx.DiGraph()
    g.add_edges_from((ln.src, ln.dst) for ln in page.links)
    if dst in g and src in g and nx.has_path(g, dst, src):
        return LinkCheck(False, "this wire would make a cycle")
    return LinkCheck(True, "", link)
