"""What a failed step may run again, and which parts of a step run apart (the design is told in
``app.engine.runner``).

``StepLayout(built)`` reads a built graph once: which blocks have *effects* (an op that is stateful or
takes a ref or resource input), the connected parts of the graph (op and control inputs, ignoring the
edges out of fed values), and which blocks are *pure* (no effects in them or upstream): a failed step
fetches its pure results again (``is_pure``). ``calls`` cuts a step into its session calls: one, but for
the parts holding a block that failed in an earlier run. Graphs without any op with effects skip the walk
over the edges (all their blocks are pure, and their step is always one call).
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from enuflow.app.engine.builder import BuiltGraph

_EFFECT_TYPES: dict[str, bool] = {}


def has_effects(op_type: str) -> bool:
    """Whether an op of this type may change state: stateful, or taking a ref or resource input."""
    known = _EFFECT_TYPES.get(op_type)
    if known is None:
        from tensorflow.python.framework import op_def_registry

        od = op_def_registry.get(op_type)
        known = od is None or od.is_stateful or any(a.is_ref or a.type == 20 for a in od.input_arg)  # 20: resource
        _EFFECT_TYPES[op_type] = known
    return known


class StepLayout:
    """A built graph's effects, parts and pure blocks (see the module's doc)."""

    def __init__(self, built: BuiltGraph) -> None:
        self.built = built
        ops = built.graph.get_operations()
        def block_of(name: str) -> str:  # an op of no block (the page's training flag) counts as the page's, ""
            return built.block_of_op(name) or ""

        names = [op.name for op in ops]
        owner = [block_of(n) for n in names]
        self.effects: set[str | None] = {b for op, b in zip(ops, owner) if has_effects(op.type)}
        self.root: dict[str | None, str | None] = {}
        self.pure: set[str | None] = set()
        self._calls: dict[tuple, list[tuple[list, list]]] = {}
        if not self.effects:
            return
        fed = {s.placeholder.op.name for s in built.slots}
        parent: dict[str | None, str | None] = {}

        def find(x: str | None) -> str | None:
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        preds: dict[str | None, set[str | None]] = {}
        for op, b in zip(ops, owner):
            find(b)
            for src in [t.op for t in op.inputs] + list(op.control_inputs):
                if src.name in fed:
                    continue  # a fed value: each group is fed it on its own
                sb = block_of(src.name)
                if sb != b:
                    preds.setdefault(b, set()).add(sb)
                    ra, rb = find(b), find(sb)
                    if ra != rb:
                        parent[ra] = rb
        self.root = {b: find(b) for b in parent}
        g = nx.DiGraph()
        g.add_nodes_from(parent)
        g.add_edges_from((p, b) for b, ps in preds.items() for p in ps)
        try:
            order = list(nx.topological_sort(g))
        except nx.NetworkXUnfeasible:
            order = []  # a cycle across blocks: nothing is taken as pure
        for b in order:
            if b not in self.effects and all(p in self.pure for p in g.predecessors(b)):
                self.pure.add(b)
        self._effect_roots = {self.root.get(b, b) for b in self.effects}

    def owner(self, key: tuple[str, str]) -> str | None:
        """The block whose op makes ``key``: a block may hand on another block's tensor or op (``Operation``,
        pass-through outputs), and what runs is that op, in that block's part of the graph."""
        t = self.built.tensors.get(key)
        op = getattr(t, "op", None) if t is not None else self.built.operations.get(key)
        name = getattr(op, "name", None)
        return self.built.block_of_op(name) if name else key[0]

    def is_pure(self, key: tuple[str, str]) -> bool:
        """Whether fetching ``key`` runs no op with effects (so it may be fetched again)."""
        return not self.effects or self.owner(key) in self.pure

    def calls(self, keys: list[tuple[str, str]], targets: list[tuple[str, str]],
              apart: frozenset[str]) -> list[tuple[list[tuple[str, str]], list[tuple[str, str]]]]:
        """The session calls of a step, as (keys, targets): one for the whole step, but for the parts of the
        graph that hold a block of ``apart`` (blocks that failed in an earlier run of this graph), each run
        after it in a call of its own, in the order of their first block on the page, so that their failure
        costs the other parts nothing."""
        if not apart or not self.effects:
            return [(keys, targets)]
        sig = (tuple(keys), tuple(targets), apart)
        out = self._calls.get(sig)
        if out is not None:
            return out
        roots = {self.root.get(b, b) for b in apart}
        rest = object()  # the parts without such a block
        parts: dict[Any, tuple[list, list]] = {}
        for i, ks in enumerate((keys, targets)):
            for k in ks:
                b = self.owner(k)
                r = self.root.get(b, b)
                parts.setdefault(r if r in roots else rest, ([], []))[i].append(k)
        out = [parts.pop(rest)] if rest in parts else []
        at = {b.id: i for i, b in enumerate(self.built.analysis.page)}
        first = {r: min(at.get(self.owner(k), len(at)) for k in ks + ts) for r, (ks, ts) in parts.items()}
        out += [parts[r] for r in sorted(parts, key=lambda r: first[r])]
        if len(self._calls) < 64:
            self._calls[sig] = out
        return out
