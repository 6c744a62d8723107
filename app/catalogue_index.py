"""Listing and searching block types for ``enuflow blocks`` and the editor's palette."""

from __future__ import annotations

import argparse
import json
import sys

from blocks import REGISTRY


def cli(ns: argparse.Namespace) -> int:
    if ns.name:
        b = REGISTRY.get(ns.name)
        if b is None:
            hint = REGISTRY.suggest(ns.name)
            more = f"; did you mean {' or '.join(hint)}?" if hint else ""
            print(f"enuflow: unknown block type '{ns.name}'{more}", file=sys.stderr)
            return 2
        if ns.json:
            d = b.describe()
            d["doc"] = b.doc
            print(json.dumps(d))
        else:
            print(f"{b.name}  [{b.category}]\n\n{b.doc}")
        return 0
    rows = []
    for b in REGISTRY.all():
        if ns.category and b.category != ns.category:
            continue
        if ns.search and ns.search.lower() not in (b.name + " " + b.doc).lower():
            continue
        rows.append(b)
    if ns.json:
        print(json.dumps([b.describe() for b in rows]))
    else:
        for b in rows:
            print(f"{b.name:40s} {b.category:18s} {b.summary[:70]}")
    return 0
