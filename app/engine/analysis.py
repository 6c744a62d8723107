"""Checking a page before anything is built: types, ports, links, pin values, cycles.

``analyse(page)`` resolves every block type against the registry, parses every pin value, checks every
link, and collects every problem at once, each naming its block and port. It needs no TensorFlow
when the block types are hand-declared or the catalogue cache is present. Its result also carries the
page's *structure signature*: two pages with the same signature build the same TensorFlow graph, so
a run after a value edit feeds the new values into the graph already built. With an ``AnalysisCache``
(the runner keeps one), a page whose structure is unchanged is checked again by re-reading only the pins
that changed (``app.engine.pins`` reads a block's pins; ``app.engine.problems`` holds ``BuildError``). A block
that carries a graph needs ``--allow-io`` when that graph's ops do (``app.engine.io_gate``). A page with composite
instances is checked flattened (``app.engine.flatten``): ``Analysis.page`` is then the flat page, its inner blocks
named by path (``d1/mm``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from enuflow.app.gcpause import paused_gc
from enuflow.app.document import data_folder as df
from enuflow.app.document import datafile
from enuflow.app.document.page import Link, Page
from enuflow.app.document.values import ValueParseError, np_name, parse_attr
from enuflow.app.engine import io_gate, run_to
from enuflow.app.engine.io_gate import carries_graph  # noqa: F401  (the editor asks it through the page checks)
from enuflow.app.engine.run_to import needed_ids  # noqa: F401  (the editor's Run to Here asks it likewise)
from enuflow.app.engine.flatten import flatten
from enuflow.app.engine.pins import Pins, block_pins, dat_missing, pin_needs, unset_pins
from enuflow.app.engine.problems import BuildError
from enuflow.blocks.base import REGISTRY, Block, Registry, split_indexed


@dataclass
class SessionPlan:
    """What the page's ClientSession asks for (or None values when the page has none)."""

    block: str | None = None
    fetches: list[tuple[str, str]] = field(default_factory=list)
    targets: list[tuple[str, str]] = field(default_factory=list)
    steps: int = 1
    infinite: bool = False
    device: str = ""
    show_debug: bool = False
    #: the ClientSession's ``optimize`` pin: auto, on or off (see ``app.engine.session_options``)
    optimize: str = "auto"
    #: the ClientSession's ``epochs`` pin: train in that many epochs (``app.engine.epochs``); 0: run steps
    epochs: int = 0


@dataclass
class Analysis:
    """Everything known about a page before building it."""

    page: Page
    decls: dict[str, Block]
    attrs: dict[str, dict[str, Any]]
    values: dict[str, dict[str, np.ndarray]]
    inputs: dict[str, dict[str, list[Link]]]
    #: gives the block graph (``dag``), made on first use: building a page in order does not need it
    make_dag: Callable[[], nx.DiGraph]
    errors: list[BuildError]
    bad: set[str]
    plan: SessionPlan

    @property
    def signature(self) -> str:
        """A digest of what shapes this page's TensorFlow graph (``signature``), made on first use: a first
        build needs none, only a later run that asks whether it can reuse the graph."""
        if self._signature is None:
            self._signature = signature(self.page, self, self._st)
        return self._signature

    @property
    def dag(self) -> nx.DiGraph:
        """The blocks and links as a networkx graph (an edge per linked pair of blocks)."""
        return self.make_dag()

    def order(self) -> list[str]:
        """Blocks in dependency order (producers first); blocks on cycles are left out."""
        if self.topological is not None:
            return list(self.topological)
        g = self.dag.subgraph(n for n in self.dag if n not in self.cyclic)
        return list(nx.topological_sort(g))

    cyclic: set[str] = field(default_factory=set)
    #: every block in dependency order, when the page has no cycle (found while looking for cycles)
    topological: list[str] | None = None
    #: problems that do not stop a run (e.g. inert blocks kept from an imported page)
    warnings: list[BuildError] = field(default_factory=list)
    #: blocks whose carried graph needs ``--allow-io`` (``app.engine.io_gate``): errors too unless allowed
    graph_io: list[BuildError] = field(default_factory=list)
    #: an exposed output of a composite instance -> the inner output that gives it (``app.engine.flatten``)
    aliases: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    #: the ids of blocks that came from composites: paths (``d1/mm``) whose ops are named by the path
    scoped: frozenset[str] = frozenset()
    #: the blocks a run to them was asked for (``app.engine.run_to``): the page holds only what they need, and a
    #: run runs all of it whatever the ClientSession fetches; empty for a run of the whole page
    to: tuple[str, ...] = ()
    #: control links: block -> the blocks it runs after (``{"from": [a, "^"], "to": [b, "^"]}``), in link order
    controls: dict[str, list[str]] = field(default_factory=dict)
    #: block path -> its op's name where that is not the path (a block's ``"op_name"``: ``app.engine.flatten``)
    op_names: dict[str, str] = field(default_factory=dict)
    #: Consts whose value is built into the graph: a small whole-number value wired into an input whose numbers
    #: TensorFlow's shape functions read (``SHAPE_PORTS``), so that the shapes after it are known when the page is
    #: built (a layer's weights need their input's last dimension); editing such a value rebuilds the graph
    baked: frozenset[str] = frozenset()
    _st: _Structure | None = None
    _signature: str | None = None


