"""Opening enuSpace-Tensorflow pages: page SVGs (3.x and 4.x) and JSON task exports.

``load_svg`` and ``load_json_doc`` read a file into plain records (blocks with their pin values,
links, trends, texts); ``app.document.formats.enuspace_page.Importer`` turns the records into a ``Page`` (name
mapping, value grammars, attrs, ``.dat`` data, order, warnings in ``page.extra["import_warnings"]``).
A file that cannot be read as a page raises ``PageFileError``. XML is parsed with defusedxml (no
entities, no DTD, no external references). Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from enuflow.app.document.formats.enuspace_page import INDEXED, Importer, RawBlock, RawLink, RawPin, line_of
from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.document.page import Page

_TRANSLATE = re.compile(r"translate\(\s*([-+0-9.eE]+)[\s,]+([-+0-9.eE]+)\s*\)")

# -- reading SVG -------------------------------------------------------------------------------

def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _attr(el: Any, name: str) -> str:
    v = el.get(name)
    if v is None and name == "href":
        v = el.get("{http://www.w3.org/1999/xlink}href")
    return v if v is not None else ""


def _translate(el: Any) -> tuple[float, float]:
    m = _TRANSLATE.search(el.get("transform", ""))
    x, y = (float(m.group(1)), float(m.group(2))) if m else (0.0, 0.0)
    try:
        x += float(el.get("x", 0) or 0)
        y += float(el.get("y", 0) or 0)
    except ValueError:
        pass
    return x, y


def load_svg(path: str | Path, text: str, data_dir: str | Path | None = None) -> Page:
    """A Page from an enuSpace page SVG (3.x ``var-type`` or 4.x ``type`` pin form); raises PageFileError."""
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    p = str(path)
    if "\x00" in text[:4096]:
        raise PageFileError(p, "holds NUL characters: UTF-16 text without its byte-order mark, or not text at all "
                               "(enuSpace files are UTF-16 LE starting with the bytes FF FE)")
    body = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)  # the text is decoded already
    try:
        root = DET.fromstring(body)
    except ParseError as e:
        line = e.position[0] if getattr(e, "position", None) else None
        if line is not None and body is not text:
            line += text[: len(text) - len(body)].count("\n")
        raise PageFileError(p, f"is not well-formed XML ({str(e).split(':')[0]})", line=line) from None
    except DefusedXmlException as e:
        raise PageFileError(p, f"uses XML entities or a DTD, which enuflow refuses to read ({e})") from None
    if _local(root.tag) != "svg":
        raise PageFileError(p, f"is not an enuSpace page (its root element is <{_local(root.tag)}>, not <svg>)")

    blocks: list[RawBlock] = []
    links: list[RawLink] = []
    trends: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []
    scripts = 0
    stack = list(root)
    stack.reverse()
    while stack:
        el = stack.pop()
        tag = _local(el.tag)
        if tag == "use":
            blocks.append(_svg_block(p, text, el))
        elif tag == "polyline":
            for child in el:
                if _local(child.tag) == "pg-link":
                    links.append(RawLink(_attr(child, "from-id"), _attr(child, "param-from"),
                                         _attr(child, "to-id"), _attr(child, "param-to"),
                                         child.get("id") or el.get("id") or ""))
        elif tag == "pg-link":
            links.append(RawLink(_attr(el, "from-id"), _attr(el, "param-from"), _attr(el, "to-id"),
                                 _attr(el, "param-to"), el.get("id") or ""))
        elif tag == "pg-trend":
            trends.append(_svg_trend(el))
        elif tag in ("text", "pg-editbox"):
            content = el.get("text") if tag == "pg-editbox" else "".join(el.itertext())
            if content and content.strip():
                texts.append({"text": content.strip("\n").rstrip(), "pos": list(_translate(el)),
                              "font_size": _float(el.get("font-size")), "color": el.get("stroke")})
        elif tag == "script":
            scripts += 1
        elif tag == "g":
            stack.extend(reversed(list(el)))
    if not blocks:
        raise PageFileError(p, _not_a_page(root))
    info = {"format": "svg", "version": root.get("enuspace-version", "")}
    for k in ("width", "height"):
        if _float(root.get(k)) is not None:
            info[k] = _float(root.get(k))
    importer = Importer(p, text, data_dir)
    if scripts:
        importer.warn(None, f"the page's {scripts} Lua script(s) are left out: enuflow does not run Lua (trend "
                            "plots are kept in the page's 'trends')")
    return importer.page(blocks, links, trends, texts, info)


def _not_a_page(root: Any) -> str:
    """What an SVG without blocks (no ``<use>``) is, said as the reason it cannot be opened as a page."""
    symbols = sum(1 for el in root.iter() if _local(el.tag) == "symbol")
    if symbols:
        lib = root.get("pg-libraryname")
        named = f" '{lib}'" if lib else ""
        return (f"is an enuSpace symbol library{named} ({symbols} block symbols), not a page: it places no blocks "
                "(enuflow's own catalogue has these blocks: see `enuflow blocks`)")
    return "is an SVG without blocks (no <use> element), not an enuSpace page: there is nothing to run"


def _float(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _svg_block(p: str, text: str, el: Any) -> RawBlock:
    bid = el.get("id") or ""
    href = _attr(el, "href")
    if not bid:
        raise PageFileError(p, f"has a block ({href or 'use'}) without an id", line=line_of(text, href))
    if not href.startswith("#") or len(href) < 2:
        raise PageFileError(p, f"block has no symbol (xlink:href {href!r})", block=bid,
                            line=line_of(text, f'"{bid}"'))
    rb = RawBlock(bid, href[1:], el.get("type", ""), _translate(el))
    for child in el:
        if _local(child.tag) != "pg-set-pin":
            continue
        var = child.get("variable", "")
        name = INDEXED.match(var.lstrip("#")).group(1)
        if not name or name in rb.pins:
            continue
        pos = child.get("binary-pos")
        rb.pins[name] = RawPin(value=child.get("value", ""),
                               var_type=child.get("var-type") or child.get("type") or "string",
                               shape=child.get("shape", ""), save=child.get("save-type", "text") or "text",
                               pos=int(pos) if pos and pos.isdigit() else None)
    for child in el:  # 2.0.x web pages: the values are the symbol body's pins' initial values
        if _local(child.tag) == "pg-pin":
            _web_pin(rb, child)
    return rb


def _web_pin(rb: RawBlock, pin: Any) -> None:
    """A ``<pg-pin variable=... initial=...>`` copied into a web page's ``<use>``: the pin's value, unless a
    ``pg-set-pin`` gave one already."""
    m = INDEXED.match(pin.get("variable", "").lstrip("#"))
    name, index = m.group(1), m.group(2)
    if not name or name in rb.pins or pin.get("initial") is None:
        return
    rb.pins[name] = RawPin(value=pin.get("initial", ""), var_type=pin.get("var-type") or pin.get("type") or "string",
                           shape=pin.get("shape") or index, datatype=pin.get("auto-datatype", ""))


def _svg_trend(el: Any) -> dict[str, Any]:
    trend: dict[str, Any] = {"id": el.get("id", ""), "title": "", "series": [], "pos": list(_translate(el))}
    for k_src, k in (("yview-min", "ymin"), ("yview-max", "ymax")):
        if _float(el.get(k_src)) is not None:
            trend[k] = _float(el.get(k_src))
    for k in ("auto-scale", "duration", "series-max-size"):
        if el.get(k) is not None:
            trend[k.replace("-", "_")] = el.get(k)
    for child in el.iter():
        tag = _local(child.tag)
        if tag == "pg-trendtitle":
            trend["title"] = child.get("title") or "".join(child.itertext()).strip()
        elif tag == "pg-trendseries":
            var = child.get("variable", "")
            block, _, rest = var.partition(".")
            m = INDEXED.match(rest)
            pin = m.group(1)
            index = [int(x) for x in re.findall(r"\d+", m.group(2))]
            trend["series"].append({"block": block, "pin": pin.removeprefix("result_"), "index": index,
                                    "variable": var})
    return trend


# -- reading the JSON task export --------------------------------------------------------------

def load_json_doc(path: str | Path, doc: Any, data_dir: str | Path | None = None) -> Page:
    """A Page from an enuSpace JSON task export (``{"object": [...]}``); raises PageFileError."""
    p = str(path)
    objects = doc.get("object") if isinstance(doc, dict) else None
    if not isinstance(objects, list):
        raise PageFileError(p, "is not an enuSpace task export ('object' must be a list of blocks)")
    blocks: list[RawBlock] = []
    links: list[RawLink] = []
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise PageFileError(p, f"object[{i}] is not a block object")
        bid, sym = obj.get("id"), obj.get("symbol-name")
        if not isinstance(bid, str) or not bid:
            raise PageFileError(p, f"object[{i}] has no id")
        if not isinstance(sym, str) or not sym.startswith("#") or len(sym) < 2:
            raise PageFileError(p, f"has no symbol-name like '#Const' (got {sym!r})", block=bid)
        rb = RawBlock(bid, sym[1:])
        for side in ("input", "output"):
            entries = obj.get(side, [])
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise PageFileError(p, f"'{side}' must be a list of pin entries", block=bid)
            for e in entries:
                name = e.get("pin-name")
                if not isinstance(name, str) or not name:
                    raise PageFileError(p, f"an '{side}' entry has no pin-name", block=bid)
                if name not in rb.pins:
                    pos = str(e.get("pin-binary-pos", "") or "")
                    rb.pins[name] = RawPin(str(e.get("pin-initial", "") or ""), str(e.get("pin-type") or "string"),
                                           str(e.get("pin-shape", "") or ""), str(e.get("pin-save") or "text"),
                                           int(pos) if pos.isdigit() else None, str(e.get("pin-datatype") or ""))
                src = e.get("in-symbol-id")
                if side == "input" and isinstance(src, str) and src:
                    links.append(RawLink(src, str(e.get("in-symbol-pin-name") or ""), bid, name,
                                         f"{bid}.{name}"))
        blocks.append(rb)
    return Importer(p, None, data_dir).page(blocks, links, [], [], {"format": "json"})
