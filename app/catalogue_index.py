"""Listing and searching block types for ``enuflow blocks`` and the editor's palette.

The palette reads ``entries()``, ``categories()`` and ``search()``; none of them imports TensorFlow:
with the catalogue cache present (``cache_ready()``) they list every op of ``tf.raw_ops``, without it
only the hand-declared blocks (``ensure_cache()`` builds the cache, importing TensorFlow once).
Hand-declared blocks win over generated blocks of the same name. Search matches the name and the words
of the doc, name matches first; lowercase haystacks are precomputed so a keystroke's search over the
whole catalogue takes well under a millisecond.
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import sys
from typing import Any

from blocks import REGISTRY, catalogue
from blocks.base import Attr, Block, Port

_WORD = re.compile(r"[a-z0-9_]+")


class _Index:
    """Entries of one registry state with their precomputed search haystacks."""

    def __init__(self, blocks: list[Block]) -> None:
        self.blocks = blocks
        self.entries: list[dict[str, Any]] = []
        self.names: list[str] = []
        parts: list[str] = []
        self.starts: list[int] = []
        pos = 0
        for b in blocks:
            d = b.describe()
            d["doc"] = b.doc
            self.entries.append(d)
            self.names.append(b.name.lower())
            # the distinct words of the doc, once each: a much shorter haystack than the doc itself
            words = " ".join(sorted(set(_WORD.findall((b.doc or "").lower()))))
            hay = f"{b.name.lower()} {words}\n"
            self.starts.append(pos)
            parts.append(hay)
            pos += len(hay)
        self.hay = "".join(parts)
        self.categories = sorted({d["category"] for d in self.entries})

    def _matching(self, term: str) -> set[int]:
        """Indices of entries whose name or doc words contain ``term`` (one scan of the joined haystack)."""
        found: set[int] = set()
        hay, starts = self.hay, self.starts
        n = len(starts)
        pos = hay.find(term)
        while pos != -1:
            i = bisect.bisect_right(starts, pos) - 1
            found.add(i)
            if i + 1 >= n:
                break
            pos = hay.find(term, starts[i + 1])
        return found

    def search(self, text: str, category: str | None = None) -> list[dict[str, Any]]:
        terms = [t for t in re.split(r"\s+", text.lower().strip()) if t]
        if not terms:
            hits = range(len(self.entries))
        else:
            sets = sorted((self._matching(t) for t in terms), key=len)
            hit_set = sets[0].intersection(*sets[1:]) if len(sets) > 1 else sets[0]
            hits = sorted(hit_set)
        whole = text.lower().strip()
        ranked: list[tuple[int, int]] = []
        for i in hits:
            if category is not None and self.entries[i]["category"] != category:
                continue
            name = self.names[i]
            if not terms or name == whole:
                rank = 0
            elif name.startswith(terms[0]) and all(t in name for t in terms):
                rank = 1
            elif all(t in name for t in terms):
                rank = 2
            else:
                rank = 3
            ranked.append((rank, i))
        ranked.sort()
        return [self.entries[i] for _, i in ranked]


_index: _Index | None = None
_index_key: tuple[int, int] | None = None


def _current() -> _Index:
    """The index of the registry as it stands (rebuilt only when the set of blocks changed)."""
    global _index, _index_key
    generated = REGISTRY._generated
    if generated is None and catalogue.cache_ready():
        generated = REGISTRY.generated()
    key = (id(generated) if generated is not None else 0, len(REGISTRY.hand))
    if _index is None or key != _index_key:
        merged: dict[str, Block] = dict(generated or {})
        merged.update(REGISTRY.hand)
        _index = _Index([merged[k] for k in sorted(merged)])
        _index_key = key
    return _index


def cache_ready() -> bool:
    """Whether the catalogue cache for the installed TensorFlow exists (then nothing needs TensorFlow)."""
    return REGISTRY._generated is not None or catalogue.cache_ready()


def ensure_cache() -> None:
    """Build the catalogue cache if it is missing (imports TensorFlow the first time)."""
    REGISTRY.generated()


def entries() -> list[dict[str, Any]]:
    """Every block type as ``Block.describe()`` plus ``"doc"``, sorted by name.

    Without the catalogue cache only the hand-declared blocks are listed (TensorFlow is not imported).
    """
    return list(_current().entries)


def categories() -> list[str]:
    """The categories of the listed block types, sorted."""
    return list(_current().categories)


def search(text: str, category: str | None = None) -> list[dict[str, Any]]:
    """Entries whose name or doc words contain every word of ``text`` (in ``category`` when given).

    Name matches come first (exact name, then names starting with the first word, then names containing
    the words), then doc matches; each group in name order. An empty ``text`` lists all (of the category).
    """
    return _current().search(text, category)


# -- the command line -------------------------------------------------------------------------------

def _port_text(p: Port) -> str:
    if p.kind == "operation":
        return f"{p.name} (op)"
    t = p.dtype or "any"
    if p.list_of == "number":
        t = f"{p.number_attr} x {t}"
    elif p.list_of == "type_list":
        t = f"list {p.type_list_attr}"
    elif p.list_of == "any":
        t = f"list of {t}"
    if p.kind in ("ref", "resource", "variant"):
        t = f"{t} {p.kind}" if p.kind == "ref" else p.kind
    return f"{p.name}{'[]' if p.is_list else ''}: {t}"


def _marks(b: Block) -> str:
    out = []
    if b.unavailable:
        out.append("unavailable")
    if b.io:
        out.append("io")
    if b.dangerous:
        out.append("dangerous")
    return f" [{', '.join(out)}]" if out else ""


def _row(b: Block) -> str:
    ins = ", ".join(_port_text(p) for p in b.inputs)
    outs = ", ".join(_port_text(p) for p in b.outputs)
    settable = [a.name for a in b.attrs if not a.inferred]
    attrs = f"   attrs: {', '.join(settable)}" if settable else ""
    return f"{b.name}  ({b.category}){_marks(b)}  {b.summary}\n    ({ins}) -> ({outs}){attrs}"


def _attr_text(a: Attr) -> str:
    bits = [a.type]
    if a.inferred:
        bits.append("inferred from what is wired")
    if a.has_default:
        bits.append(f"default {json.dumps(a.default)}")
    elif a.required:
        bits.append("required")
    if a.allowed:
        bits.append("one of " + ", ".join(map(str, a.allowed)))
    if a.minimum is not None:
        bits.append(f"minimum {a.minimum}")
    text = f"  {a.name}: {'; '.join(bits)}"
    return text + (f"\n      {a.doc}" if a.doc else "")


def show(b: Block) -> str:
    """One block's full declaration and doc, for people."""
    lines = [f"{b.name}  ({b.category}){_marks(b)}"]
    if b.op_name and b.op_name != b.name:
        lines.append(f"TensorFlow op: {b.op_name}")
    if b.unavailable:
        lines.append(f"cannot run here: {b.unavailable}")
    if b.io:
        lines.append("reads or writes files or acts on the process: runs only with --allow-io "
                     "(or when confirmed in the editor)")
    if b.dangerous:
        lines.append("may crash or hang the process it runs in")
    lines += ["", (b.doc or "(no documentation)").rstrip(), "", "Inputs:"]
    for p in b.inputs:
        note = " (takes several links, in link order)" if p.is_list else ""
        note += " (optional)" if p.optional else ""
        lines.append(f"  {_port_text(p)}{note}" + (f"\n      {p.doc}" if p.doc else ""))
    if not b.inputs:
        lines.append("  (none)")
    lines.append("Outputs:")
    for p in b.outputs:
        note = f" (numbered {p.name}[0], {p.name}[1], ...)" if p.is_list else ""
        lines.append(f"  {_port_text(p)}{note}" + (f"\n      {p.doc}" if p.doc else ""))
    if not b.outputs:
        lines.append("  (none)")
    lines.append("Attrs:")
    lines += [_attr_text(a) for a in b.attrs] or ["  (none)"]
    return "\n".join(lines)