@dataclass
class _Structure:
    """What the analysis of a page finds from its structure alone (block types, links, settings), not from
    the values typed into its value pins: reused as it is while only values change (``AnalysisCache``)."""

    key: tuple
    decls: dict[str, Block]
    inputs: dict[str, dict[str, list[Link]]]
    ids: list[str]
    edges: list[tuple[str, str]]
    errors: list[BuildError]
    bad: set[str]
    sessions: list[str]
    warnings: list[BuildError]
    cyclic: set[str]
    order: list[str] | None
    digest: str = ""
    #: control links: block -> the blocks it runs after
    controls: dict[str, list[str]] = field(default_factory=dict)
    #: the blocks that carry a graph (``io_gate.carriers``), found on the first analysis that asks
    carriers: list[str] | None = None
    #: the Consts wired into a ``SHAPE_PORTS`` input of an op block (``shape_consts``), found on first use
    shape_sources: frozenset[str] | None = None
    _dag: nx.DiGraph | None = None

    def dag(self) -> nx.DiGraph:
        if self._dag is None:
            dag = nx.DiGraph()
            dag.add_nodes_from(self.ids)
            dag.add_edges_from(self.edges)
            self._dag = dag
        return self._dag


class AnalysisCache:
    """The last analysis's structure and parsed pins, so that analysing a page again after a value edit
    re-reads only the blocks whose pins changed.

    The structure (block ids, types, devices, labels, links, settings, everything but the values typed into
    value pins) is compared as a whole; when it differs in anything, all is analysed afresh. Values read
    from the page's data file are read again at every analysis.
    """

    def __init__(self) -> None:
        self.structure: _Structure | None = None
        self.blocks: dict[str, Pins] = {}
        self.registry: Registry | None = None

    def clear(self) -> None:
        self.structure, self.blocks, self.registry = None, {}, None


def _unset(needy: dict[Block, tuple[bool, frozenset[str]] | None], bid: str, decl: Block,
           inputs: dict[str, dict[str, Any]]) -> list[BuildError]:
    """The problems of block ``bid``, which has no pin set: the inputs it must have that are neither wired nor set
    (none for most blocks: what a type needs is found once per type, ``_needs``)."""
    needs = needy[decl] if decl in needy else _needs(needy, decl)
    if needs is None:
        return []
    wired = inputs.get(bid) or _NO_INPUTS
    if not needs[0] and wired.keys() >= needs[1]:
        return []  # every input it must have is wired (most blocks)
    return unset_pins(bid, decl, wired)


