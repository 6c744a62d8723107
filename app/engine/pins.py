"""Reading one block's pins for the page check (``app.engine.analysis``): settings parsed as attrs, typed-in
values parsed as arrays (data-file entries read), and each problem named by block and pin."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from enuflow.app.document import data_folder as df
from enuflow.app.document import datafile
from enuflow.app.document.page import Link, Page
from enuflow.app.document.values import ValueParseError, parse_attr, parse_tensor
from enuflow.app.engine.problems import BuildError
from enuflow.blocks.base import Block


@dataclass
class Pins:
    """One block's parsed pins and their problems, kept while its pins stay the same."""

    pins: dict[str, Any]
    attrs: dict[str, Any]
    values: dict[str, np.ndarray]
    errors: list[BuildError]
    #: (pin, text) of each absolute Windows path in its pins (looked for in the data folder at each analysis)
    paths: list[tuple[str, str]]


def block_pins(page: Page, b: Any, decl: Block, wired: dict[str, list[Link]], folder: Any, keep: bool) -> Pins:
    """Parse one block's pins; its problems come back in ``Pins.errors``; ``keep``: with a copy of the pins
    to compare later ones with."""
    if not b.pins and not b.extra:  # most blocks of a big page: everything wired, nothing typed in
        return Pins({}, {}, {}, unset_pins(b.id, decl, wired), [])
    errors = []

    def err(block: str | None, port: str | None, message: str) -> None:
        errors.append(BuildError(block, port, message))

    stored = dat_missing(b)
    battrs, bvals = parse_pins(b.id, df.map_pins(b, folder), decl, wired, err, page.data_path, stored)
    for port in decl.inputs:
        if port.name in wired or port.name in bvals or port.optional:
            continue
        if port.name in stored:
            err(b.id, port.name, dat_message(port.name, stored[port.name], decl.name))
        else:
            err(b.id, port.name, f"input '{port.name}' is not wired and has no value")
    pins = {k: copy.deepcopy(v) if isinstance(v, (list, dict)) else v for k, v in b.pins.items()} if keep else {}
    return Pins(pins, battrs, bvals, errors, df.windows_paths(b) if b.pins else [])


def unset_pins(bid: str, decl: Block, wired: dict[str, list[Link]]) -> list[BuildError]:
    """The problems of a block with no pin set: its required pins, and its inputs that are not wired."""
    attr_needs, port_needs = pin_needs(decl)
    if not attr_needs and not port_needs:
        return []
    errors = [BuildError(bid, name, msg) for name, msg in attr_needs]
    errors += [BuildError(bid, name, f"input '{name}' is not wired and has no value")
               for name in port_needs if name not in wired]
    return errors


_NEEDS: dict[int, tuple[Any, tuple[list[tuple[str, str]], list[str]]]] = {}


def pin_needs(decl: Block) -> tuple[list[tuple[str, str]], list[str]]:
    """What a block of type ``decl`` with no pin set lacks: (pin, message) of its required pins, and its inputs
    that must be wired (the problems ``_parse_pins`` finds in an empty set of pins, made once per type)."""
    hit = _NEEDS.get(id(decl))
    if hit is None or hit[0] is not decl:
        attrs = [(a.name, f"pin '{a.name}' needs a value" if a.type == "value" else
                  f"pin '{a.name}' ({a.type}) must be set") for a in decl.attrs if a.required]
        hit = _NEEDS[id(decl)] = (decl, (attrs, [p.name for p in decl.inputs if not p.optional]))
    return hit[1]


def dat_missing(b: Any) -> dict[str, str]:
    """Pins of an imported block whose value the page's missing ``.dat`` file holds: pin -> file name."""
    if not b.extra:
        return {}
    info = b.extra.get("enuspace") if isinstance(b.extra, dict) else None
    stored = info.get("missing_dat") if isinstance(info, dict) else None
    return {k: str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}


def dat_message(pin: str, dat: str, block_type: str) -> str:
    wire = "a TruncatedNormal into initvalues" if block_type == "Variable" else "a block into it"
    return (f"the value of '{pin}' is stored in {dat}, which is missing (not beside the page, nor in its data "
            f"folder); type a value into '{pin}' or wire one (for example {wire})")


