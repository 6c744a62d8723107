"""enuSpace page records -> a ``Page``: name mapping, pin values, attrs, data files, order, warnings.

The readers in ``app.document.formats.enuspace`` turn a page SVG or a JSON task export into plain records
(``RawBlock`` with its ``RawPin`` values, ``RawLink``); ``Importer.page`` resolves them: each library
symbol becomes the block type the original plugin ran (``enuspace_names``), pin values are parsed with
the original's grammars (``enuspace_values``) and stored so that ``app.document.values`` reads them back the same
(explicit dtype and shape, or a typed value), attrs strings become attr pins, ``.dat`` binary values are
read (``data_dir`` remaps where data files and absolute Windows paths are looked for), links are checked,
and blocks are ordered producers first. Symbols of other libraries are kept as inert blocks; known
defects of the original are flagged, not reproduced. Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import heapq
import ntpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from enuflow.app.document.formats import enuspace_values as ev
from enuflow.app.document.formats.enuspace_names import (
    ATTRS_IGNORED,
    FLOAT_ATTRS_TRUNCATED,
    HOST_ONLY,
    MISREGISTERED,
    NOT_CREATED,
    UNKNOWN_ATTR_KEYS,
    UNKNOWN_ATTR_KEYS_OF,
    Symbol,
    lookup,
)
from enuflow.app.document.data_folder import FIELD, WRITERS
from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.document.values import ValueParseError, parse_tensor
from enuflow.blocks.attrs_text import parse_attrs_string

INERT = "enuSpace.Inert"
#: string pins of checkpoint and file ops: pin -> "path" (a file), "list" (1-D strings) or "text" (a scalar)
STRING_PINS = {
    "Save": {"filename": "path", "tensor_names": "list"},
    "SaveSlices": {"filename": "path", "tensor_names": "list", "shapes_and_slices": "list"},
    "SaveV2": {"prefix": "path", "tensor_names": "list", "shape_and_slices": "list"},
    "Restore": {"file_pattern": "path", "tensor_name": "text"},
    "RestoreSlice": {"file_pattern": "path", "tensor_name": "text", "shape_and_slice": "text"},
    "RestoreV2": {"prefix": "path", "tensor_names": "list", "shape_and_slices": "list"},
    "ReadFile": {"filename": "path"},
    "WriteFile": {"filename": "path"},
}
_TF_LIBRARIES = ("", "tensorflow", "enu_tensorflow2_0")
_ATTRS_PIN = re.compile(r"attrs(_\d+)?$")
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")
INDEXED = re.compile(r"^(.*?)((?:\[\d+\])*)$")

#: enuSpace draws symbols about 100 units wide; enuflow's blocks are 180 or more, with labelled ports.
#: Positions from a drawn page are spread by this much so the original arrangement keeps its gaps.
SPREAD = (1.9, 1.4)


@dataclass
class RawPin:
    """A pin value as the file holds it (``value`` text, or a ``.dat`` offset in ``pos``)."""

    value: str = ""
    var_type: str = "string"
    shape: str = ""
    save: str = "text"
    pos: int | None = None
    datatype: str = ""


@dataclass
class RawBlock:
    """A block as the file holds it: its symbol (without ``#``), library, position and pins."""

    id: str
    symbol: str
    library: str = ""
    pos: tuple[float, float] | None = None
    pins: dict[str, RawPin] = field(default_factory=dict)


@dataclass
class RawLink:
    """A link as the file holds it: (src, src_pin) -> (dst, dst_pin)."""

    src: str
    src_pin: str
    dst: str
    dst_pin: str
    ref: str = ""  # the link's id (SVG) or the entry that holds it (JSON), for messages



def line_of(text: str, needle: str) -> int | None:
    i = text.find(needle)
    return text.count("\n", 0, i) + 1 if i >= 0 else None


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or (a.dtype.kind == "O") != (b.dtype.kind == "O"):
        return False
    if a.dtype.kind == "O":
        return a.tolist() == b.tolist()
    return a.dtype == b.dtype and bool(np.array_equal(a, b))


def _plain(arr: np.ndarray) -> Any:
    if arr.dtype.kind == "O":
        return np.vectorize(lambda x: x.decode("utf-8", "replace") if isinstance(x, bytes) else x,
                            otypes=[object])(arr).tolist() if arr.size else []
    return arr.tolist()


_DTYPE_NAMES = {np.dtype(n): n for n in ("float64", "float32", "float16", "int64", "int32", "int16", "int8",
                                         "uint8", "uint16", "bool")}
#: a plain decimal number, as both the original's C parser and ``app.document.values`` read it alike
_SIMPLE_TOKEN = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[fF]?\s*$")
_INT_TOKEN = re.compile(r"\s*[-+]?\d+\s*$")


def dtype_name(arr: np.ndarray) -> str:
    return "string" if arr.dtype.kind == "O" else _DTYPE_NAMES.get(arr.dtype) or dtype_name(arr)


def _simple(text: str, dtype: str, braces: bool) -> bool:
    """True when ``app.document.values`` reads ``text`` as ``dtype`` exactly as the original did, without trying:
    plain decimal items (whole ones for integer dtypes); one level of braces, or braces as d.2 nests them."""
    if dtype not in ("float64", "float32", "int32", "int64"):
        return False
    body = text.strip()
    if not braces:
        if "{" in body or "}" in body:
            if not (body.startswith("{") and body.endswith("}") and body.count("{") == 1 and body.count("}") == 1):
                return False
            body = body[1:-1]
        items = re.split(r"[,;]", body)
        if len(items) > 1 and items[-1].strip() == "":
            items.pop()
    else:
        if ";" in body:
            return False
        items = re.split(r"[,{}]", body)
        items = [x for x in items if x.strip() != ""]
    token = _INT_TOKEN if dtype.startswith("int") else _SIMPLE_TOKEN
    return bool(items) and all(token.match(x) for x in items)


def pin_value(text: str, arr: np.ndarray, hint: str | None = None) -> Any:
    """How to store ``arr`` (parsed from ``text``) so that ``app.document.values`` reads it back unchanged:
    the text itself when it already reads so, else a typed value ``{"dtype", "shape", "value"}``."""
    dtype = dtype_name(arr)
    if arr.size and _simple(text, dtype, braces=True):
        return text if dtype == (hint or "int32") else {"dtype": dtype, "value": text}
    for candidate in (text, {"dtype": dtype, "value": text}):
        try:
            if _same(parse_tensor(candidate, hint), arr):
                return candidate
        except ValueParseError:
            pass
    return {"dtype": dtype, "shape": list(arr.shape), "value": _plain(arr)}


class Importer:
    """Turns raw records into a Page, collecting warnings."""

    def __init__(self, path: str, text: str | None, data_dir: str | Path | None) -> None:
        self.path = path
        self.text = text
        self.data_dir = Path(data_dir) if data_dir else None
        self.warnings: list[str] = []
        self._dat: bytes | None = None
        self._dat_tried = False

    def fail(self, message: str, block: str | None = None, needle: str | None = None) -> PageFileError:
        line = line_of(self.text, needle) if self.text and needle else None
        return PageFileError(self.path, message, line=line, block=block)

    def warn(self, block: str | None, message: str) -> None:
        self.warnings.append(f"block '{block}': {message}" if block else message)

    # -- the whole page --------------------------------------------------------------------
    def page(self, blocks: list[RawBlock], links: list[RawLink], trends: list[dict[str, Any]],
             texts: list[dict[str, Any]], info: dict[str, Any]) -> Page:
        by_id: dict[str, RawBlock] = {}
        for rb in blocks:
            if rb.id in by_id:
                raise self.fail("appears twice (block ids must be unique)", rb.id, f'"{rb.id}"')
            by_id[rb.id] = rb
        syms = {rb.id: self.symbol(rb) for rb in blocks}
        wired: dict[str, dict[str, str]] = {}  # block -> input pin -> source block
        kept: list[Link] = []
        seen: set[tuple[str, str, str, str]] = set()
        for rl in links:
            for end, pin in ((rl.src, rl.src_pin), (rl.dst, rl.dst_pin)):
                if end not in by_id:
                    raise self.fail(f"link {rl.ref or ''} {rl.src}.{rl.src_pin} -> {rl.dst}.{rl.dst_pin} names "
                                    f"block '{end}', which is not on the page", needle=f'"{end}"')
                if not pin:
                    raise self.fail(f"link {rl.ref} has no pin name at '{end}'", needle=rl.ref or None)
            link = self.link(rl, syms[rl.src], syms[rl.dst], by_id)
            if link is None:
                continue
            key = (link.src, link.src_port, link.dst, link.dst_port)
            if key in seen:
                continue
            seen.add(key)
            kept.append(link)
            wired.setdefault(rl.dst, {})[rl.dst_pin] = rl.src
        order = self.order(blocks, kept)
        # a block the session does not reach and whose inputs are unset was never created by the original
        # (it logged an error and went on); building it would fail the run, so it is kept inert
        sessions = [rb.id for rb in blocks if syms[rb.id] is not None and syms[rb.id].name == "ClientSession"]
        upstream: dict[str, list[str]] = {}
        for ln in kept:
            upstream.setdefault(ln.dst, []).append(ln.src)
        reached, todo = set(sessions), list(sessions)
        while todo:
            for src in upstream.get(todo.pop(), ()):
                if src not in reached:
                    reached.add(src)
                    todo.append(src)
        for rb in blocks:
            sym = syms[rb.id]
            if sym is None or not sessions or rb.id in reached:
                continue
            empty = [p for p in sym.inputs if p not in wired.get(rb.id, {}) and (p not in rb.pins or (
                rb.pins[p].value.strip() == "" and rb.pins[p].save != "binary"))]
            if empty:
                self.warn(rb.id, f"input '{empty[0]}' of {sym.name} is neither wired nor given a value and the "
                                 "session does not reach the block, so the original created nothing for it; kept as "
                                 "an inert block")
                syms[rb.id] = None
        page = Page(Path(self.path).stem)
        if self.data_dir is not None:
            page.extra[FIELD] = str(self.data_dir.resolve())
        depth: dict[str, int] = {}
        rows: dict[int, int] = {}
        preds: dict[str, list[str]] = {}
        for ln in kept:
            preds.setdefault(ln.dst, []).append(ln.src)
        for bid in order:
            rb = by_id[bid]
            d = max((depth[s] + 1 for s in preds.get(bid, ()) if s in depth), default=0)
            depth[bid] = d
            if rb.pos is None:
                rows[d] = rows.get(d, 0) + 1
                rb.pos = (40.0 + 240.0 * d, 40.0 + 150.0 * (rows[d] - 1))
            else:
                rb.pos = (rb.pos[0] * SPREAD[0], rb.pos[1] * SPREAD[1])
            page.add_block(self.block(rb, syms[bid], wired.get(bid, {}), by_id, syms))
        for link in kept:
            page.add_link(link)
        if trends:
            known = {b.id for b in page}
            for t in trends:
                for s in t["series"]:
                    if s["block"] not in known:
                        self.warn(None, f"trend '{t.get('title') or t.get('id')}' plots {s['variable']}, "
                                        "a block that is not on the page")
            page.extra["trends"] = trends
        if texts:
            page.extra["texts"] = texts
        page.extra["enuspace"] = info
        if self.warnings:
            page.extra["import_warnings"] = list(self.warnings)
        return page

    def symbol(self, rb: RawBlock) -> Symbol | None:
        """The library symbol of a block, or None for a block kept inert."""
        sym = lookup(rb.symbol) if rb.library in _TF_LIBRARIES else None
        if sym is None:
            lib = f" of the '{rb.library}' library" if rb.library else ""
            self.warn(rb.id, f"symbol '{rb.symbol}'{lib} is not a TensorFlow block; kept as an inert block")
            return None
        if sym.name in HOST_ONLY:
            self.warn(rb.id, f"'{sym.name}' drives enuSpace's host (feeds, status), which enuflow does not "
                             "emulate; kept as an inert block (set a Placeholder's value to feed a tensor)")
            return None
        if sym.name in MISREGISTERED:
            self.warn(rb.id, f"the original registered {sym.name} under {MISREGISTERED[sym.name]}'s type "
                             f"(a defect); imported as {sym.block}")
        if sym.name in NOT_CREATED:
            self.warn(rb.id, f"the original created nothing for {sym.name} (a defect); enuflow builds it")
        return sym

    def link(self, rl: RawLink, src: Symbol | None, dst: Symbol | None, by_id: dict[str, RawBlock]) -> Link | None:
        base, index = INDEXED.match(rl.src_pin).groups()
        src_port, dst_port = rl.src_pin, rl.dst_pin
        where = f"link {rl.src}.{rl.src_pin} -> {rl.dst}.{rl.dst_pin}"
        if src is not None:
            if base.startswith("result_"):
                if dst is not None:
                    raise self.fail(f"{where}: a result pin can only feed a display block")
                src_port = "result_" + src.pin(base.removeprefix("result_")) + index
            elif base not in src.outputs:
                outs = ", ".join(src.outputs) or "none"
                raise self.fail(f"{where}: {src.name} has no output pin '{base}' (outputs: {outs})", rl.src,
                                f'"{rl.src}"')
            else:
                src_port = src.pin(base) + index
        if dst is not None:
            if dst.name == "ClientSession" and rl.dst_pin == "inputs":
                self.warn(rl.dst, f"{where}: feeds through FeedType are not supported; link left out")
                return None
            if rl.dst_pin in dst.dropped:
                self.warn(rl.dst, f"{where}: the original never read pin '{rl.dst_pin}' of {dst.name}, and "
                                  f"{dst.block} has no such input; link left out")
                return None
            if rl.dst_pin not in dst.inputs:
                ins = ", ".join(dst.inputs) or "none"
                raise self.fail(f"{where}: {dst.name} has no input pin '{rl.dst_pin}' (inputs: {ins})", rl.dst,
                                f'"{rl.dst}"')
            dst_port = dst.pin(rl.dst_pin)
        return Link(rl.src, src_port, rl.dst, dst_port)

    def order(self, blocks: list[RawBlock], links: list[Link]) -> list[str]:
        """Block ids producers first (ties in file order); a cycle raises PageFileError."""
        indeg = {rb.id: 0 for rb in blocks}
        succ: dict[str, list[str]] = {}
        for ln in links:
            indeg[ln.dst] += 1
            succ.setdefault(ln.src, []).append(ln.dst)
        pos = {rb.id: i for i, rb in enumerate(blocks)}
        ready = [(pos[b], b) for b, n in indeg.items() if n == 0]
        heapq.heapify(ready)
        out: list[str] = []
        while ready:
            _, b = heapq.heappop(ready)
            out.append(b)
            for nxt in succ.get(b, ()):
                indeg[nxt] -= 1
                if indeg[nxt] == 0:
                    heapq.heappush(ready, (pos[nxt], nxt))
        if len(out) < len(blocks):
            stuck = [rb.id for rb in blocks if indeg[rb.id] > 0]
            raise self.fail("blocks on a cycle (a dataflow page cannot feed a block its own output): "
                            + ", ".join(stuck[:10]) + (" ..." if len(stuck) > 10 else ""), stuck[0],
                            f'"{stuck[0]}"')
        return out

    # -- one block ---------------------------------------------------------------------------
    def block(self, rb: RawBlock, sym: Symbol | None, wired: dict[str, str], by_id: dict[str, RawBlock],
              syms: dict[str, Symbol | None]) -> BlockInstance:
        if sym is None:
            pins = {k: v.value for k, v in rb.pins.items() if v.value != ""}
            extra = {"enuspace": {"symbol": rb.symbol, "library": rb.library}}
            return BlockInstance(rb.id, INERT, rb.pos or (0.0, 0.0), pins, label=rb.symbol, extra=extra)
        pins: dict[str, Any] = {}
        info: dict[str, Any] = {}
        for name, rp in rb.pins.items():
            if name == "scope" or name.startswith("result_") or name in sym.outputs:
                continue
            if name in sym.dropped:
                if rp.value:
                    self.warn(rb.id, f"pin '{name}' = {rp.value!r} was never read by the original and "
                                     f"{sym.block} has no such pin; left out")
                continue
            try:
                if _ATTRS_PIN.match(name) and sym.block != "Variable":
                    self.attrs(rb, sym, rp.value, pins)
                elif name in sym.inputs:
                    if name in wired or (rp.value.strip() == "" and rp.save != "binary"):
                        continue
                    self.value(rb, sym, name, rp, pins, info)
                elif rp.value.strip() != "":
                    pins.setdefault(sym.pin(name), self.setting(rb, sym, name, rp, info))
            except ValueError as e:
                self.warn(rb.id, f"pin '{name}': {e}; kept as written (the run will report it)")
                pins.setdefault(sym.pin(name), rp.value)
                if rp.shape and sym.block in ("Const", "Variable") and name in ("val", "initvalues"):
                    pins.setdefault("shape", rp.shape)
        if sym.name == "ClientSession" and str(pins.get("INFINITE_LOOP", "")).strip() in ("TRUE", "true", "1"):
            self.warn(rb.id, "INFINITE_LOOP is TRUE: the page runs until stopped (Ctrl+C, or Stop in the editor); "
                             "enuflow run --steps N runs it N times")
        if sym.block == "Variable" and parse_attrs_string(pins.get("attrs", "")).get("shared_name"):
            self.warn(rb.id, "the original passed shared_name_ to the container setter (a defect); enuflow sets "
                             "shared_name as written")
        if sym.block == "Variable" and "initvalues" in wired:
            self.variable_from_const(rb, by_id.get(wired["initvalues"]), syms.get(wired["initvalues"]), pins)
        extra: dict[str, Any] = {}
        if sym.name != sym.block:
            info["symbol"] = sym.name
        if info:
            extra["enuspace"] = info
        return BlockInstance(rb.id, sym.block, rb.pos or (0.0, 0.0), pins, extra=extra)

    def attrs(self, rb: RawBlock, sym: Symbol, text: str, pins: dict[str, Any]) -> None:
        pairs = parse_attrs_string(text)
        if pairs and sym.name in ATTRS_IGNORED:
            self.warn(rb.id, f"the original ignored the attrs of {sym.name} (a defect); enuflow applies them: "
                             f"{text.strip()}")
        bad = UNKNOWN_ATTR_KEYS | UNKNOWN_ATTR_KEYS_OF.get(sym.name, set())
        for key, value in pairs.items():
            if key in bad:
                self.warn(rb.id, f"attrs key '{key}_' names no attr of {sym.block} (the original ignored it); "
                                 "left out")
                continue
            if key in FLOAT_ATTRS_TRUNCATED.get(sym.name, ()):
                self.warn(rb.id, f"the original truncated the float attr {key} = {value} to a whole number "
                                 "(a defect); enuflow uses the value as written")
            if value == "True":
                value = "false"  # the original's bool converter knows only true, TRUE and 1
                self.warn(rb.id, f"attrs {key}_ = True was false in the original (it reads only true/TRUE/1); "
                                 "imported as false")
            pins.setdefault(key, value)

    def value(self, rb: RawBlock, sym: Symbol, name: str, rp: RawPin, pins: dict[str, Any],
              info: dict[str, Any]) -> None:
        """A tensor value typed into (or stored in binary for) an unwired input pin."""
        target = sym.pin(name)
        if rp.save == "binary":
            arr = self.binary(rb, name, rp)
            if arr is None:
                info.setdefault("missing_dat", {})[target] = Path(self.path).with_suffix(".dat").name
                if sym.block in ("Const", "Variable"):
                    pins["dtype"] = ev.VAR_TYPES.get(rp.var_type, "float64")
                    pins["shape"] = ev.dims_text(ev.parse_dims(rp.shape)) or "[]"
                return
        if sym.block == "Const" and name == "val":
            if sym.name == "Const_ex":
                dtype = ev.enu_dtype(rb.pins["dtype"].value) if "dtype" in rb.pins else None
                dtype = dtype or "float64"
            else:
                dtype = ev.VAR_TYPES.get(rp.var_type, "float64")
            dims = ev.parse_dims(rp.shape)
            if rp.save != "binary":
                arr = ev.flat_list(rp.value, dtype, dims)
                arr = self.paths(rb, name, arr, info)
            pins["dtype"] = dtype_name(arr)
            if dims:
                pins["shape"] = ev.dims_text(dims)
            try:
                same = rp.save != "binary" and (_simple(rp.value, pins["dtype"], braces=False) or _same(
                    parse_tensor(rp.value, pins["dtype"], pins.get("shape")), arr))
            except ValueParseError:
                same = False
            pins["val"] = rp.value if same and rp.save != "binary" else _plain(arr)
            return
        if sym.block == "Variable" and name == "initvalues":
            dtype = ev.enu_dtype(rb.pins["dtype"].value) if "dtype" in rb.pins else None
            if rp.save == "binary":
                pass
            elif dtype is not None:
                given = ev.parse_dims(rp.shape) if rp.shape.strip() else None
                arr = ev.brace_literal(rp.value, dtype, given)
                shape_pin = rb.pins.get("shape")
                if shape_pin is not None and shape_pin.value.strip():
                    pins["shape"] = ev.dims_text(ev.parse_dims(shape_pin.value)) or "[]"
            else:
                dims = ev.parse_dims(rp.shape)
                arr = ev.flat_list(rp.value, ev.VAR_TYPES.get(rp.var_type, "float64"), dims)
                pins["shape"] = ev.dims_text(dims) or "[]"
            pins["dtype"] = dtype_name(arr)
            pins["initvalues"] = pin_value(rp.value, arr, pins["dtype"]) if rp.save != "binary" else \
                {"dtype": dtype_name(arr), "shape": list(arr.shape), "value": _plain(arr)}
            return
        kind = STRING_PINS.get(sym.name, {}).get(name)
        if kind is not None and rp.save != "binary":
            self.string_pin(rb, name, rp.value, kind, pins, info)
            return
        if rp.save != "binary":
            if _is_word(rp.value):
                self.warn(rb.id, f"pin '{name}' holds the word {rp.value!r}, not a value (a placeholder of the "
                                 "library); left out, wire the input")
                return
            forced = ev.enu_dtype(rp.datatype or sym.inputs.get(name, ""))
            arr = ev.brace_literal(rp.value, forced)
            arr = self.paths(rb, name, arr, info)
            pins[target] = pin_value(rp.value, arr) if not info.get("paths", {}).get(name) else {
                "dtype": "string", "shape": list(arr.shape), "value": _plain(arr)}
        else:
            pins[target] = {"dtype": dtype_name(arr), "shape": list(arr.shape), "value": _plain(arr)}

    def string_pin(self, rb: RawBlock, name: str, text: str, kind: str, pins: dict[str, Any],
                   info: dict[str, Any]) -> None:
        """A checkpoint or file pin (Save ``filename``/``tensor_names``, Restore ``file_pattern``/``tensor_name``):
        the text, without one level of braces, is the string itself (``{B}`` and ``W`` are tensor names, not
        library placeholders; ``{C:\\...\\trainB.t}`` is a path). ``list`` pins split on ``,``/``;``."""
        body = text.strip()
        if body.startswith("{") and body.endswith("}"):
            body = body[1:-1].strip()
        if kind == "path":
            if _WINDOWS_PATH.match(body) and rb.symbol in WRITERS:  # written by the run: need not exist
                body = body.replace("\\\\", "\\")
                info.setdefault("paths", {})[name] = body
            elif _WINDOWS_PATH.match(body):
                body = self.path_of(rb, name, body, info)
            pins[name] = {"dtype": "string", "shape": [], "value": body}
        elif kind == "list":
            items = [x.strip() for x in re.split(r"[,;]", body) if x.strip()]
            pins[name] = {"dtype": "string", "shape": [len(items)], "value": items}
        else:
            pins[name] = {"dtype": "string", "shape": [], "value": body}

    def variable_from_const(self, rb: RawBlock, src: RawBlock | None, sym: Symbol | None,
                            pins: dict[str, Any]) -> None:
        """A Variable wired from a Const takes the Const's dtype and shape (as the original did)."""
        for k in ("dtype", "shape", "initvalues"):
            pins.pop(k, None)
        if src is None or sym is None or sym.block != "Const":
            self.warn(rb.id, "initvalues is wired from a block that is not a Const (the original refused this); "
                             "enuflow takes the wired tensor's dtype and shape")
            return
        val = src.pins.get("val")
        if val is not None and val.save == "binary" and self.dat() is None:
            # the Const's value is lost with the .dat: keep its dtype and shape here, so that any tensor the
            # user wires in instead (a TruncatedNormal, say) makes the Variable the page expects
            pins["dtype"] = ev.VAR_TYPES.get(val.var_type, "float64")
            pins["shape"] = ev.dims_text(ev.parse_dims(val.shape)) or "[]"

    def setting(self, rb: RawBlock, sym: Symbol, name: str, rp: RawPin, info: dict[str, Any]) -> Any:
        """A setting pin (dtype, shape, strides, padding, a path...) kept as written, paths remapped."""
        value = rp.value
        if rp.var_type == "string" and _WINDOWS_PATH.match(value):
            value = self.path_of(rb, name, value, info)
        return value

    def paths(self, rb: RawBlock, name: str, arr: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        if arr.dtype.kind != "O":
            return arr
        flat = arr.reshape(-1)
        for i, v in enumerate(flat):
            s = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            if _WINDOWS_PATH.match(s):
                flat[i] = self.path_of(rb, name, s, info).encode()
        return arr

    def path_of(self, rb: RawBlock, name: str, value: str, info: dict[str, Any]) -> str:
        """An absolute Windows path, kept as written (un-doubled ``\\``); warned when it is not in ``data_dir``.

        The page's data folder (``data_dir``, see ``app.document.data_folder``) maps it when the page runs."""
        original = value.replace("\\\\", "\\")
        info.setdefault("paths", {})[name] = original
        base = ntpath.basename(original)
        if self.data_dir is not None and base and (self.data_dir / base).exists():
            return original  # the page's data folder (page.extra['data_dir']) maps it when the page runs
        where = f"in {self.data_dir}" if self.data_dir else "here"
        self.warn(rb.id, f"pin '{name}' names the data file '{original}', which is not {where}; pass "
                         f"--data-dir DIR (or set the page's data folder in the editor) to use the copy in DIR")
        return original

    def binary(self, rb: RawBlock, name: str, rp: RawPin) -> np.ndarray | None:
        data = self.dat()
        dat_name = Path(self.path).with_suffix(".dat").name
        if data is None:
            where = f"beside the page or in {self.data_dir}" if self.data_dir else "beside the page"
            self.warn(rb.id, f"pin '{name}': its value is stored in {dat_name}, which is not {where}; pass "
                             "--data-dir DIR")
            return None
        if rp.pos is None:
            raise ValueError("a binary value without a binary-pos")
        return ev.read_binary(data, rp.pos, rp.var_type, ev.parse_dims(rp.shape))

    def dat(self) -> bytes | None:
        if not self._dat_tried:
            self._dat_tried = True
            name = Path(self.path).with_suffix(".dat").name
            for folder in ([self.data_dir] if self.data_dir else []) + [Path(self.path).parent]:
                try:
                    self._dat = (folder / name).read_bytes()
                    break
                except OSError:
                    continue
        return self._dat


def _is_word(text: str) -> bool:
    t = text.strip()
    return bool(t) and '"' not in t and not re.search(r"\d", t) and t not in ("TRUE", "FALSE", "true", "false")