@paused_gc
def analyse(page: Page, registry: Registry = REGISTRY, allow_io: bool = False,
            cache: AnalysisCache | None = None, to: Sequence[str] | None = None) -> Analysis:
    """Check ``page`` and parse its pins; never raises for a problem of the page itself.

    With a ``cache`` (kept by the caller between analyses of one page), a page whose structure is unchanged
    reuses the structure found before, and the parsed pins of its blocks whose pins are unchanged. With ``to``
    (block names), only those blocks and what they need are checked (``app.engine.run_to``): the rest of the page
    is left out, as if it were not there.
    """
    flat = flatten(page)
    if to:
        flat = run_to.needed(flat, to)
    page = flat.page
    folder = df.data_folder(page)
    st = _cached_structure(page, registry, allow_io, folder, cache)
    kept = cache.blocks if cache is not None else None

    errors = list(st.errors) + flat.problems
    bad = set(st.bad) | {e.block for e in flat.problems if e.block is not None}
    warnings = list(st.warnings)
    decls, inputs = st.decls, st.inputs
    attrs: dict[str, dict[str, Any]] = {}
    values: dict[str, dict[str, np.ndarray]] = {}

    def err(block: str | None, port: str | None, message: str) -> None:
        errors.append(BuildError(block, port, message))
        if block is not None:
            bad.add(block)

    # pins (absolute Windows paths looked for in the page's data folder)
    needy: dict[Block, tuple[bool, frozenset[str]] | None] = {}  # what a block with no pin set needs (``_needs``)
    for b in page:
        bid = b.id
        decl = decls.get(bid)
        if decl is None or decl.inert:
            continue
        if kept is None and not b.pins and not b.extra:  # most blocks of a big page: nothing typed in
            attrs[bid] = {}
            values[bid] = {}
            found = _unset(needy, bid, decl, inputs)
            if found:
                errors.extend(found)
                bad.add(bid)
            continue
        got = kept.get(b.id) if kept is not None else None
        if got is None or not same_pins(got.pins, b.pins):
            got = block_pins(page, b, decl, inputs.get(b.id, {}), folder, kept is not None)
            if kept is not None:
                if got.paths or any(datafile.is_ref(v) for v in b.pins.values()):
                    kept.pop(b.id, None)  # a value from the data file is read again next time
                else:
                    kept[b.id] = got
        attrs[b.id] = got.attrs
        values[b.id] = got.values
        if got.errors:
            errors.extend(got.errors)
            bad.add(b.id)
        for pin, text in got.paths:
            f = df.data_file(b, pin, text, folder)
            problem = f.problem(folder)
            if problem is not None:
                warnings.append(BuildError(b.id, pin, problem))

    return _assemble(page, flat, st, attrs, values, errors, bad, warnings, allow_io, to)


def _assemble(page: Page, flat: Any, st: _Structure, attrs: dict[str, dict[str, Any]],
              values: dict[str, dict[str, np.ndarray]], errors: list[BuildError], bad: set[str],
              warnings: list[BuildError], allow_io: bool, to: Sequence[str] | None) -> Analysis:
    """The Analysis of ``page`` once its pins are parsed: graphs that blocks carry checked for file io, the
    session's plan, and what flattening and ``to`` found."""
    decls, inputs = st.decls, st.inputs

    def err(block: str | None, port: str | None, message: str) -> None:
        errors.append(BuildError(block, port, message))
        if block is not None:
            bad.add(block)

    if st.carriers is None:
        st.carriers = io_gate.carriers(page, decls)
    graph_io = io_gate.findings(page, st.carriers, decls, attrs, values, inputs) if st.carriers else []
    if not allow_io:
        for e in graph_io:
            err(e.block, e.port, e.message)
    plan = _session_plan(page, decls, attrs, inputs, st.sessions, err)
    an = Analysis(page, decls, attrs, values, inputs, st.dag, errors, bad, plan)
    an.cyclic = st.cyclic
    an.topological = st.order
    an.warnings = warnings
    an.graph_io = graph_io
    an._st = st
    an.aliases, an.scoped, an.op_names = flat.aliases, flat.scoped, flat.op_names
    an.to = tuple(to or ())
    an.controls = st.controls
    if st.shape_sources is None:
        st.shape_sources = shape_consts(decls, inputs)
    if st.shape_sources:
        an.baked = frozenset(b for b in st.shape_sources
                             if all(bakeable(v) for v in (values.get(b) or {}).values()))
    return an