def parse_pins(bid: str, pins: dict[str, Any], decl: Block, wired: dict[str, list[Link]],
                err: Any, data_path: str | None = None,
                stored: dict[str, str] | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    attrs: dict[str, Any] = {}
    vals: dict[str, np.ndarray] = {}
    decl_attrs = decl.attr_map()
    decl_inputs = decl.input_map()
    for name, raw in pins.items():
        if name.startswith("result_"):
            continue  # display pins hold results, never inputs
        a = decl_attrs.get(name)
        try:
            if a is not None:
                if a.type == "value":
                    continue  # parsed below, once its dtype and shape pins are known
                if raw is None or raw == "":
                    continue
                value = parse_attr(raw, a.type)
                if a.allowed is not None or a.minimum is not None:
                    value, problem = declared_range(decl, a, value)
                    if problem is not None:
                        err(bid, name, problem)
                        continue
                attrs[name] = value
            elif name in decl_inputs:
                if name in wired:
                    continue  # a wire wins over a value typed into the pin
                port = decl_inputs[name]
                dtype = None
                if port.dtype is not None:
                    if port.dtype in decl_attrs:
                        t = pins.get(port.dtype)
                        dtype = t if t not in (None, "") else None
                    else:
                        dtype = port.dtype
                if raw is None or raw == "":
                    continue
                if port.kind in ("resource", "variant", "ref"):
                    err(bid, name, f"input '{name}' takes a {port.kind} and must be wired")
                    continue
                vals[name] = datafile.resolve(data_path, raw) if datafile.is_ref(raw) else parse_tensor(raw, dtype)
            else:
                err(bid, name, f"{decl.name} has no pin '{name}'")
        except ValueParseError as e:
            err(bid, name, f"pin '{name}': {e}")
    for a in decl.attrs:
        if a.type == "value":
            raw = pins.get(a.name)
            if raw is None or raw == "":
                if stored and a.name in stored:
                    err(bid, a.name, dat_message(a.name, stored[a.name], decl.name))
                elif a.required:
                    err(bid, a.name, f"pin '{a.name}' needs a value")
                continue
            try:
                if datafile.is_ref(raw):
                    vals[a.name] = datafile.resolve(data_path, raw)
                    continue
                dtype = attrs.get(a.dtype_pin) if a.dtype_pin else None
                shape = None
                if a.shape_pin and attrs.get(a.shape_pin) is not None and decl.name != "Placeholder":
                    shape = attrs[a.shape_pin]
                vals[a.name] = parse_tensor(raw, dtype, shape)
            except ValueParseError as e:
                err(bid, a.name, f"pin '{a.name}': {e}")
        elif a.required and a.name not in attrs:
            if a.name in pins and pins[a.name] not in (None, ""):
                continue  # already reported as unparsable
            err(bid, a.name, f"pin '{a.name}' ({a.type}) must be set")
    return attrs, vals


def declared_range(decl: Block, a: Any, value: Any) -> tuple[Any, str | None]:
    """A hand-declared block's setting ``value`` of attr ``a`` against its declaration: a string among ``allowed``
    (the value then spelled as declared: ``SAME`` is ``same``), a whole number at least ``minimum``. Returns (the
    value, the problem or None). OpDef blocks check theirs as they are built (``blocks.opblock``: their type attrs
    are decided by what is wired); the ClientSession's settings are the session plan's (``app.engine.analysis``)."""
    if decl.origin != "hand" or decl.name == "ClientSession":
        return value, None
    if a.allowed is not None and a.type == "string":
        spelled = next((c for c in a.allowed if str(c).lower() == str(value).lower()), None)
        if spelled is None:
            return value, f"pin '{a.name}' must be one of {', '.join(map(str, a.allowed))}, got {value!r}"
        return spelled, None
    if a.minimum is not None and a.type == "int" and value < a.minimum:
        return value, f"pin '{a.name}' must be a whole number of at least {a.minimum}, got {value!r}"
    return value, None


__all__ = ["Pins", "block_pins", "dat_message", "dat_missing", "declared_range", "parse_pins"]
