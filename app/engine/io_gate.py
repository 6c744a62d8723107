"""Blocks that carry a graph, and whether that graph needs ``--allow-io``.

The allowlist (``blocks.op_classes``) classes most ops by their type alone. A block that carries a graph is as
safe as the ops of that graph, which only its values say:

- ``GraphFunction``: its ``graph`` pin holds a GraphDef with a function library; every node of both must pass;
- ``DatasetFromGraph``: its ``graph_def`` input is a serialized GraphDef, checked when it is known before the
  run (the block's own pin, or a ``Const`` wired in); one made while running cannot be checked, so it counts
  as file;
- an op block with function attrs (``While``, ``MapDataset``, ``PartitionedCall``, ...): each function it
  names must come from the library of a ``GraphFunction`` on the page whose graph passes (or be an op that
  passes); any other name counts as file.

``findings(...)`` gives, for each such block that needs ``--allow-io``, the problem naming the block and the
inner op. Reads GraphDefs with ``app.document.formats.graphdef`` (protobuf, no TensorFlow).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.document.formats.graphdef import parse
from enuflow.app.document.page import Link, Page
from enuflow.app.engine.problems import BuildError
from enuflow.blocks import op_classes
from enuflow.blocks.base import Block

_ALLOW = "it runs only when allowed (enuflow run --allow-io, or confirm in the editor)"
_FUNC_TYPES = ("func", "list(func)")


def carries_graph(decl: Block) -> bool:
    """Whether blocks of this type carry a graph whose ops decide if they need ``--allow-io``."""
    if decl.name == "GraphFunction":
        return True
    return decl.origin == "opdef" and op_classes.op_class(decl.op_name or decl.name) == "graph"


def carriers(page: Page, decls: dict[str, Block]) -> list[str]:
    """The ids of the page's blocks that carry a graph, in page order."""
    kinds: dict[Block, bool] = {}
    out = []
    for b in page:
        decl = decls.get(b.id)
        if decl is None:
            continue
        yes = kinds.get(decl)
        if yes is None:
            yes = kinds[decl] = carries_graph(decl)
        if yes:
            out.append(b.id)
    return out


class _Graph:
    """What the check found in one serialized GraphDef: its first finding, or why it cannot be read."""

    def __init__(self, raw: bytes) -> None:
        self.finding: op_classes.Finding | None = None
        self.unreadable = ""
        self.functions: set[str] = set()
        try:
            gd = parse(raw)
        except PageFileError as e:
            self.unreadable = e.detail
            return
        self.functions = {f.signature.name for f in gd.library.function}
        self.finding = op_classes.graph_finding(gd)

    @property
    def passes(self) -> bool:
        return self.finding is None and not self.unreadable


#: serialized graphs already checked, by digest (a page is analysed again at every edit and every run)
_checked: dict[bytes, _Graph] = {}


def checked(raw: bytes) -> _Graph:
    """The check of the serialized GraphDef ``raw`` (remembered: a page is checked again at every edit)."""
    key = hashlib.blake2b(raw, digest_size=16).digest()
    g = _checked.get(key)
    if g is None:
        g = _Graph(raw)
        if len(_checked) >= 1024:
            _checked.pop(next(iter(_checked)))
        _checked[key] = g
    return g


def _graph_problem(what: str, g: _Graph, whose: str = "its graph") -> str | None:
    """The refusal of ``what`` (e.g. "GraphFunction 'g'") for the checked graph ``g`` (``whose``), or None when
    it passes."""
    if g.unreadable:
        return f"{what}: {whose} cannot be read to check its ops ({g.unreadable}); {_ALLOW}"
    if g.finding is not None:
        return f"{what}: {whose} {g.finding.verb()} ({g.finding.describe()}); {_ALLOW}"
    return None