#: inputs whose numbers TensorFlow's shape functions read (a shape, an axis, a size): a Const wired into one is built
#: into the graph when its value is small and whole (``bakeable``), not fed, so that static shapes are known
SHAPE_PORTS = frozenset({"shape", "dims", "axis", "reduction_indices", "dimension", "dim", "perm", "multiples",
                         "paddings", "split_dim", "size_splits", "depth", "begin", "end", "strides", "size",
                         "block_shape", "crops", "num_segments"})
#: the most elements a Const built into the graph for a shape input may have
BAKED_ELEMENTS = 64


def bakeable(arr: np.ndarray) -> bool:
    """Whether a Const's value wired into a shape input is built into the graph: whole numbers, at most
    ``BAKED_ELEMENTS`` of them."""
    return arr.dtype.kind in "iu" and arr.size <= BAKED_ELEMENTS


def shape_consts(decls: dict[str, Block], inputs: dict[str, dict[str, list[Link]]]) -> frozenset[str]:
    """The blocks whose output is their pin value fed (Consts) wired into a ``SHAPE_PORTS`` input of an op block."""
    found: set[str] = set()
    for bid, ports in inputs.items():
        if decls[bid].origin != "opdef":
            continue
        for pname, lns in ports.items():
            if pname not in SHAPE_PORTS:
                continue
            for ln in lns:
                src = decls.get(ln.src)
                fed = src.fed_output if src is not None else None
                if fed is not None and ln.src_port == fed[0]:
                    found.add(ln.src)
    return frozenset(found)


def _needs(needy: dict[Block, tuple[bool, frozenset[str]] | None], decl: Block) -> tuple[bool, frozenset[str]] | None:
    """What a block of type ``decl`` with no pin set needs (kept in ``needy``): None when nothing, else whether it
    has a required pin and the inputs it must have wired (``pin_needs``)."""
    attr_needs, port_needs = pin_needs(decl)
    needs = needy[decl] = (bool(attr_needs), frozenset(port_needs)) if attr_needs or port_needs else None
    return needs


def _cached_structure(page: Page, registry: Registry, allow_io: bool, folder: Any,
                      cache: AnalysisCache | None) -> _Structure:
    """The structure of ``page``: the cache's when the page's structure is the one it holds, else found afresh
    (and kept in the cache, cleared first)."""
    key = structure_key(page, registry, allow_io, folder)
    if cache is not None:
        if cache.structure is not None and cache.registry is registry and cache.structure.key == key:
            return cache.structure
        cache.clear()
    st = _structure(page, registry, allow_io, key)
    if cache is not None:
        cache.structure, cache.registry = st, registry
    return st


def structure_key(page: Page, registry: Registry, allow_io: bool, folder: Any) -> tuple:
    """Everything of ``page`` that its analysis reads except the values typed into value pins (those the
    runner feeds): two pages with equal keys differ at most in those values."""
    value_pins: dict[str, frozenset[str]] = {}
    blocks = []
    for b in page:
        pins = b.pins
        if pins:
            names = value_pins.get(b.type)
            if names is None:
                decl = registry.get(b.type)
                names = value_pins[b.type] = _value_pin_names(decl) if decl is not None else frozenset()
            items = [(k, v if type(v) in _ATOMS else _frozen(v)) for k, v in pins.items()
                     if k not in names and not k.startswith("result_")]
            settings = tuple(sorted(items)) if len(items) > 1 else tuple(items)
        else:
            settings = ()
        blocks.append((b.id, b.type, b.device, settings, _frozen(dat_missing(b)) if b.extra else None))
    links = tuple(page.links)  # (links are named tuples: compared and hashed as they are)
    # labels only reach warnings' wording: they are kept apart from what shapes the graph (the signature)
    return (tuple(blocks), links, allow_io, str(folder), page.data_path), tuple(b.label for b in page)


