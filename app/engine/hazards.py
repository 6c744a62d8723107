"""Warnings a page earns before it runs, read from its blocks and links alone (no TensorFlow is needed).

- ``races``: a variable (a block output of kind ``ref`` or ``resource``, such as ``Variable.ref``) that one block
  assigns and another reads in the same step, with no path of data or control links between the two: TensorFlow
  may run the read before or after the assignment, and a page that assigns the next input and reads it at once
  (enuSpace's ``mnistEval``) then reads the previous step's value. The warning names the reader and the writer;
  a control link from the writer to the reader (``{"from": [w, "^"], "to": [r, "^"]}``) orders them.
- ``unused_outputs``: on a page with a ClientSession, a block whose outputs go nowhere (no link leaves it, so the
  session neither fetches it nor runs it for another block).
- ``unfed_placeholders``: the Placeholders that have no value (a run needs one, typed in or ``--feed``).

Each warning is a ``BuildError`` naming its block and port. Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from enuflow.app.engine.analysis import Analysis
from enuflow.app.engine.problems import BuildError
from enuflow.blocks.base import Block, split_indexed

#: ops whose ref input is only looked at, neither read nor written
_REF_NEUTRAL = frozenset({"IsVariableInitialized"})
#: ops that take a resource variable without reading or writing its value
_RESOURCE_NEUTRAL = frozenset({"VarIsInitializedOp", "DestroyResourceOp", "VariableShape"})
#: ops that write a resource variable: their names start with one of these
_RESOURCE_WRITERS = ("Assign", "ResourceApply", "ResourceSparseApply", "ResourceScatter",
                     "ResourceStridedSliceAssign")

_STATE_KINDS = ("ref", "resource")


def _state_outputs(decl: Block, cache: dict[Block, frozenset[str]]) -> frozenset[str]:
    """The names of ``decl``'s outputs that are variables (ref or resource), made once per declaration."""
    got = cache.get(decl)
    if got is None:
        got = cache[decl] = frozenset(p.name for p in decl.outputs if p.kind in _STATE_KINDS)
    return got


def _role(decl: Block, port: Any, kind: str) -> str | None:
    """What a block of type ``decl`` does to a variable of ``kind`` wired into its input ``port``: "write",
    "read", or None (neither)."""
    op = decl.op_name or decl.name
    if port is not None and port.kind == "ref":
        return None if op in _REF_NEUTRAL else "write"
    if kind == "resource":
        if op in _RESOURCE_NEUTRAL:
            return None
        return "write" if op.startswith(_RESOURCE_WRITERS) else "read"
    return "read"  # a ref wired into a value input: TensorFlow reads the variable there


def _accesses(an: Analysis) -> dict[tuple[str, str], tuple[list[tuple[str, str]], list[tuple[str, str]]]]:
    """Per variable (block, output): its writers and its readers, each (block, input port)."""
    decls = an.decls
    states: dict[Block, frozenset[str]] = {}
    holders = {bid for bid, d in decls.items() if _state_outputs(d, states)}
    found: dict[tuple[str, str], tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {}
    if not holders:
        return found
    for ln in an.page.links:
        if ln.src not in holders or ln.dst not in decls or ln.dst_port == "^":
            continue
        sdecl, ddecl = decls[ln.src], decls[ln.dst]
        base = split_indexed(ln.src_port)[0]
        if base not in states[sdecl]:
            continue
        kind = next(p.kind for p in sdecl.outputs if p.name == base)
        role = _role(ddecl, ddecl.input_map().get(ln.dst_port), kind)
        if role is not None:
            writers, readers = found.setdefault((ln.src, ln.src_port), ([], []))
            (writers if role == "write" else readers).append((ln.dst, ln.dst_port))
    return found


def _reach(start: str, links: dict[str, Any]) -> set[str]:
    """The blocks reached from ``start`` along ``links`` (a successor or predecessor map), ``start`` left out."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in links[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def step_blocks(an: Analysis) -> set[str] | None:
    """The blocks one session step runs: those the ClientSession's fetches and run_outputs need (through data and
    control links); None on a page without a ClientSession (every block runs)."""
    plan = an.plan
    if plan.block is None:
        return None
    pred = an.dag.pred
    roots = {b for b, _ in plan.fetches} | {b for b, _ in plan.targets}
    out = set(roots)
    for r in roots:
        if r in pred:
            out |= _reach(r, pred)
    return out


def races(an: Analysis) -> list[BuildError]:
    """A warning per reader of a variable that a block of the same step writes with nothing ordering the two."""
    found = _accesses(an)
    if not any(w and r for w, r in found.values()):
        return []
    in_step = step_blocks(an)
    dag = an.dag
    label = {b.id: b.label or b.id for b in an.page}
    out: list[BuildError] = []
    for (var, _port), (writers, readers) in found.items():
        for w, _ in writers:
            if w not in dag or (in_step is not None and w not in in_step):
                continue
            after, before = _reach(w, dag.succ), _reach(w, dag.pred)
            for r, rport in readers:
                if r == w or r in after or r in before or (in_step is not None and r not in in_step):
                    continue
                wtype = an.decls[w].name
                out.append(BuildError(r, rport, (
                    f"reads variable '{label.get(var, var)}' in the same step as '{label.get(w, w)}' ({wtype}) "
                    f"assigns it, with nothing ordering the two: it may get the value from before the assignment "
                    f"or after it. Add a control link from '{w}' to '{r}' (read after) or from '{r}' to '{w}' "
                    "(read before)"), fix={"control": [w, r]}))
    return out


def unused_outputs(an: Analysis) -> list[BuildError]:
    """On a page with a ClientSession, a warning per block that has outputs but no link leaving it."""
    plan = an.plan
    if plan.block is None:
        return []
    used = {ln.src for ln in an.page.links}
    out: list[BuildError] = []
    for b in an.page:
        decl = an.decls.get(b.id)
        if b.id in used or decl is None or decl.inert or not decl.outputs or b.id in an.cyclic:
            continue
        names = decl.output_names(an.attrs.get(b.id))
        if not names:
            continue
        what = f"output '{names[0]}'" if len(names) == 1 else "outputs " + ", ".join(f"'{n}'" for n in names)
        out.append(BuildError(b.id, names[0] if len(names) == 1 else None,
                              f"nothing uses its {what} and the ClientSession '{plan.block}' does not fetch "
                              f"{'it' if len(names) == 1 else 'them'}: a step does not run this block"))
    return out


def unfed_placeholders(an: Analysis) -> list[BuildError]:
    """The analysis's errors that say a Placeholder has no value (the run's problem; a static check can go on)."""
    return [e for e in an.errors if e.port == "value" and e.block is not None
            and (d := an.decls.get(e.block)) is not None and d.name == "Placeholder"
            and "value" not in an.values.get(e.block, {})]


def placeholder_warnings(unfed: Iterable[BuildError]) -> list[BuildError]:
    """The warnings for Placeholders without a value (from ``unfed_placeholders``)."""
    return [BuildError(e.block, "value", f"Placeholder '{e.block}' has no value: a run needs one (type it into pin "
                                         f"'value', or enuflow run --feed {e.block}=FILE.npy)") for e in unfed]


__all__ = ["placeholder_warnings", "races", "step_blocks", "unfed_placeholders", "unused_outputs"]
