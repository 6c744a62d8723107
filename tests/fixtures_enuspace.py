"""Writers of small enuSpace-format files for the importer's tests (so they run on a clean clone).

``EnuPage`` describes a page as enuSpace saves it: blocks (``use`` elements with their ``pg-set-pin``
values), links (``pg-link``), trends and texts. ``svg(version)`` writes it the way enuSpace 3.x
(one attribute per line, ``var-type``) or 4.x (one element per line, ``type``) does; ``json()`` writes
the task export. ``write_utf16`` saves text as enuSpace does: UTF-16 LE with a BOM.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr


@dataclass
class EnuPin:
    value: str = ""
    var_type: str = "string"
    shape: str = ""
    binary_pos: int | None = None  # set: the value lives in <page>.dat at this offset
    datatype: str = ""
    interface: str = "Input"


@dataclass
class EnuBlock:
    id: str
    symbol: str
    pos: tuple[float, float] = (0.0, 0.0)
    pins: dict[str, EnuPin] = field(default_factory=dict)
    library: str = "tensorflow"


@dataclass
class EnuLink:
    src: str
    src_pin: str
    dst: str
    dst_pin: str
    hidden: bool = False


@dataclass
class EnuPage:
    blocks: list[EnuBlock] = field(default_factory=list)
    links: list[EnuLink] = field(default_factory=list)
    trends: list[dict[str, Any]] = field(default_factory=list)
    texts: list[tuple[str, tuple[float, float]]] = field(default_factory=list)

    def block(self, bid: str, symbol: str, pos: tuple[float, float] = (0.0, 0.0), library: str = "tensorflow",
              **pins: Any) -> EnuBlock:
        """Add a block; pin values are text, or (value, var_type, shape) tuples, or EnuPin."""
        b = EnuBlock(bid, symbol, pos, library=library)
        if library != "logic":
            b.pins["scope"] = EnuPin("scope", interface="Scope")
        for name, v in pins.items():
            if isinstance(v, EnuPin):
                b.pins[name] = v
            elif isinstance(v, tuple):
                b.pins[name] = EnuPin(*v)
            else:
                b.pins[name] = EnuPin(str(v))
        self.blocks.append(b)
        return b

    def link(self, src: str, src_pin: str, dst: str, dst_pin: str, hidden: bool = False) -> None:
        self.links.append(EnuLink(src, src_pin, dst, dst_pin, hidden))

    # -- SVG --------------------------------------------------------------------------------
    def svg(self, version: int = 4) -> str:
        new = version >= 4
        ver = "4.0.3.0" if new else "3.0.3.0"
        sep = " " if new else "\n\t\t"
        out = ['<?xml version="1.0" encoding="UTF-16"?>',
               (f'<svg id="ID_PAGE" enuspace-version="{ver}" xmlns="http://www.w3.org/2000/svg" '
               'xmlns:xlink="http://www.w3.org/1999/xlink" width="1920" height="1080">')]
        for text, (x, y) in self.texts:
            out.append(f'\t<text id="T{len(out)}" transform="translate({x},{y}) rotate(0) scale(1, 1)" '
                       f'font-size="20.0">\n{text}\n\t</text>')
        for b in self.blocks:
            x, y = b.pos
            tr = f"translate({x:.2f},{y:.2f}) rotate(0.00) scale(1.0000, 1.0000)" if not new else \
                f"translate({x:g},{y:g}) rotate(0) scale(1, 1)"
            attrs = [f'id="{b.id}"', f'type="{b.library}"', f'transform="{tr}"', f'xlink:href="#{b.symbol}"',
                     'x="0.00"', 'y="0.00"']
            out.append("\t<use" + sep + sep.join(attrs) + ("" if new else "\n\t") + ">")
            for name, p in b.pins.items():
                var = f"#{name}{p.shape}"
                if b.library == "logic":
                    out.append(f'\t\t<pg-set-pin variable="{var}" value={quoteattr(p.value)}/>')
                    continue
                type_key = "type" if new else "var-type"
                if p.binary_pos is not None:
                    out.append(f'\t\t<pg-set-pin variable="{var}" save-type="binary" auto="true" shape="{p.shape}" '
                               f'{type_key}="{p.var_type}" binary-pos="{p.binary_pos}"/>')
                else:
                    out.append(f'\t\t<pg-set-pin variable="{var}" auto="true" shape="{p.shape}" '
                               f'{type_key}="{p.var_type}" value={quoteattr(p.value)}/>')
            out.append("\t</use>")
        for i, ln in enumerate(self.links):
            hidden = ' hidden="true"' if ln.hidden else ""
            typ = ' type="tensorflow"' if new else ""
            link = (f'<pg-link id="L{i}"{typ} from-id="{ln.src}" param-from="{ln.src_pin}" to-id="{ln.dst}" '
                    f'param-to="{ln.dst_pin}"{hidden}></pg-link>')
            if not new:
                link = link.replace(" ", "\n\t\t\t").replace("<pg-link\n\t\t\t", "<pg-link\n\t\t\t")
            out.append(f'\t<polyline id="P{i}" transform="translate(0,0) rotate(0) scale(1, 1)" '
                       f'points="0,0 10,0">\n\t\t{link}\n\t</polyline>')
        for t in self.trends:
            series = "".join(f'<pg-trendseries variable="{v}"/>' for v in t["series"])
            out.append(f'\t<pg-trend id="{t["id"]}" yview-min="{t["ymin"]}" yview-max="{t["ymax"]}" '
                       f'transform="translate(10,20) rotate(0) scale(1, 1)"><pg-trendtitle title="{t["title"]}"/>'
                       f'<pg-trendgraph>{series}</pg-trendgraph></pg-trend>')
        out.append("</svg>")
        return "\n".join(out) + "\n"

    # -- JSON task export ---------------------------------------------------------------------
    def json(self) -> str:
        objects = []
        for b in self.blocks:
            ins, outs = [], []
            for name, p in b.pins.items():
                entry = {"pin-name": name, "pin-type": p.var_type, "pin-save": "binary" if p.binary_pos is not None
                         else "text", "pin-shape": p.shape, "pin-interface": p.interface,
                         "pin-datatype": p.datatype, "pin-initial": p.value}
                if p.binary_pos is not None:
                    entry["pin-binary-pos"] = str(p.binary_pos)
                is_output = p.interface in ("Output", "std::vector<Tensor>")
                if is_output:
                    targets = [ln for ln in self.links if ln.src == b.id and ln.src_pin == name]
                    for ln in targets or [None]:
                        e = dict(entry)
                        if ln is None:
                            e.update({"out-symbol-name": "", "out-symbol-id": "", "out-symbol-pin-name": "",
                                      "out-symbol-pin-type": ""})
                        else:
                            e.update({"in-symbol-name": "#" + self.symbol_of(ln.dst), "in-symbol-id": ln.dst,
                                      "in-symbol-pin-name": ln.dst_pin, "in-symbol-pin-interface": "Input"})
                        outs.append(e)
                else:
                    sources = [ln for ln in self.links if ln.dst == b.id and ln.dst_pin == name]
                    for ln in sources or [None]:
                        e = dict(entry)
                        if ln is None:
                            e.update({"in-symbol-name": "", "in-symbol-id": "", "in-symbol-pin-name": "",
                                      "in-symbol-pin-type": ""})
                        else:
                            e.update({"in-symbol-name": "#" + self.symbol_of(ln.src), "in-symbol-id": ln.src,
                                      "in-symbol-pin-name": ln.src_pin, "in-symbol-pin-interface": "Output"})
                        ins.append(e)
            objects.append({"symbol-name": "#" + b.symbol, "id": b.id, "input": ins, "output": outs})
        return json.dumps({"object": objects}, indent="\t")

    def symbol_of(self, bid: str) -> str:
        return next(b.symbol for b in self.blocks if b.id == bid)


def write_utf16(path: Path, text: str) -> Path:
    """Save ``text`` as enuSpace does: UTF-16 LE with a BOM, LF line ends."""
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    return path


def out_pin(name: str = "output") -> EnuPin:
    return EnuPin("", interface="Output")


def basic_add(val_a: str = "1,2,3,4", val_b: str = "1,2,3,4", shape: str = "[2][2]") -> EnuPage:
    """enuSpace's basic sample: two [2][2] Consts -> Add -> ClientSession."""
    pg = EnuPage()
    for bid, val, y in (("ID_A", val_a, 100), ("ID_B", val_b, 300)):
        pg.block(bid, "Const", (100, y), val=(val, "double", shape), output=out_pin())
    pg.block("ID_ADD", "Add", (300, 200), x="", y="", z=out_pin("z"))
    pg.block("ID_S", "ClientSession", (500, 200), device="/cpu:0", fetch_outputs="", run_outputs="",
             SHOW_DEBUG=("FALSE", "bool"), INFINITE_LOOP=("FALSE", "bool"))
    pg.link("ID_A", "output", "ID_ADD", "x")
    pg.link("ID_B", "output", "ID_ADD", "y")
    pg.link("ID_ADD", "z", "ID_S", "fetch_outputs")
    return pg