def same_pins(a: Any, b: Any) -> bool:
    """Whether two pin values (or dicts of them) are equal; a pin may hold an array (a Placeholder's value fed from
    a .npy file, ``app.engine.feeds``), which ``==`` cannot tell."""
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        pass
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype \
            and a.shape == b.shape and (np.array_equal(a, b) or  # (NaN equals NaN: the slower test, only then)
                                        (a.dtype.kind in "fc" and np.array_equal(a, b, equal_nan=True)))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_pins(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_pins(x, y) for x, y in zip(a, b))
    return False


def _value_pin_names(decl: Block) -> frozenset[str]:
    """The pins of a block type that hold values (inputs typed in, ``value`` attrs), not settings."""
    return frozenset(p.name for p in decl.inputs) | frozenset(a.name for a in decl.attrs if a.type == "value")


_ATOMS = frozenset({str, int, float, bool, type(None)})


def _frozen(value: Any) -> Any:
    """``value`` (a pin's JSON value) as nested tuples: comparable, hashable, and safe from later edits."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return ("{}",) + tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("[]",) + tuple(_frozen(v) for v in value)
    return (type(value).__name__, repr(value))


def _topological(ids: list[str], succ: dict[str, dict[str, None]], indegree: dict[str, int]) -> list[str] | None:
    """``ids`` in dependency order, as ``networkx.topological_sort`` orders them (generation by generation,
    successors in the order their links came); None when there is a cycle. ``indegree`` (block -> how many blocks
    link into it, for the blocks some block links into) is used up."""
    zero = [n for n in ids if n not in indegree]
    order: list[str] = []
    while zero:
        order.extend(zero)
        generation, zero = zero, []
        for n in generation:
            children = succ.get(n)
            if children:
                for c in children:
                    left = indegree[c] - 1
                    if left:
                        indegree[c] = left
                    else:
                        del indegree[c]
                        zero.append(c)
    return None if indegree else order


_MISSING: Any = object()
_NO_INPUTS: dict[str, list[Link]] = {}
#: records a problem of a block (or of the page, block None) and its port: ``err(block, port, message)``
_Report = Callable[[str | None, str | None, str], None]


def _structure(page: Page, registry: Registry, allow_io: bool, key: tuple) -> _Structure:
    """The part of the analysis that does not read pin values: block types, links, list ports, cycles."""
    errors: list[BuildError] = []
    bad: set[str] = set()

    def err(block: str | None, port: str | None, message: str) -> None:
        errors.append(BuildError(block, port, message))
        if block is not None:
            bad.add(block)

    sessions: list[str] = []
    warnings: list[BuildError] = []
    ids = [b.id for b in page]
    decls, inputs = _block_types(page, registry, allow_io, err, sessions, warnings)
    controls: dict[str, list[str]] = {}
    succ, indegree, edges, many = _links(page, ids, decls, inputs, err, controls)
    for bid, pname in many:
        _repeated_input(bid, pname, inputs[bid][pname], err)
    # cycles (looked for only when the page cannot be put in dependency order)
    cyclic: set[str] = set()
    order = _topological(ids, succ, indegree)
    st = _Structure(key, decls, inputs, ids, edges, errors, bad, sessions, warnings, cyclic, order, controls=controls)
    if order is None:
        for names in _cycles(page, st.dag()):
            cyclic.update(names)
            bad.update(names)
            errors.append(BuildError(names[0], None, "blocks on a cycle: " + " -> ".join(names + names[:1])
                                     + " (a dataflow page cannot feed a block its own output)"))
    return st


def _block_types(page: Page, registry: Registry, allow_io: bool, err: _Report, sessions: list[str],
                 warnings: list[BuildError]) -> tuple[dict[str, Block], dict[str, dict[str, list[Link]]]]:
    """Each block's declaration, by block id, and an empty dict of its wired inputs to fill (``_links``); an unknown
    type is ``err``'s problem (with a suggestion), and ``_block_notes`` reports on the blocks that need a note."""
    decls: dict[str, Block] = {}
    inputs: dict[str, dict[str, list[Link]]] = {}
    hints: dict[str, list[str]] = {}
    types: dict[str, Block | None] = {}
    plain_of: dict[Block, bool] = {}  # a declaration that needs no note: not inert, not the session, may run
    for b in page:
        btype = b.type
        decl = types.get(btype, _MISSING)
        if decl is _MISSING:
            decl = types[btype] = registry.get(btype)
        bid = b.id
        if decl is None:
            # one suggestion search per unknown type (an imported model repeats a few op types many times)
            hint = hints[btype] if btype in hints else hints.setdefault(btype, registry.suggest(btype))
            more = f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else ""
            err(bid, None, f"unknown block type '{btype}'{more}")
            continue
        decls[bid] = decl
        inputs[bid] = {}
        plain = plain_of.get(decl)
        if plain is None:
            plain = plain_of[decl] = not (decl.inert or decl.name == "ClientSession" or decl.unavailable
                                          or (decl.io and not allow_io))
        if not plain:
            _block_notes(b, decl, allow_io, err, sessions, warnings)
    return decls, inputs


