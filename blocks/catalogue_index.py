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
import json
import re
import sys
from typing import Any

from enuflow.blocks import REGISTRY, catalogue
from enuflow.blocks.base import Attr, Block, Port

_WORD = re.compile(r"[a-z0-9_]+")


def _bits(mask: int) -> list[int]:
    """The indices of the set bits of ``mask``, ascending."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class _Index:
    """Entries of one registry state, with what search needs precomputed.

    Each entry's haystack is its lowercase name and the distinct words of its doc. For speed, every
    substring of one to three characters of every word maps to a bitmask of the entries having it:
    a term of up to three characters is answered by one lookup; a longer one by AND-ing the masks of its
    trigrams, then checking the few candidates. The gram table is built on the first search.
    """

    def __init__(self, blocks: list[Block]) -> None:
        self.blocks = blocks
        self.entries: list[dict[str, Any]] = []
        self.names: list[str] = []
        self.words: list[frozenset[str]] = []
        for b in blocks:
            d = b.describe()
            d["doc"] = b.doc
            self.entries.append(d)
            self.names.append(b.name.lower())
            self.words.append(frozenset(_WORD.findall((b.doc or "").lower())) | {b.name.lower()})
        self.categories = sorted({d["category"] for d in self.entries})
        self._grams: dict[str, int] | None = None
        self._hays: list[str] = []
        self._cat_masks: dict[str, int] = {}

    def _build(self) -> dict[str, int]:
        word_mask: dict[str, int] = {}
        for i, ws in enumerate(self.words):
            bit = 1 << i
            for w in ws:
                word_mask[w] = word_mask.get(w, 0) | bit
        grams: dict[str, int] = {}
        for w, m in word_mask.items():
            n = len(w)
            for size in (1, 2, 3):
                for j in range(n - size + 1):
                    g = w[j:j + size]
                    grams[g] = grams.get(g, 0) | m
        self._hays = [" ".join(ws) for ws in self.words]
        for i, e in enumerate(self.entries):
            self._cat_masks[e["category"]] = self._cat_masks.get(e["category"], 0) | (1 << i)
        self._grams = grams
        return grams

    def _mask(self, term: str) -> int:
        grams = self._grams if self._grams is not None else self._build()
        if len(term) <= 3:
            return grams.get(term, 0)
        mask = -1
        for j in range(len(term) - 2):
            mask &= grams.get(term[j:j + 3], 0)
            if not mask:
                return 0
        hays = self._hays
        for i in _bits(mask):
            if term not in hays[i]:
                mask &= ~(1 << i)
        return mask

    def search(self, text: str, category: str | None = None) -> list[dict[str, Any]]:
        terms = _WORD.findall(text.lower())
        entries = self.entries
        if not terms:
            return [e for e in entries if category is None or e["category"] == category]
        mask = -1
        for t in terms:
            mask &= self._mask(t)
        if category is not None:
            mask &= self._cat_masks.get(category, 0)
        names = self.names
        whole = "".join(terms)
        first = terms[0]
        # name matches first: the exact name, names starting with the first word, names containing every
        # word; then doc matches; each group stays in name order (entries are sorted by name)
        exact: list[int] = []
        starts: list[int] = []
        inside: list[int] = []
        doc: list[int] = []
        for i in _bits(mask):
            name = names[i]
            if first not in name:
                doc.append(i)
            elif name == whole:
                exact.append(i)
            elif len(terms) > 1 and not all(t in name for t in terms):
                doc.append(i)
            else:
                (starts if name.startswith(first) else inside).append(i)
        return [entries[i] for i in exact + starts + inside + doc]


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
        # inert blocks only stand in for unknown symbols of imported pages: nobody places one by hand
        _index = _Index([merged[k] for k in sorted(merged) if not merged[k].inert])
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


def _extra_rows(extra: list[dict[str, Any]], text: str, category: str | None) -> list[dict[str, Any]]:
    """The entries of ``extra`` (composites of the library) that ``--search`` and ``--category`` keep."""
    words = text.lower().split()
    return [e for e in extra if (category is None or e["category"] == category)
            and all(w in (e["name"] + " " + e["summary"]).lower() for w in words)]


def cli(ns: argparse.Namespace, extra: list[dict[str, Any]] | None = None) -> int:
    """``enuflow blocks [NAME] [--category C] [--search TEXT] [--json]``; returns the exit status. ``extra``: more
    entries to list after the block types (the library's composites), each with the keys of ``--json``'s objects,
    ``"row"`` (its line in the table) and ``"text"`` (what ``enuflow blocks NAME`` shows)."""
    extra = extra or []
    if ns.name:
        named = next((e for e in extra if e["name"] == ns.name), None)
        b = REGISTRY.get(ns.name)
        if b is None and named is not None:
            print(json.dumps({k: v for k, v in named.items() if k not in ("row", "text")}) if ns.json
                  else named["text"])
            return 0
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
    cats += sorted({e["category"] for e in extra} - set(cats))
    if ns.category and ns.category not in cats:
        print(f"enuflow: unknown category '{ns.category}' (categories: {', '.join(cats)})", file=sys.stderr)
        return 2
    more = _extra_rows(extra, ns.search or "", ns.category)
    rows = search(ns.search or "", ns.category) if ns.category not in {e["category"] for e in extra} else []
    if ns.json:
        keep = ("name", "category", "summary", "origin", "io", "dangerous", "unavailable", "inputs", "outputs",
                "attrs")
        sys.stdout.write(json.dumps([{k: e[k] for k in keep} for e in rows]
                                    + [{k: v for k, v in e.items() if k not in ("row", "text")} for e in more]) + "\n")
    else:
        idx = _current()
        by_name = {b.name: b for b in idx.blocks}
        sys.stdout.write("\n".join([_row(by_name[e["name"]]) for e in rows] + [e["row"] for e in more]) + "\n")
        print(f"({len(rows)} block types" + (f", {len(more)} composites" if more else "") + ")", file=sys.stderr)
    return 0