def _serialized(arr: Any) -> list[bytes]:
    """The serialized graphs a string value holds (one per element), as the run would feed them."""
    items = np.asarray(arr, dtype=object).reshape(-1) if np.asarray(arr).dtype.kind in "OSU" else []
    return [x.encode("utf-8") if isinstance(x, str) else bytes(x) for x in items]


def findings(page: Page, ids: Iterable[str], decls: dict[str, Block], attrs: dict[str, dict[str, Any]],
             values: dict[str, dict[str, np.ndarray]], inputs: dict[str, dict[str, list[Link]]]) -> list[BuildError]:
    """For each block of ``ids`` (``carriers``) whose graph needs ``--allow-io``, the problem that says so,
    naming the block, the port where one is at fault, and the inner op."""
    ids = list(ids)
    library: dict[str, list[tuple[str, _Graph]]] = {}  # function -> (GraphFunction, its graph) defining it
    graphs: dict[str, _Graph] = {}
    for bid in ids:
        raw = values.get(bid, {}).get("graph") if decls[bid].name == "GraphFunction" else None
        if raw is not None:
            g = graphs[bid] = checked(np.ascontiguousarray(raw).tobytes())
            for name in g.functions:
                library.setdefault(name, []).append((bid, g))
    out: list[BuildError] = []
    for bid in ids:
        decl = decls[bid]
        what = f"{decl.name} '{bid}'"
        if bid in graphs:
            problem = _graph_problem(what, graphs[bid])
            port = None
        elif decl.name == "GraphFunction":
            continue  # no graph value: the pin's own problem is reported
        elif (decl.op_name or decl.name) in op_classes.GRAPH_FROM_INPUT:
            port = op_classes.GRAPH_FROM_INPUT[decl.op_name or decl.name]
            problem = _input_graph_problem(what, port, inputs.get(bid, {}).get(port), bid, decls, values)
        else:
            port, problem = _function_problem(what, decl, attrs.get(bid, {}), library)
        if problem is not None:
            out.append(BuildError(bid, port, problem))
    return out


def _input_graph_problem(what: str, port: str, links: list[Link] | None, bid: str, decls: dict[str, Block],
                         values: dict[str, dict[str, np.ndarray]]) -> str | None:
    """The refusal of a block whose input ``port`` is a serialized graph, or None when that graph passes."""
    if links:
        src = links[0].src
        if decls.get(src) is None or decls[src].name != "Const":
            return (f"{what}: its {port} comes from '{src}', made while the page runs, so its ops cannot be "
                    f"checked before; {_ALLOW}")
        arr = values.get(src, {}).get("val")
    else:
        arr = values.get(bid, {}).get(port)
    if arr is None:
        return None  # no value: the pin's own problem is reported
    raws = _serialized(arr)
    if not raws:
        return f"{what}: its {port} is not a serialized graph, so its ops cannot be checked; {_ALLOW}"
    for raw in raws:
        problem = _graph_problem(what, checked(raw))
        if problem is not None:
            return problem
    return None


def _function_problem(what: str, decl: Block, attrs: dict[str, Any],
                      library: dict[str, list[tuple[str, _Graph]]]) -> tuple[str | None, str | None]:
    """(attr, refusal) for the first function an op block names that does not pass; (None, None) if all do."""
    for a in decl.attrs:
        if a.type not in _FUNC_TYPES:
            continue
        names = attrs.get(a.name)
        for name in [names] if isinstance(names, str) else list(names or []):
            defined = library.get(name) if name not in op_classes.table() else None  # an op name is the op
            if defined:
                for owner, g in defined:
                    whose = f"its {a.name} calls '{name}' of GraphFunction '{owner}', whose graph"
                    problem = _graph_problem(what, g, whose)
                    if problem is not None:
                        return a.name, problem
            elif op_classes.op_class(name) not in ("compute", "state"):
                return a.name, (f"{what}: its {a.name} names '{name}', which no GraphFunction on the page defines, "
                                f"so its ops cannot be checked; {_ALLOW}")
    return None, None


__all__ = ["carries_graph", "carriers", "checked", "findings"]