def _block_notes(b: Any, decl: Block, allow_io: bool, err: _Report, sessions: list[str],
                 warnings: list[BuildError]) -> None:
    """What the page's check says of block ``b`` of type ``decl`` for its type alone: an inert block's warning, the
    ClientSession found (appended to ``sessions``), the problem of a type that cannot run here or may not."""
    bid = b.id
    if decl.inert:
        warnings.append(BuildError(bid, None, f"'{b.label or bid}' is kept as an inert block ({decl.name}): "
                                              "it builds nothing and the run skips it"))
    if decl.name == "ClientSession":
        sessions.append(bid)
    if decl.unavailable:
        err(bid, None, f"{decl.name} cannot run here: {decl.unavailable}")
    if decl.io and not allow_io:
        err(bid, None, f"{decl.name} reads or writes files or acts on the process; it runs only when "
                       f"allowed (enuflow run --allow-io, or confirm in the editor)")


def _links(page: Page, ids: list[str], decls: dict[str, Block], inputs: dict[str, dict[str, list[Link]]],
           err: _Report, controls: dict[str, list[str]]) -> tuple[dict[str, dict[str, None]], dict[str, int],
                                                                   list[tuple[str, str]], list[tuple[str, str]]]:
    """Check every link against the ports of the blocks it joins and fill ``inputs`` (per block, per input, its
    links in page order) and ``controls`` (per block, the blocks its control links come from). Returns each block's successors (in link order), the number of blocks linked into each
    block that has any, the block graph's edges, and the single inputs given more than one link
    (``_repeated_input``); the problems go to ``err``."""
    on_page = set(ids)
    succ: dict[str, dict[str, None]] = {}
    indegree: dict[str, int] = {}
    edges: list[tuple[str, str]] = []
    #: per declaration: inert or not, its single (not list) outputs, its inputs by name
    ports_of: dict[Block, tuple[bool, frozenset[str], dict[str, Any]]] = {}
    many: list[tuple[str, str]] = []  # (block, single input) given more than one link
    next_iterations = {bid for bid, d in decls.items() if d.name == "NextIteration"}  # loops' back edges start here
    for ln in page.links:
        src, sport, dst, dport = ln
        if src not in on_page or dst not in on_page:
            missing = src if src not in on_page else dst
            err(None, None, f"link {ln} names block '{missing}', which is not on the page")
            continue
        if (sport == "^" or dport == "^") and not _control(ln, controls, err):
            continue
        if src not in next_iterations or not _back_edge(decls, src, dst):
            children = succ.get(src)
            if children is None:
                children = succ[src] = {}
            if dst not in children:
                children[dst] = None
                indegree[dst] = indegree.get(dst, 0) + 1
            edges.append((src, dst))
        if sport == "^":
            continue
        sd, dd = decls.get(src), decls.get(dst)
        if sd is not None:
            s_info = ports_of.get(sd)
            if s_info is None:
                s_info = ports_of[sd] = (sd.inert, sd.single_outputs(), sd.input_map())
            if s_info[0]:
                continue  # an inert block's ports are whatever the imported page gave it; the builder skips it
        if dd is not None:
            d_info = ports_of.get(dd)
            if d_info is None:
                d_info = ports_of[dd] = (dd.inert, dd.single_outputs(), dd.input_map())
            if d_info[0]:
                continue
        if sd is not None and sport not in s_info[1]:
            _check_output(page, sd, ln, err)
        if dd is not None:
            port = d_info[2].get(dport)
            if port is None:
                _not_an_input(dd, ln, err)
                continue
            wired = inputs[dst]
            lns = wired.get(dport)
            if lns is None:
                wired[dport] = [ln]
            else:
                lns.append(ln)
                if len(lns) == 2 and not port.is_list:
                    many.append((dst, dport))
    return succ, indegree, edges, many


