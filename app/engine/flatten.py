"""Flattening composite instances before a page is checked and built (ARCHITECTURE.md section 4a).

``flatten(page)`` gives a page without instances: each instance ``d1`` of a composite is replaced by its inner
blocks, named by path (``d1/mm``; nested composites give ``outer/inner/mm``), the instance's pins set on the
exposed inner pins, and links to and from the instance rewired to the inner ports its exposed inputs and outputs
name. ``Flat.aliases`` maps each instance's exposed output (``("d1", "y")``) to the inner output that gives it, so
results can be reported under the instance too; ``Flat.scoped`` holds the path ids, whose ops take the path as
their name scope. A block may carry ``"op_name"`` (kept in its ``extra``): the name its op takes in the built graph
(an instance: the name scope of its inner ops), relative to its composite's scope, instead of its id; an empty
one gives an instance no scope of its own. ``Flat.op_names`` holds those names by path, so a model folded into
composites for reading (``app.document.formats.model_fold``) builds with the model's own op names. A page without
instances comes back as it is. Problems (a link to a port the composite does not
expose, a path that clashes with a block id) are values in ``Flat.problems``, never raised.
Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from enuflow.app.document.composites import Composite
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.engine.problems import BuildError

Port = tuple[str, str]


@dataclass
class Flat:
    """A page with its composite instances replaced by their inner blocks."""

    page: Page
    #: (instance path, exposed output) -> (inner block path, port)
    aliases: dict[Port, Port] = field(default_factory=dict)
    #: the ids of blocks that came from composites (their ops are named by path)
    scoped: frozenset[str] = frozenset()
    #: block path -> the name its op takes, for blocks whose op is not named by their path (``"op_name"``)
    op_names: dict[str, str] = field(default_factory=dict)
    problems: list[BuildError] = field(default_factory=list)


@dataclass
class _Expanded:
    """One instance expanded: where its exposed inputs and outputs lead, and its leaf blocks (for ``^`` links)."""

    ins: dict[str, list[Port]]
    outs: dict[str, Port]
    leaves: list[str]


class _Flattener:
    """One flattening in progress: the blocks and links made so far."""

    def __init__(self, page: Page) -> None:
        self.comps = page.composites
        self.page = page
        self.blocks: list[BlockInstance] = []
        self.links: list[Link] = []
        self.aliases: dict[Port, Port] = {}
        self.scoped: set[str] = set()
        self.op_names: dict[str, str] = {}
        self.problems: list[BuildError] = []
        self.taken = {b.id for b in page if b.type not in self.comps}

    def expand(self, path: str, inst: BlockInstance, comp: Composite, scope: str) -> _Expanded:
        """Add the inner blocks and links of instance ``inst`` (at ``path``, its ops in name scope ``scope``);
        returns where its ports lead."""
        inner = {b.id: _copy(b) for b in comp.blocks}
        for p in comp.pins:
            if p.name in inst.pins and p.block in inner:
                inner[p.block].pins[p.pin] = inst.pins[p.name]
        nested: dict[str, _Expanded] = {}
        leaves: list[str] = []
        for b in inner.values():
            sub = f"{path}/{b.id}"
            if b.device is None and inst.device is not None:
                b.device = inst.device
            c = self.comps.get(b.type)
            own = _op_name(b, pop=True)
            op_name = _join(scope, b.id if own is None else own)
            if c is not None:
                nested[b.id] = self.expand(sub, b, c, op_name)
                leaves.extend(nested[b.id].leaves)
                continue
            if sub in self.taken:
                self.problems.append(BuildError(path, None, f"the inner block {sub!r} has the id of another "
                                                               "block of the page; rename that block"))
                continue
            self.taken.add(sub)
            self.scoped.add(sub)
            if op_name and op_name != sub:
                self.op_names[sub] = op_name
            b.id = sub
            b.pos = (inst.pos[0] + b.pos[0], inst.pos[1] + b.pos[1])
            self.blocks.append(b)
            leaves.append(sub)
        ex = _Expanded({}, {}, leaves)
        resolve = _Resolver(path, nested, self.problems)
        for ln in comp.links:
            self.connect(resolve.sources(ln.src, ln.src_port), resolve.targets(ln.dst, ln.dst_port))
        for p in comp.inputs:
            ex.ins[p.name] = [t for bid, port in p.to for t in resolve.targets(bid, port)]
        for p in comp.outputs:
            got = resolve.sources(*p.src)
            if got:
                ex.outs[p.name] = got[0]
                self.aliases[(path, p.name)] = got[0]
        return ex

    def connect(self, sources: list[Port], targets: list[Port]) -> None:
        for s in sources:
            for t in targets:
                self.links.append(Link(s[0], s[1], t[0], t[1]))


class _Resolver:
    """Turns an end of a link inside a composite (or on the page: ``path`` empty) into the flat ports it means."""

    def __init__(self, path: str, nested: dict[str, _Expanded], problems: list[BuildError]) -> None:
        self.prefix = f"{path}/" if path else ""
        self.nested = nested
        self.problems = problems

    def sources(self, bid: str, port: str) -> list[Port]:
        ex = self.nested.get(bid)
        if ex is None:
            return [(self.prefix + bid, port)]
        if port == "^":
            return [(leaf, "^") for leaf in ex.leaves]
        if port not in ex.outs:
            self.problems.append(BuildError(self.prefix + bid, port, f"no output {port!r}: the composite's "
                                            f"outputs are {', '.join(ex.outs) or 'none'}"))
            return []
        return [ex.outs[port]]

    def targets(self, bid: str, port: str) -> list[Port]:
        ex = self.nested.get(bid)
        if ex is None:
            return [(self.prefix + bid, port)]
        if port == "^":
            return [(leaf, "^") for leaf in ex.leaves]
        if port not in ex.ins:
            self.problems.append(BuildError(self.prefix + bid, port, f"no input {port!r}: the composite's "
                                            f"inputs are {', '.join(ex.ins) or 'none'}"))
            return []
        return ex.ins[port]


def _copy(b: BlockInstance) -> BlockInstance:
    """An inner block for one instance: its own pins and extra dicts, the values in them shared (a flat page's
    pins are read, never changed in place; deep copies of a folded model's thousand blocks cost more than the rest
    of the flattening)."""
    return BlockInstance(b.id, b.type, b.pos, dict(b.pins), b.label, b.collapsed, b.device, dict(b.extra))


def _op_name(b: BlockInstance, pop: bool = False) -> str | None:
    """A block's own ``"op_name"`` (taken out of a copy's ``extra`` with ``pop``), None when it has none."""
    name = b.extra.pop("op_name", None) if pop else b.extra.get("op_name")
    return name.strip("/") if isinstance(name, str) else None


def _join(scope: str, name: str) -> str:
    return f"{scope}/{name}" if scope and name else scope or name


def has_instances(page: Page) -> bool:
    comps = page.composites
    return bool(comps) and any(b.type in comps for b in page)


def flatten(page: Page) -> Flat:
    """``page`` with its composite instances replaced by their inner blocks (``page`` itself when it has none)."""
    if not has_instances(page):
        return Flat(page, op_names=_own_op_names(page))
    f = _Flattener(page)
    f.op_names.update(_own_op_names(page))
    nested: dict[str, _Expanded] = {}
    for b in page:
        comp = f.comps.get(b.type)
        if comp is None:
            f.blocks.append(b)
        else:
            own = _op_name(b)
            nested[b.id] = f.expand(b.id, b, comp, b.id if own is None else own)
    resolve = _Resolver("", nested, f.problems)
    link_extra = {}
    for ln in page.links:
        if ln.src in nested or ln.dst in nested:
            f.connect(resolve.sources(ln.src, ln.src_port), resolve.targets(ln.dst, ln.dst_port))
        else:
            f.links.append(ln)
            if ln in page.link_extra:
                link_extra[ln] = page.link_extra[ln]
    flat = Page(page.name)
    flat.fill(f.blocks, f.links)
    flat.view, flat.results, flat.extra = page.view, page.results, page.extra
    flat.data_path, flat.link_extra, flat.folder = page.data_path, link_extra, page.folder
    return Flat(flat, f.aliases, frozenset(f.scoped), f.op_names, f.problems)


def _own_op_names(page: Page) -> dict[str, str]:
    """The page's own blocks (not instances) that name their op (``"op_name"``)."""
    comps = page.composites
    out = {}
    for b in page:
        if b.extra and b.type not in comps:
            name = _op_name(b)
            if name:
                out[b.id] = name
    return out


def display_order(page: Page) -> list[BlockInstance]:
    """The page's blocks for a table of results: each composite instance's inner blocks (named by path; nested
    instances likewise) followed by the instance itself, other blocks as they are, in page order."""
    comps = page.composites
    if not comps:
        return page.blocks
    out: list[BlockInstance] = []

    def add(path: str, b: BlockInstance, seen: tuple[str, ...]) -> None:
        comp = comps.get(b.type)
        if comp is not None and b.type not in seen:
            for inner in comp.blocks:
                add(f"{path}/{inner.id}", inner, seen + (b.type,))
        out.append(b if b.id == path else BlockInstance(path, b.type, b.pos, label=b.label))

    for b in page:
        add(b.id, b, ())
    return out
