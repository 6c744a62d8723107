"""Grouping blocks into a composite and back (ARCHITECTURE.md section 4a): the page edits behind the editor's Group,
Ungroup and "expose pin", as pure functions that return a new page and leave the given one as it was.

``group(page, ids, name)`` makes the composite ``name`` of the selected blocks: every outside output that feeds the
selection becomes one exposed input (its ``to`` lists the inner ports it fed), every inner output that feeds a block
outside becomes one exposed output, and the selection is replaced by one instance where the blocks were, the wires
rewired to it. ``ungroup(page, instance)`` puts an instance's inner blocks back (fresh ids where taken, the
instance's pins set on the inner pins they expose, placed around the instance in free space), rewires the links and
drops the definition when nothing else uses it. ``group_in_composite`` and ``ungroup_in_composite`` do the same
inside a definition: its own exposed inputs, outputs and pins follow the blocks they name. ``expose_pin`` adds an
inner pin to a definition's ``pins``, ``unexpose_pin`` takes one away (dropping the instances' values for it), and
``rename_composite`` renames a definition with every instance of it. Each keeps the page's frames and notes.

A control link (``^``) that crosses the selection is wired to the instance's ``^`` (the builder gives it to every
inner block); ungrouping wires it to the inner blocks without inner predecessors (into) or successors (out of),
which orders the same ops. Errors (an empty selection, a taken name) raise ``GroupError``.
Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass

from enuflow.app.document.composites import Composite, ExposedInput, ExposedOutput, ExposedPin
from enuflow.app.document.page import BlockInstance, Link, Page

#: the drawn (width, height) of a block; the editor measures, plain callers get ``DEFAULT_SIZE``
Sizer = Callable[[BlockInstance], tuple[float, float]]
DEFAULT_SIZE = (180.0, 90.0)
GAP = 20.0  # the least room kept between a placed block and its neighbours
#: the ends that stand for a definition's own exposed inputs and outputs while its blocks are regrouped
_IN, _OUT = "/in", "/out"


class GroupError(ValueError):
    """A group or ungroup that cannot be made (the message says why, in the user's words)."""


@dataclass
class Grouped:
    """What ``group`` made: the new page, the instance's id and the composite's name."""

    page: Page
    instance: str
    composite: str


@dataclass
class Ungrouped:
    """What ``ungroup`` made: the new page and the ids the inner blocks have now (inner id -> new id)."""

    page: Page
    ids: dict[str, str]


@dataclass
class _Scope:
    """Blocks and links being regrouped: a page's, or a definition's with its exposed inputs and outputs as links
    from ``/in`` and to ``/out`` and its exposed pins."""

    blocks: list[BlockInstance]
    links: list[Link]
    pins: list[ExposedPin]


def readable(text: str) -> str:
    """``text`` as a name: letters, digits and ``_`` (``output[1]`` reads ``output_1``)."""
    return re.sub(r"\W+", "_", text).strip("_") or "port"


def unique(base: str, taken: Callable[[str], bool]) -> str:
    """``base``, or ``base_2``, ``base_3``, ... : the first that ``taken`` says is free."""
    if not taken(base):
        return base
    i = 2
    while taken(f"{base}_{i}"):
        i += 1
    return f"{base}_{i}"


# -- free places ------------------------------------------------------------------------------------------
Rect = tuple[float, float, float, float]


def _clear(r: Rect, others: list[Rect]) -> bool:
    g = GAP
    return all(not (r[0] - g < x + w and x < r[0] + r[2] + g and r[1] - g < y + h and y < r[1] + r[3] + g)
               for x, y, w, h in others)


def _free_offset(rects: list[Rect], others: list[Rect], step: float = 20.0) -> tuple[float, float]:
    """The smallest shift (rings of ``step`` around none) that keeps every one of ``rects`` clear of ``others``."""
    for ring in range(0, 400):
        spots = sorted(((i, j) for i in range(-ring, ring + 1) for j in range(-ring, ring + 1)
                        if max(abs(i), abs(j)) == ring), key=lambda ij: (ij[0] ** 2 + ij[1] ** 2, ij[1], ij[0]))
        for i, j in spots:
            dx, dy = i * step, j * step
            if all(_clear((x + dx, y + dy, w, h), others) for x, y, w, h in rects):
                return dx, dy
    return 0.0, 0.0


def _rect(b: BlockInstance, size: Sizer) -> Rect:
    w, h = size(b)
    return float(b.pos[0]), float(b.pos[1]), float(w), float(h)


def _default_size(_b: BlockInstance) -> tuple[float, float]:
    return DEFAULT_SIZE


# -- scopes: a page, or a definition -------------------------------------------------------------------------
def _definition_scope(comp: Composite) -> _Scope:
    links = [Link(_IN, p.name, b, port) for p in comp.inputs for b, port in p.to]
    links += list(comp.links)
    links += [Link(p.src[0], p.src[1], _OUT, p.name) for p in comp.outputs]
    return _Scope([b.copy() for b in comp.blocks], links, [copy.copy(p) for p in comp.pins])


def _definition_from(scope: _Scope, old: Composite) -> Composite:
    """``old`` with the blocks, links and exposed ports of ``scope`` (its ``/in`` and ``/out`` links)."""
    inputs = []
    for p in old.inputs:
        to = [(ln.dst, ln.dst_port) for ln in scope.links if ln.src == _IN and ln.src_port == p.name]
        inputs.append(ExposedInput(p.name, to))
    outputs = []
    for p in old.outputs:
        src = next(((ln.src, ln.src_port) for ln in scope.links if ln.dst == _OUT and ln.dst_port == p.name), p.src)
        outputs.append(ExposedOutput(p.name, src))
    links = [ln for ln in scope.links if ln.src != _IN and ln.dst != _OUT]
    return Composite(old.name, scope.blocks, links, inputs, outputs, scope.pins, old.doc, copy.deepcopy(old.extra))


def _page_like(page: Page, blocks: list[BlockInstance], links: list[Link],
               comps: dict[str, Composite]) -> Page:
    new = Page(page.name)
    new.fill(blocks, links)
    new.view, new.results = copy.deepcopy(page.view), copy.deepcopy(page.results)
    new.extra, new.data_path = copy.deepcopy(page.extra), page.data_path
    new.link_extra = {ln: copy.deepcopy(v) for ln, v in page.link_extra.items() if new.has_link(ln)}
    new.composites = comps
    new.folder = page.folder
    new.frames = {k: f.copy() for k, f in page.frames.items()}  # grouping moves blocks, never frames and notes
    new.notes = {k: n.copy() for k, n in page.notes.items()}
    return new


def _copy_comps(page: Page) -> dict[str, Composite]:
    return {name: c.copy() for name, c in page.composites.items()}


# -- group ---------------------------------------------------------------------------------------------------
class _Grouping:
    """One group in the making: the composite's exposed ports, and the scope's links rewired to the instance."""

    def __init__(self, chosen: set[str], inst: str) -> None:
        self.chosen = chosen
        self.inst = inst
        self.ins: dict[tuple[str, str], ExposedInput] = {}
        self.outs: dict[tuple[str, str], ExposedOutput] = {}
        self.pins: list[ExposedPin] = []
        self.links: list[Link] = []

    def _in_name(self, base: str) -> str:
        return unique(readable(base), lambda n: any(p.name == n for p in (*self.ins.values(), *self.pins)))

    def _out_name(self, base: str) -> str:
        return unique(readable(base), lambda n: any(p.name == n for p in self.outs.values()))

    def rewire(self, links: list[Link]) -> list[Link]:
        """The composite's inner links; ``self.links`` becomes the scope's links with the crossing ones rewired."""
        inner = []
        for ln in links:
            into, out_of = ln.dst in self.chosen, ln.src in self.chosen
            if into and out_of:
                inner.append(ln)
            elif not into and not out_of:
                self.links.append(ln)
            elif into:
                self._entering(ln)
            else:
                self._leaving(ln)
        return inner

    def _add(self, ln: Link) -> None:
        if ln.src_port != "^" or ln not in self.links:  # one control link is enough
            self.links.append(ln)

    def _entering(self, ln: Link) -> None:
        if ln.dst_port == "^":
            self._add(Link(ln.src, ln.src_port, self.inst, "^"))
            return
        key = (ln.src, ln.src_port)
        if key not in self.ins:
            # a definition's own input keeps its name; an outside wire is named by the port it feeds
            name = self._in_name(ln.src_port if ln.src == _IN else ln.dst_port)
            self.ins[key] = ExposedInput(name, [])
            self.links.append(Link(ln.src, ln.src_port, self.inst, name))
        self.ins[key].to.append((ln.dst, ln.dst_port))

    def _leaving(self, ln: Link) -> None:
        if ln.src_port == "^":
            self._add(Link(self.inst, "^", ln.dst, ln.dst_port))
            return
        key = (ln.src, ln.src_port)
        if key not in self.outs:
            self.outs[key] = ExposedOutput(self._out_name(ln.src_port), key)
        self.links.append(Link(self.inst, self.outs[key].name, ln.dst, ln.dst_port))

    def repin(self, pins: list[ExposedPin]) -> list[ExposedPin]:
        """The enclosing definition's pins: those of chosen blocks are exposed by the composite and point at it."""
        out = []
        for p in pins:
            if p.block not in self.chosen:
                out.append(p)
                continue
            name = self._in_name(p.name)
            self.pins.append(ExposedPin(name, p.block, p.pin))
            out.append(ExposedPin(p.name, self.inst, name))
        return out


def _group_scope(scope: _Scope, ids: list[str], name: str, taken_ids: set[str]) -> tuple[_Scope, Composite, str]:
    """The scope with blocks ``ids`` replaced by an instance of the new composite ``name`` at their top-left corner
    (``_place`` moves it to free space once the composite is on a page, where its drawn size can be measured)."""
    chosen = {i for i in ids if any(b.id == i for b in scope.blocks)}
    if not chosen:
        raise GroupError("select the blocks to group")
    picked = [b for b in scope.blocks if b.id in chosen]
    if any(b.type == "ClientSession" for b in picked):
        raise GroupError("a ClientSession block runs the page: it stays on the page, outside any composite")
    x0 = min(float(b.pos[0]) for b in picked)
    y0 = min(float(b.pos[1]) for b in picked)
    inst = unique(readable(name), lambda n: n in taken_ids)
    g = _Grouping(chosen, inst)
    inner_links = g.rewire(scope.links)
    pins = g.repin(scope.pins)
    inner = []
    for b in picked:
        c = b.copy()
        c.pos = (float(b.pos[0]) - x0, float(b.pos[1]) - y0)
        inner.append(c)
    comp = Composite(name, inner, inner_links, list(g.ins.values()), list(g.outs.values()), g.pins)
    block = BlockInstance(inst, name, (x0, y0))
    first = next(i for i, b in enumerate(scope.blocks) if b.id in chosen)
    blocks = [b.copy() for b in scope.blocks[:first] if b.id not in chosen] + [block]
    blocks += [b.copy() for b in scope.blocks[first:] if b.id not in chosen]
    return _Scope(blocks, g.links, pins), comp, inst


def _place(blocks: list[BlockInstance], inst: str, size: Sizer) -> None:
    """Move the block ``inst`` to the free place nearest where it is (clear of the others by ``GAP``)."""
    block = next(b for b in blocks if b.id == inst)
    dx, dy = _free_offset([_rect(block, size)], [_rect(b, size) for b in blocks if b.id != inst])
    block.pos = (block.pos[0] + dx, block.pos[1] + dy)


def _check_name(page: Page, name: str) -> None:
    if not name or "/" in name:
        raise GroupError(f"a composite needs a name without '/': {name!r}")
    if name in page.composites:
        raise GroupError(f"the page already has a composite named {name!r}")


def group(page: Page, block_ids: list[str], name: str, size: Sizer | None = None) -> Grouped:
    """``page`` with the blocks ``block_ids`` made into the composite ``name`` and replaced by one instance of it
    (placed at the selection's top-left corner, or the nearest free place); raises GroupError."""
    _check_name(page, name)
    scope = _Scope(page.blocks, page.links, [])
    new, comp, inst = _group_scope(scope, block_ids, name, {b.id for b in page})
    comps = _copy_comps(page)
    comps[name] = comp
    made = _page_like(page, new.blocks, new.links, comps)
    _place(made.blocks, inst, size or _default_size)
    return Grouped(made, inst, name)


def group_in_composite(page: Page, outer: str, block_ids: list[str], name: str,
                       size: Sizer | None = None) -> Grouped:
    """``page`` with the blocks ``block_ids`` of the definition ``outer`` grouped into the new composite ``name``
    (an instance of it in ``outer``); ``outer``'s exposed ports and pins follow. Raises GroupError."""
    _check_name(page, name)
    old = page.composites[outer]
    scope = _definition_scope(old)
    new, comp, inst = _group_scope(scope, block_ids, name, {b.id for b in old.blocks})
    comps = _copy_comps(page)
    comps[name] = comp
    comps[outer] = _definition_from(new, old)
    made = _page_like(page, [b.copy() for b in page], page.links, comps)
    _place(comps[outer].blocks, inst, size or _default_size)
    return Grouped(made, inst, name)


# -- ungroup -------------------------------------------------------------------------------------------------
def _fresh(base: str, taken: set[str]) -> str:
    """``base`` when free, else a free ``stem_N`` (``Add_3`` taken gives ``Add_4``, not ``Add_3_2``)."""
    if base not in taken:
        return base
    head, _, tail = base.rpartition("_")
    return unique(head if head and tail.isdigit() else base, lambda n: n in taken)


class _Ungrouping:
    """One ungroup in the making: the inner blocks under their new ids, and where the instance's ports lead."""

    def __init__(self, inst: BlockInstance, comp: Composite, taken: set[str]) -> None:
        self.inst = inst
        self.comp = comp
        self.ids: dict[str, str] = {}
        self.blocks: list[BlockInstance] = []
        for b in comp.blocks:
            new = _fresh(b.id, taken)
            taken.add(new)
            self.ids[b.id] = new
            c = b.copy()
            c.id = new
            c.pos = (inst.pos[0] + b.pos[0], inst.pos[1] + b.pos[1])
            self.blocks.append(c)
        by_id = {c.id: c for c in self.blocks}
        for p in comp.pins:
            if p.name in inst.pins and p.block in self.ids:
                by_id[self.ids[p.block]].pins[p.pin] = copy.deepcopy(inst.pins[p.name])
        self.links = [Link(self.ids[ln.src], ln.src_port, self.ids[ln.dst], ln.dst_port) for ln in comp.links]
        fed = {ln.dst for ln in self.links}
        feeding = {ln.src for ln in self.links}
        self.roots = [c.id for c in self.blocks if c.id not in fed]
        self.sinks = [c.id for c in self.blocks if c.id not in feeding]

    def sources(self, bid: str, port: str) -> list[tuple[str, str]]:
        if bid != self.inst.id:
            return [(bid, port)]
        if port == "^":
            return [(s, "^") for s in self.sinks]
        out = self.comp.output(port)
        return [] if out is None else [(self.ids[out.src[0]], out.src[1])]

    def targets(self, bid: str, port: str) -> list[tuple[str, str]]:
        if bid != self.inst.id:
            return [(bid, port)]
        if port == "^":
            return [(r, "^") for r in self.roots]
        inp = self.comp.input(port)
        return [] if inp is None else [(self.ids[b], p) for b, p in inp.to]

    def rewire(self, links: list[Link]) -> list[Link]:
        out = []
        for ln in links:
            if self.inst.id not in (ln.src, ln.dst):
                out.append(ln)
                continue
            for s in self.sources(ln.src, ln.src_port):
                for t in self.targets(ln.dst, ln.dst_port):
                    out.append(Link(s[0], s[1], t[0], t[1]))
        return out + self.links

    def repin(self, pins: list[ExposedPin]) -> list[ExposedPin]:
        out = []
        for p in pins:
            inner = self.comp.pin(p.pin) if p.block == self.inst.id else None
            if p.block != self.inst.id:
                out.append(p)
            elif inner is not None:
                out.append(ExposedPin(p.name, self.ids[inner.block], inner.pin))
        return out


def _ungroup_scope(scope: _Scope, inst_id: str, comps: dict[str, Composite],
                   size: Sizer) -> tuple[_Scope, dict[str, str]]:
    inst = next((b for b in scope.blocks if b.id == inst_id), None)
    if inst is None or inst.type not in comps:
        raise GroupError(f"{inst_id!r} is not an instance of a composite")
    u = _Ungrouping(inst, comps[inst.type], {b.id for b in scope.blocks})
    rest = [b for b in scope.blocks if b.id != inst_id]
    dx, dy = _free_offset([_rect(b, size) for b in u.blocks], [_rect(b, size) for b in rest])
    for b in u.blocks:
        b.pos = (b.pos[0] + dx, b.pos[1] + dy)
    at = next(i for i, b in enumerate(scope.blocks) if b.id == inst_id)
    blocks = [b.copy() for b in scope.blocks[:at]] + u.blocks + [b.copy() for b in scope.blocks[at + 1:]]
    return _Scope(blocks, u.rewire(scope.links), u.repin(scope.pins)), u.ids


def _drop_unused(comps: dict[str, Composite], page_blocks: list[BlockInstance], name: str) -> None:
    used = any(b.type == name for b in page_blocks) or any(name in c.uses() for c in comps.values())
    if not used:
        comps.pop(name, None)


def ungroup(page: Page, instance_id: str, size: Sizer | None = None) -> Ungrouped:
    """``page`` with the instance ``instance_id`` replaced by its inner blocks; raises GroupError."""
    scope = _Scope(page.blocks, page.links, [])
    new, ids = _ungroup_scope(scope, instance_id, page.composites, size or _default_size)
    comps = _copy_comps(page)
    _drop_unused(comps, new.blocks, page.block(instance_id).type)
    return Ungrouped(_page_like(page, new.blocks, new.links, comps), ids)


def ungroup_in_composite(page: Page, outer: str, instance_id: str, size: Sizer | None = None) -> Ungrouped:
    """``page`` with the instance ``instance_id`` inside the definition ``outer`` replaced by its inner blocks;
    ``outer``'s exposed ports and pins follow. Raises GroupError."""
    old = page.composites[outer]
    new, ids = _ungroup_scope(_definition_scope(old), instance_id, page.composites, size or _default_size)
    comps = _copy_comps(page)
    comps[outer] = _definition_from(new, old)
    inner_type = old.block(instance_id).type
    _drop_unused(comps, page.blocks, inner_type)
    return Ungrouped(_page_like(page, [b.copy() for b in page], page.links, comps), ids)


# -- exposed pins --------------------------------------------------------------------------------------------
def expose_pin(comp: Composite, block_id: str, pin: str, name: str | None = None) -> Composite:
    """``comp`` with the pin ``pin`` of its block ``block_id`` exposed (named ``name``, else the pin's name, else
    ``block_pin``; made unique among the inputs and pins). Raises GroupError when the block is not in it or the
    pin is exposed already."""
    if comp.block(block_id) is None:
        raise GroupError(f"the composite {comp.name!r} has no block {block_id!r}")
    if any(p.block == block_id and p.pin == pin for p in comp.pins):
        raise GroupError(f"{block_id}.{pin} is exposed already")
    taken = {p.name for p in comp.inputs} | {p.name for p in comp.pins}
    base = readable(name or pin)
    if name is None and base in taken:
        base = readable(f"{block_id}_{pin}")
    new = comp.copy()
    new.pins.append(ExposedPin(unique(base, lambda n: n in taken), block_id, pin))
    return new


def unexpose_pin(page: Page, definition: str, name: str) -> Page:
    """``page`` with the exposed pin ``name`` of the composite ``definition`` no longer exposed: the instances'
    values for it (on the page and in every composite) are dropped, so the inner block's own value applies.
    Raises GroupError when the composite or the pin is not there."""
    comp = page.composites.get(definition)
    if comp is None or comp.pin(name) is None:
        raise GroupError(f"the composite {definition!r} exposes no pin {name!r}")
    comps = _copy_comps(page)
    comps[definition].pins = [p for p in comps[definition].pins if p.name != name]
    blocks = [b.copy() for b in page]
    for b in [*blocks, *(b for c in comps.values() for b in c.blocks)]:
        if b.type == definition:
            b.pins.pop(name, None)
    return _page_like(page, blocks, page.links, comps)


def instances_setting(page: Page, definition: str, name: str) -> int:
    """How many instances of ``definition`` (on the page and in its composites) set the exposed pin ``name``."""
    blocks = [*page, *(b for c in page.composites.values() for b in c.blocks)]
    return sum(1 for b in blocks if b.type == definition and name in b.pins)


def rename_composite(page: Page, old: str, new: str) -> Page:
    """``page`` with the composite ``old`` named ``new``: its definition (in the same place among the
    definitions), every instance of it on the page and inside the composites that use it. The name is only checked
    against the page's composites (``new`` taken raises GroupError); whether it fits a block type or the library
    is for the caller to say."""
    if old not in page.composites:
        raise GroupError(f"the page has no composite named {old!r}")
    if new in page.composites and new != old:
        raise GroupError(f"the page already has a composite named {new!r}")
    if not new or "/" in new:
        raise GroupError(f"a composite needs a name without '/': {new!r}")
    comps = {}
    for name, c in _copy_comps(page).items():
        if name == old:
            name = c.name = new
        comps[name] = c
    blocks = [b.copy() for b in page]
    for b in [*blocks, *(b for c in comps.values() for b in c.blocks)]:
        if b.type == old:
            b.type = new
    return _page_like(page, blocks, page.links, comps)


def exposed_as(comp: Composite, block_id: str, pin: str) -> str | None:
    """The name under which ``block_id.pin`` is exposed, or None."""
    return next((p.name for p in comp.pins if p.block == block_id and p.pin == pin), None)