def _back_edge(decls: dict[str, Block], src: str, dst: str) -> bool:
    """Whether a link from ``src`` to ``dst`` closes a loop as TensorFlow's lowered ``while_loop`` does: a
    ``NextIteration`` into a ``Merge`` (the Merge is built first and takes it afterwards: ``builder``). Such a link
    does not order its blocks, so that a loop is no cycle of the page."""
    sd = decls.get(src)
    if sd is None or sd.name != "NextIteration":
        return False
    dd = decls.get(dst)
    return dd is not None and dd.name == "Merge"


def _control(ln: Link, controls: dict[str, list[str]], err: _Report) -> bool:
    """Record control link ``ln`` (``^`` to ``^``: its destination runs after its source) in ``controls``; False,
    with the problem given to ``err``, when only one end is ``^`` or it links a block to itself."""
    src, sport, dst, dport = ln
    if sport != dport:
        err(dst, dport, f"link from '{src}.{sport}': a control link goes from the '^' port of one block to the '^' "
                        "port of another; a data link joins an output to an input")
        return False
    if src == dst:
        err(dst, "^", "a control link cannot order a block after itself")
        return False
    got = controls.setdefault(dst, [])
    if src not in got:
        got.append(src)
    return True


def _check_output(page: Page, sd: Block, ln: Link, err: _Report) -> None:
    """The problem, if any, of link ``ln`` leaving its source (of type ``sd``) from a port that is not one of the
    source's single outputs: fine for a numbered output of a list port that exists with the source's pins; else
    an input port or an output the source lacks."""
    src, sport, dst, dport = ln
    src_attrs = page.block(src).pins
    if sd.has_output(sport, list_counts(sd, src_attrs)):
        return
    base, _ = split_indexed(sport)
    if sd.input(base) is not None:
        err(dst, dport, f"link from '{src}.{sport}': that is an input port; wires go from an output to an input")
    else:
        names = ", ".join(sd.output_names(list_counts(sd, src_attrs))) or "none"
        err(src, sport, f"{sd.name} has no output '{sport}' (outputs: {names})")


def _not_an_input(dd: Block, ln: Link, err: _Report) -> None:
    """The problem of link ``ln`` ending at a port its destination (of type ``dd``) has no input of that name
    for: a setting, an output, or no port at all."""
    src, sport, dst, dport = ln
    if dd.attr(dport) is not None:
        err(dst, dport, f"'{dport}' is a setting of {dd.name}, not an input; it cannot be wired")
    elif dd.has_output(dport):
        err(dst, dport, f"link from '{src}.{sport}' ends at an output port")
    else:
        names = ", ".join(p.name for p in dd.inputs) or "none"
        err(dst, dport, f"{dd.name} has no input '{dport}' (inputs: {names})")


def _repeated_input(bid: str, pname: str, lns: list[Link], err: _Report) -> None:
    """The problem of single input ``pname`` of ``bid`` given the links ``lns`` (more than one): a list port takes
    its links in order, the same one repeated too (AddN(a, b, a)); one input does not."""
    counts = Counter(lns)
    srcs = ", ".join(f"'{x.src}.{x.src_port}'" + (f" {counts[x]} times" if counts[x] > 1 else "") for x in counts)
    err(bid, pname, f"input '{pname}' takes one link but has {len(lns)} (from {srcs})")


