"""Importing a large enuSpace page against parsing the same file as plain XML.

Generates an enuSpace 3.x page SVG (UTF-16 LE with BOM, one attribute per line as enuSpace 3.x saves)
of 2,000 blocks in chains of Const -> Multiply -> Subtract -> Mean -> MatMul with attrs strings, inline
values, links and a trend, then times ``app.document.formats.load`` (decode, defusedxml parse, records, name
mapping, value grammars, ordering, Page) against reading, decoding and parsing the same file with
``defusedxml.ElementTree`` alone, in alternating pairs after a warm-up pair (``bench/common.py``). Prints
both times and, last, ``ratio <n>`` (import / parse, median of the pair ratios; target <= 3).

The baseline, reading + decoding + ``defusedxml`` parsing, is the least any safe importer of the file
must do; defusedxml over the C ElementTree parser is the fastest safe XML parse in the standard stack.

    .venv/bin/python bench/enuspace_import.py [--blocks 2000] [--pairs 7]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import finish, paired, show, timed  # noqa: E402


def _use(bid: str, symbol: str, x: float, y: float, pins: list[tuple[str, str, str, str]]) -> str:
    lines = ["\t<use", f'\t\tid="{bid}"', '\t\ttype="tensorflow"', '\t\tstroke="rgb(0,119,189)"',
             '\t\tstroke-opacity="1.00"', '\t\tstroke-width="1.00"',
             f'\t\ttransform="translate({x:.2f},{y:.2f}) rotate(0.00) scale(1.0000, 1.0000)"',
             '\t\tpg-xcenter="0.00"', '\t\tpg-ycenter="0.00"', f'\t\txlink:href="#{symbol}"', '\t\tx="0.00"',
             '\t\ty="0.00"', "\t>"]
    for name, shape, vt, value in pins:
        lines.append(f'\t\t<pg-set-pin variable="#{name}{shape}" auto="true" shape="{shape}" var-type="{vt}" '
                     f'value="{value}"/>')
    lines.append("\t</use>")
    return "\n".join(lines)


def _link(i: int, a: str, ap: str, b: str, bp: str) -> str:
    return (f'\t<polyline\n\t\tid="ID_P{i}"\n\t\tstroke-opacity="1.00"\n\t\ttransform="translate(10.00,20.00) '
            f'rotate(0.00) scale(1.0000, 1.0000)"\n\t\tpoints="0.000000,0.000000 54.000000,0.000000 '
            f'54.000000,102.881073 148.203369,102.881073"\n\t\tpg-begin-arrow-type="circle"\n\t>\n'
            f'\t\t<pg-link\n\t\t\tid="ID_L{i}"\n\t\t\tfrom-id="{a}"\n\t\t\tparam-from="{ap}"\n\t\t\tto-id="{b}"\n'
            f'\t\t\tparam-to="{bp}"\n\t\t>\n\t\t</pg-link>\n\t</polyline>')


def generate(n_blocks: int) -> str:
    """An enuSpace 3.x page of about ``n_blocks`` blocks."""
    parts = ['<?xml version="1.0" encoding="UTF-16"?>',
             ('<svg\n\tid="ID_PAGE"\n\tenuspace-version="3.0.3.0"\n\txmlns="http://www.w3.org/2000/svg"\n'
             '\txmlns:xlink="http://www.w3.org/1999/xlink"\n\twidth="30000"\n\theight="30000"\n>')]
    scope = ("scope", "", "string", "scope")
    n_links = 0
    chain = 0
    count = 0
    while count + 6 <= n_blocks:
        c = f"ID_C{chain}"
        y = 200.0 * chain
        parts.append(_use(f"{c}_A", "Const", 0, y, [("val", "[2][2]", "double", "1.000000;2.000000;3.000000;4.000000"),
                                                     ("output", "", "string", ""), scope,
                                                     ("result_output", "[2][2]", "double", "0.000000")]))
        parts.append(_use(f"{c}_M", "Multiply", 150, y, [("x", "", "string", "0.1"), ("y", "", "string", ""),
                                                          ("z", "", "string", ""), scope]))
        parts.append(_use(f"{c}_S", "Subtract", 300, y, [("x", "", "string", ""), ("y", "", "string", "{1.0f}"),
                                                          ("z", "", "string", ""), scope]))
        parts.append(_use(f"{c}_B", "Const", 300, y + 80, [("val", "[2][2]", "double", "{1,0,0,1}"),
                                                           ("output", "", "string", ""), scope]))
        parts.append(_use(f"{c}_MM", "MatMul", 450, y, [("a", "", "string", ""), ("b", "", "string", ""),
                                                        ("attrs", "", "string", "transpose_a_ = false;transpose_b_ = true;"),
                                                        ("product", "", "string", ""), scope]))
        parts.append(_use(f"{c}_MEAN", "Mean", 600, y, [("input", "", "string", ""), ("axis", "", "string", "{0,1}"),
                                                         ("attrs", "", "string", "keep_dims_ =false;"),
                                                         ("output", "", "string", ""), scope]))
        for a, ap, b, bp in ((f"{c}_A", "output", f"{c}_M", "y"), (f"{c}_M", "z", f"{c}_S", "x"),
                             (f"{c}_S", "z", f"{c}_MM", "a"), (f"{c}_B", "output", f"{c}_MM", "b"),
                             (f"{c}_MM", "product", f"{c}_MEAN", "input")):
            parts.append(_link(n_links, a, ap, b, bp))
            n_links += 1
        chain += 1
        count += 6
    while count < n_blocks:
        parts.append(_use(f"ID_X{count}", "Const", 900, 50.0 * count, [("val", "", "double", "1.0"), scope]))
        count += 1
    parts.append('\t<pg-trend id="ID_T" yview-min="0" yview-max="1"><pg-trendtitle title="cost"/>'
                 '<pg-trendseries variable="ID_C0_MEAN.result_output"/></pg-trend>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=2000)
    ap.add_argument("--pairs", type=int, default=7)
    ns = ap.parse_args()
    import defusedxml.ElementTree as DET

    from enuflow.app.document.formats import load

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big_page.svg"
        path.write_bytes(b"\xff\xfe" + generate(ns.blocks).encode("utf-16-le"))
        size = path.stat().st_size

        def plain() -> None:
            text = path.read_bytes().decode("utf-16")
            DET.fromstring(text.split("?>", 1)[1])

        def imported() -> None:
            page = load(path)
            assert len(page) == ns.blocks, len(page)

        res = paired(timed(imported), timed(plain), pairs=ns.pairs)
    print(f"page: {ns.blocks} blocks, {size / 1e6:.1f} MB (UTF-16)")
    show(res, "enuSpace import to a Page", "plain XML parse (defusedxml)", unit="ms", scale=1000)
    finish(res.ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