def cli(ns: argparse.Namespace) -> int:
    """``enuflow blocks [NAME] [--category C] [--search TEXT] [--json]``; returns the exit status."""
    if ns.name:
        b = REGISTRY.get(ns.name)
        if b is None:
            hint = REGISTRY.suggest(ns.name, n=5)
            hint += [e["name"] for e in search(ns.name)[:5] if e["name"] not in hint]
            more = f"; did you mean {', '.join(hint[:5])}?" if hint else ""
            print(f"enuflow: unknown block type '{ns.name}'{more}", file=sys.stderr)
            return 2
        if ns.json:
            d = b.describe()
            d["doc"] = b.doc
            print(json.dumps(d))
        else:
            print(show(b))
        return 0
    ensure_cache()
    cats = categories()
    if ns.category and ns.category not in cats:
        print(f"enuflow: unknown category '{ns.category}' (categories: {', '.join(cats)})", file=sys.stderr)
        return 2
    rows = search(ns.search or "", ns.category)
    if ns.json:
        keep = ("name", "category", "summary", "origin", "io", "dangerous", "unavailable", "inputs", "outputs",
                "attrs")
        sys.stdout.write(json.dumps([{k: e[k] for k in keep} for e in rows]) + "\n")
    else:
        idx = _current()
        by_name = {b.name: b for b in idx.blocks}
        sys.stdout.write("\n".join(_row(by_name[e["name"]]) for e in rows) + "\n")
        print(f"({len(rows)} block types)", file=sys.stderr)
    return 0