def _cycles(page: Page, dag: nx.DiGraph) -> list[list[str]]:
    """The blocks on each cycle of the block graph ``dag`` (a strongly connected part of more than one block, or a
    block linked to itself), in page order."""
    cycles = []
    for comp in nx.strongly_connected_components(dag):
        if len(comp) > 1 or any(dag.has_edge(n, n) for n in comp):
            cycles.append([b.id for b in page if b.id in comp])
    return cycles


def list_counts(decl: Block, pins: dict[str, Any]) -> dict[str, Any]:
    """The count attrs of a block's list outputs (number attrs, type-list attrs) read from raw pin values,
    for naming its numbered output ports before the page is built; unparsable values are left out."""
    out: dict[str, Any] = {}
    for p in decl.outputs:
        for key, kind in ((p.number_attr, "int"), (p.type_list_attr, "list(type)")):
            if key and key in pins:
                try:
                    out[key] = parse_attr(pins[key], kind)
                except ValueParseError:
                    pass
    return out


def _session_plan(page: Page, decls: dict[str, Block], attrs: dict[str, dict[str, Any]],
                  inputs: dict[str, dict[str, list[Link]]], sessions: list[str], err: Any) -> SessionPlan:
    if not sessions:
        return SessionPlan()
    if len(sessions) > 1:
        for s in sessions[1:]:
            err(s, None, f"a page has one ClientSession; '{sessions[0]}' is already it")
    sid = sessions[0]
    a = attrs.get(sid, {})
    plan = SessionPlan(block=sid, steps=int(a.get("steps", 1) or 1), infinite=bool(a.get("INFINITE_LOOP", False)),
                       device=str(a.get("device", "") or ""), show_debug=bool(a.get("SHOW_DEBUG", False)))
    if plan.steps < 1:
        err(sid, "steps", "steps must be at least 1")
        plan.steps = 1
    plan.epochs = int(a.get("epochs", 0) or 0)
    if plan.epochs < 0:
        err(sid, "epochs", "epochs must be 0 (run steps) or more")
        plan.epochs = 0
    optimize = str(a.get("optimize", "auto") or "auto").strip().lower()
    if optimize in ("auto", "on", "off"):
        plan.optimize = optimize
    else:
        err(sid, "optimize", f"optimize is {a.get('optimize')!r}; choose auto, on or off")
    for ln in inputs.get(sid, {}).get("fetch_outputs", []):
        plan.fetches.append((ln.src, ln.src_port))
    for ln in inputs.get(sid, {}).get("run_outputs", []):
        plan.targets.append((ln.src, ln.src_port))
    return plan


def signature(page: Page, an: Analysis, structure: _Structure) -> str:
    """A digest of everything that shapes the TensorFlow graph: the page's structure, which blocks have
    problems, and the dtype and shape of each value fed (not the values themselves, but for the blocks that control
    links order and the Consts wired into shape inputs, ``Analysis.baked``: their values are Consts in the graph,
    ``builder``)."""
    if not structure.digest:
        structure.digest = hashlib.blake2b(repr(structure.key[0]).encode(), digest_size=16).hexdigest()
    fed = [(bid, k, np_name(v.dtype), v.shape) for bid, vals in an.values.items() for k, v in vals.items()]
    h = hashlib.blake2b(digest_size=16)
    h.update(structure.digest.encode())
    h.update(repr((sorted(an.bad), fed)).encode())
    for bid in [*an.controls, *sorted(an.baked)]:
        for _k, v in sorted((an.values.get(bid) or {}).items()):
            h.update(v.tobytes() if v.dtype.kind != "O" else repr(v.tolist()).encode())
    return h.hexdigest()


__all__ = ["Analysis", "AnalysisCache", "BuildError", "SessionPlan", "analyse", "list_counts"]
