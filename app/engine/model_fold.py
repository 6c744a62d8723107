"""A model's page folded by TensorFlow name scopes into nested composite blocks (ARCHITECTURE.md section 4a).

``fold(page, lay_out, known)`` takes the flat page of a model (``formats.model_page``: one block per node, ids the node
names) and gives a page whose blocks are the top of the model's scope hierarchy, as TensorBoard's graph view shows
it: each name scope a composite instance, its ops and sub-scopes inside. What stays on the page itself:
Placeholders, the ClientSession and the Initializer, the outputs they fetch or run, and nodes in no scope.

Readability rules:

- a scope with fewer than ``MIN_OPS`` ops in all, or with one member only, is no composite: its members stand in
  its parent, named ``scope`` (one op: the op's type shows what it is) or ``scope.member``;
- a model wrapped in one outer scope (``mobilenetv2_1.00_96/...``) opens on the inside of that scope;
- a level with more than ``SERIES_LIMIT`` members groups the scopes whose names share a numbered head
  (``block_1_expand``, ``block_1_depthwise``, ... into ``block_1``; TensorBoard's series), the members then named
  without the head (``expand``, ``depthwise``), so that repeated structures read alike;
- a block whose list input (``ConcatV2.values``) takes several wires stands where all of them come from, so the
  order of its inputs cannot change when the page is flattened.

Every block keeps its model op name: where its id or path differs from it, the block carries ``"op_name"`` (its
op's name, an instance's name scope, relative to its composite's; ``app.engine.flatten``), so the graph built from
the folded page has the model's names. Each composite, and the page, is laid out on its own (``lay_out``).
The folded page is checked by flattening it again: it must give back the model's blocks and wires (per list port
in order); when it does not, the flat page is kept, with a warning. Imports neither TensorFlow nor Qt (the editor
folds a model it reads itself).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from enuflow.app.document.composites import Composite, ExposedInput, ExposedOutput
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.engine.flatten import flatten

#: a scope with fewer ops than this (all its sub-scopes' included) is not made a composite
MIN_OPS = 3
#: a level with more members than this groups numbered series of scopes
SERIES_LIMIT = 40
#: block types that stay on the page itself
TOP_TYPES = frozenset({"Placeholder", "ClientSession", "Initializer"})
_DIGIT = re.compile(r"\d")

Port = tuple[str, str]


@dataclass(eq=False)
class _Item:
    """A member of a level: an op (``block``) or a container of members (a scope, or a series of scopes)."""

    id: str
    #: the op's name in the model, or the name scope of a container's ops
    full: str
    block: BlockInstance | None = None
    members: list[_Item] = field(default_factory=list)
    #: the place of its first op in the model (members keep the model's order)
    order: int = 0
    #: the id to take when ``id`` is taken by another member of its level
    alt: str | None = None
    ops: int = 1
    #: a block of the page itself whose id is kept (a Placeholder's id is what feeds it)
    kept: bool = False


@dataclass(eq=False)
class _Scope:
    name: str
    full: str
    order: int
    scopes: dict[str, _Scope] = field(default_factory=dict)
    leaves: list[tuple[str, BlockInstance, int]] = field(default_factory=list)


def fold(page: Page, lay_out: Callable[[Page], None], known: Callable[[str], object] = lambda _n: None) -> Page:
    """``page`` (a model's flat page, not yet laid out) folded by name scope, every level laid out with
    ``lay_out``; ``page`` itself, laid out, when it has no scope worth a composite or folding would change it.
    ``known`` tells the names of block types (no composite takes one)."""
    top_ids = _kept_on_top(page)
    root = _scope_tree(page, top_ids)
    items = [_Item(b.id, b.id, b, order=i, kept=True) for i, b in enumerate(page) if b.id in top_ids]
    inner = _members(root)
    while len(inner) == 1 and inner[0].block is None:  # the model in one outer scope: open inside it
        inner = inner[0].members
    if len(items) + len(inner) > SERIES_LIMIT:
        inner = _chunks(_series(inner, ""), SERIES_LIMIT - len(items))
    items = sorted(items + inner, key=lambda m: m.order)
    if all(m.block is not None for m in items):
        lay_out(page)
        return page
    top = _Item("", "", members=items)
    _unique_ids(top)
    _gather_list_inputs(page, top)
    _drop_empty(top)
    folded = _Folder(page, top, known).run()
    problem = _differs(page, folded)
    if problem is not None:
        page.extra.setdefault("import_warnings", []).append(f"the model is shown flat: folding it by name "
                                                             f"scope would change it ({problem})")
        lay_out(page)
        return page
    for comp in folded.composites.values():
        _lay_out_composite(comp, folded, lay_out)
    lay_out(folded)
    return folded


def _kept_on_top(page: Page) -> set[str]:
    """The blocks that stay on the page: sessions, initialisers, Placeholders, what those take, and blocks in no
    scope."""
    top = {b.id for b in page if b.type in TOP_TYPES or "/" not in b.id.strip("/")}
    sinks = {b.id for b in page if b.type in ("ClientSession", "Initializer")}
    top.update(ln.src for ln in page.links if ln.dst in sinks)
    return top


def _scope_tree(page: Page, top_ids: set[str]) -> _Scope:
    root = _Scope("", "", 0)
    for i, b in enumerate(page):
        if b.id in top_ids:
            continue
        parts = b.id.strip("/").split("/")
        s = root
        for k, part in enumerate(parts[:-1]):
            nxt = s.scopes.get(part)
            if nxt is None:
                nxt = s.scopes[part] = _Scope(part, "/".join(parts[:k + 1]), i)
            s = nxt
        s.leaves.append((parts[-1], b, i))
    return root


def _members(scope: _Scope) -> list[_Item]:
    """The members a scope's level shows: its ops, and each sub-scope as a container or lifted into it."""
    items = [_Item(name, b.id, b, order=i) for name, b, i in scope.leaves]
    for sub in scope.scopes.values():
        items.extend(_represent(sub))
    items.sort(key=lambda m: m.order)
    _dedupe(items)
    if len(items) > SERIES_LIMIT:
        items = _chunks(_series(items, scope.full), SERIES_LIMIT)
    return items


def _represent(scope: _Scope) -> list[_Item]:
    """A scope in its parent: one container, or (a small scope, a scope of one member) its members lifted."""
    members = _members(scope)
    ops = sum(m.ops for m in members)
    if ops >= MIN_OPS and len(members) > 1:
        return [_Item(scope.name, scope.full, members=members, order=scope.order, ops=ops)]
    if len(members) == 1:
        m = members[0]
        alt = f"{scope.name}.{m.id}"
        m.id, m.alt = (scope.name, alt) if m.block is not None else (alt, None)
        return [m]
    for m in members:
        m.id, m.alt = f"{scope.name}.{m.id}", None
    return members


def _series_key(name: str) -> str | None:
    """The head a scope name shares with its series: up to its first numbered part (``block_1`` of
    ``block_1_expand_1``), else its first two parts when it has more; None for a name without a head."""
    parts = name.split("_")
    for k, part in enumerate(parts[:-1]):
        if _DIGIT.search(part):
            return "_".join(parts[:k + 1])
    return "_".join(parts[:2]) if len(parts) > 3 or (len(parts) == 3 and not parts[-1].isdigit()) else None


def _series(items: list[_Item], full: str) -> list[_Item]:
    """A crowded level with the scopes of each numbered series (two or more) grouped in one container."""
    groups: dict[str, list[_Item]] = {}
    keys = [_series_key(m.id) for m in items]
    for m, key in zip(items, keys):
        if key:
            groups.setdefault(key, []).append(m)
    out: list[_Item] = []
    done: set[str] = set()
    for m, key in zip(items, keys):
        members = groups.get(key) if key else None
        if not members or len(members) < 2:
            out.append(m)
            continue
        if key in done:
            continue
        done.add(key)
        for x in members:
            short = x.id[len(key) + 1:] if x.id.startswith(key + "_") else ""
            x.id = short if short and not short.isdigit() else x.id  # ``Conv1_1`` (a number only) keeps its name
        out.append(_Item(key, full, members=members, order=members[0].order, ops=sum(x.ops for x in members)))
    return out


def _chunks(items: list[_Item], limit: int) -> list[_Item]:
    """A level still crowded after its series are grouped (``dense_1`` ... ``dense_143``) in runs of members in
    the model's order, each run a container named by its first and last member (``dense_1..dense_4``)."""
    limit = max(limit, 2)
    if len(items) <= limit:
        return items
    size = -(-len(items) // limit)
    out = []
    for k in range(0, len(items), size):
        run = items[k:k + size]
        if len(run) == 1:
            out.append(run[0])
            continue
        full = _common_scope([m.full for m in run])
        out.append(_Item(f"{run[0].id}..{run[-1].id}", full, members=run, order=run[0].order,
                         ops=sum(m.ops for m in run)))
    return out


def _common_scope(names: list[str]) -> str:
    """The longest name scope all of ``names`` are in (or are)."""
    parts = [n.split("/") for n in names]
    common = []
    for level in zip(*parts):
        if any(p != level[0] for p in level):
            break
        common.append(level[0])
    scope = "/".join(common)
    return scope if all(n == scope or n.startswith(scope + "/") for n in names) else ""


def _unique_ids(c: _Item) -> None:
    """Make the ids of every level unique (``_dedupe``)."""
    _dedupe(c.members)
    for m in c.members:
        if m.block is None:
            _unique_ids(m)


def _rank(m: _Item) -> int:
    """Who keeps an id two members want: the page's own blocks, then ops, scopes, lifted members."""
    return -1 if m.kept else 2 if m.alt is not None else 0 if m.block is not None else 1


def _dedupe(items: list[_Item]) -> None:
    """Make the ids of one level unique: an op keeps its name; a scope of the same name (TensorFlow's ``conv`` and
    ``conv/kernel``) is ``conv.scope``; a lifted member takes its long name (``ReadVariableOp.resource``); else a
    number."""
    taken: set[str] = set()
    for m in sorted(items, key=_rank):
        if m.id in taken and m.alt and m.alt not in taken:
            m.id = m.alt
        elif m.id in taken and m.block is None and f"{m.id}.scope" not in taken:
            m.id = f"{m.id}.scope"
        base, k = m.id, 2
        while m.id in taken:
            m.id = f"{base}_{k}"
            k += 1
        taken.add(m.id)


def _paths(top: _Item) -> dict[str, list[_Item]]:
    """Flat block id -> its containers from the page down (the page's own blocks: none)."""
    out: dict[str, list[_Item]] = {}
    stack: list[tuple[_Item, list[_Item]]] = [(top, [])]
    while stack:
        c, chain = stack.pop()
        for m in c.members:
            if m.block is not None:
                out[m.block.id] = chain
            else:
                stack.append((m, chain + [m]))
    return out


def _gather_list_inputs(page: Page, top: _Item) -> None:
    """Move each block whose list input takes several wires up to the level all of them come from."""
    count: dict[Port, int] = {}
    for ln in page.links:
        if ln.dst_port != "^":  # control links into one block: in any order
            count[(ln.dst, ln.dst_port)] = count.get((ln.dst, ln.dst_port), 0) + 1
    many = {key for key, n in count.items() if n > 1}
    if not many:
        return
    paths = _paths(top)
    for ln in page.links:
        if (ln.dst, ln.dst_port) not in many:
            continue
        chain, src = paths[ln.dst], paths[ln.src]
        k = 0
        while k < min(len(chain), len(src)) and chain[k] is src[k]:
            k += 1
        if k < len(chain):
            item = next(m for m in chain[-1].members if m.block is not None and m.block.id == ln.dst)
            chain[-1].members.remove(item)
            parent = chain[k - 1] if k else top
            parent.members.append(item)
            _unique_ids(parent)
            paths = _paths(top)


def _drop_empty(c: _Item) -> None:
    """Remove the containers left without members (their blocks moved up)."""
    for m in [m for m in c.members if m.block is None]:
        _drop_empty(m)
        if not m.members:
            c.members.remove(m)


@dataclass(eq=False)
class _Level:
    """A composite being made: its exposed inputs and outputs, by the model's tensor they carry."""

    item: _Item
    links: list[Link] = field(default_factory=list)
    ins: dict[Port, ExposedInput] = field(default_factory=dict)
    outs: dict[Port, ExposedOutput] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)

    def name(self, want: str, child: str) -> str:
        for n in (want, f"{child}.{want}"):
            if n and "/" not in n and n not in self.names:
                self.names.add(n)
                return n
        k = 2
        while f"{want}_{k}" in self.names:
            k += 1
        self.names.add(f"{want}_{k}")
        return f"{want}_{k}"


class _Folder:
    """Makes the folded page from the display tree: a composite per container, the wires through their ports."""

    def __init__(self, page: Page, top: _Item, known: Callable[[str], object]) -> None:
        self.page = page
        self.known = known
        self.top = top
        self.levels: dict[int, _Level] = {}
        self.paths = _paths(top)
        self.item_of: dict[str, _Item] = {}
        self._index(top)

    def _index(self, c: _Item) -> None:
        self.levels[id(c)] = _Level(c)
        for m in c.members:
            if m.block is not None:
                self.item_of[m.block.id] = m
            else:
                self._index(m)

    def run(self) -> Page:
        for ln in self.page.links:
            self.route(ln)
        out = Page(self.page.name)
        comps: dict[str, Composite] = {}
        blocks = self.blocks(self.top, "", comps)
        out.fill(blocks, self.levels[id(self.top)].links)
        out.composites = comps
        out.extra = dict(self.page.extra)
        out.data_path, out.view = self.page.data_path, self.page.view
        return out

    def route(self, ln: Link) -> None:
        """Carry one wire of the model through the ports of the containers between its ends."""
        cs, cd = self.paths[ln.src], self.paths[ln.dst]
        k = 0
        while k < min(len(cs), len(cd)) and cs[k] is cd[k]:
            k += 1
        key = (ln.src, ln.src_port)
        src = (self.item_of[ln.src].id, ln.src_port)
        for c in reversed(cs[k:]):
            lv = self.levels[id(c)]
            out = lv.outs.get(key)
            if out is None:
                out = lv.outs[key] = ExposedOutput(lv.name(_port_name(src), src[0]), src)
            src = (c.id, out.name)
        dst = (self.item_of[ln.dst].id, ln.dst_port)
        for c in reversed(cd[k:]):
            lv = self.levels[id(c)]
            inp = lv.ins.get(key)
            if inp is not None:
                inp.to.append(dst)
                return
            inp = lv.ins[key] = ExposedInput(lv.name(_port_name(dst), dst[0]), [dst])
            dst = (c.id, inp.name)
        self.levels[id(cd[k - 1] if k else self.top)].links.append(Link(src[0], src[1], dst[0], dst[1]))

    def blocks(self, c: _Item, path: str, comps: dict[str, Composite]) -> list[BlockInstance]:
        """The blocks of level ``c`` (the definitions of its containers added to ``comps``)."""
        made = []
        for m in c.members:
            if m.block is not None:  # the model's block (its pins shared: the flat page is not used again)
                o = m.block
                b = BlockInstance(m.id, o.type, o.pos, o.pins, o.label, o.collapsed, o.device, dict(o.extra))
            else:
                name = _comp_name(f"{path}.{m.id}" if path else m.id, comps, self.known)
                lv = self.levels[id(m)]
                comps[name] = Composite(name, self.blocks(m, name, comps), lv.links, list(lv.ins.values()),
                                        list(lv.outs.values()), [], f"the model's name scope {m.full or '(none)'}")
                b = BlockInstance(m.id, name)
            rel = m.full[len(c.full) + 1:] if c.full and m.full.startswith(c.full + "/") else \
                ("" if m.full == c.full else m.full)
            if rel != m.id and (c is not self.top or m.block is None or m.block.id != m.id):
                b.extra["op_name"] = rel
            made.append(b)
        return made


def _port_name(end: Port) -> str:
    """The name a composite's exposed port wants for wire end ``end``: the port's own, or for a control link
    (``^``) ``^`` and the block's name (a composite's ``^`` port itself means all its blocks)."""
    return "^" + end[0] if end[1] == "^" else end[1]


def _comp_name(want: str, comps: dict[str, Composite], known: Callable[[str], object]) -> str:
    want = want.replace("/", ".")
    name, k = want, 2
    while name in comps or known(name) is not None:
        name = f"{want}_{k}"
        k += 1
    return name


def _lay_out_composite(comp: Composite, page: Page, lay_out: Callable[[Page], None]) -> None:
    inner = Page(comp.name)
    inner.fill(comp.blocks, comp.links)
    inner.composites = page.composites
    lay_out(inner)


def _differs(flat: Page, folded: Page) -> str | None:
    """What flattening ``folded`` changes of ``flat`` (ops by name, and each input port's wires in order), or
    None when nothing."""
    got = flatten(folded)
    if got.problems:
        return str(got.problems[0].message)
    name = {b.id: got.op_names.get(b.id, b.id) for b in got.page}
    if sorted(name.values()) != sorted(b.id for b in flat):
        return "its ops are not the model's"

    def wires(page: Page, rename: dict[str, str] | None) -> dict[Port, list[Port]]:
        out: dict[Port, list[Port]] = {}
        for ln in page.links:
            r = rename or {}
            out.setdefault((r.get(ln.dst, ln.dst), ln.dst_port), []).append((r.get(ln.src, ln.src), ln.src_port))
        for key in [k for k in out if k[1] == "^"]:  # a block's control inputs: a set, not a list
            out[key] = sorted(set(out[key]))
        return out

    if wires(got.page, name) != wires(flat, None):
        return "its wires are not the model's"
    return None


def fold_model(page: Page, registry: object) -> Page:
    """``fold`` with the model importer's layout (``formats.model_page``) and ``registry``'s block types. Levels of
    the same structure (the same ids, sizes, ports and wires: ``block_2`` and ``block_4``) are laid out once and
    alike."""
    from enuflow.app.document.formats.model_page import WRAP, block_sizes
    from enuflow.app.document.layout import auto_layout

    done: dict[tuple, dict[str, tuple[float, float]]] = {}

    def lay_out(p: Page) -> None:
        sizes, anchors = block_sizes(p, registry)
        ids = tuple(b.id for b in p)
        key = (ids, tuple(sizes[i] for i in ids), tuple(p.links), tuple(anchors.items()))
        pos = done.get(key)
        if pos is None:
            pos = done[key] = auto_layout(p, sizes, anchors, wrap=WRAP)
        for bid, xy in pos.items():
            p.block(bid).pos = xy

    return fold(page, lay_out, registry.get)
