"""A wire let go on empty canvas opens the quick search filtered to the blocks that can take it (part of
MainWindow): from an output, the blocks with an input that accepts its dtype; from an input, the blocks with an
output of a dtype it accepts. Best first: a port made for that dtype before one that takes a list of dtypes, before
one that takes any; then the block whose first port fits before one whose third does, then the shorter name. The chosen block is placed there and wired, as one undo step."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF

from enuflow.app.gui import blocktypes
from enuflow.app.gui.palette import Entry, QuickSearch

#: port kinds a wire of tensors may join (not "operation": an op to run)
_TENSORS = ("tensor", "ref", "resource", "variant")


def accepts(decl: Any, port: Any, dtype: str | None) -> bool:
    """Whether ``port`` of a block declared ``decl`` can carry ``dtype`` (any dtype when it is not known)."""
    if port.kind not in _TENSORS:
        return False
    if dtype is None or port.dtype is None:
        return True
    if decl.attr(port.dtype) is not None:  # a type attr: what it allows
        return not port.allowed or dtype in port.allowed
    return port.dtype == dtype


def fitting(entries: list[Entry], dtype: str | None, into_input: bool) -> list[tuple[Entry, str]]:
    """The entries with a port that fits (an input when ``into_input``, else an output), best first, each with the
    first such port."""
    found = []
    for e in entries:
        decl = blocktypes.lookup(e.name)
        if decl is None or decl.inert:
            continue
        ports = decl.inputs if into_input else decl.outputs
        fits = [(_specific(decl, p, dtype), i, p.name) for i, p in enumerate(ports) if accepts(decl, p, dtype)]
        if fits:
            how, i, name = min(fits)
            found.append((how, i, len(e.name), e.name.lower(), e, name))
    found.sort(key=lambda x: x[:4])
    return [(x[4], x[5]) for x in found]


def _specific(decl: Any, port: Any, dtype: str | None) -> int:
    """How closely a fitting port is made for ``dtype``: 0 that dtype only, 1 a list that holds it, 2 any dtype of a
    type attr, 3 a port of no declared dtype (a session's fetches)."""
    if dtype is None:
        return 0
    if port.dtype is None:
        return 3
    if decl.attr(port.dtype) is None:
        return 0
    return 1 if port.allowed else 2


class WireSearch:
    """What a wire let go on empty canvas does (part of MainWindow)."""

    def _connect_wire_search(self) -> None:
        self.scene.wire_dropped.connect(self.search_for_wire)  # type: ignore[attr-defined]

    def wire_dtype(self, block_id: str, port: str, is_output: bool) -> str | None:
        """The dtype a port carries: the worker's static check, else its declaration or type pin; None unknown."""
        if is_output:
            st = self.scene.static_types.get((self.block_path(block_id), port))  # type: ignore[attr-defined]
            if st:
                return str(st["dtype"]).removesuffix("_ref")
        b = self.canvas_page.get(block_id)  # type: ignore[attr-defined]
        decl = blocktypes.lookup(b.type) if b is not None else None
        if decl is None:
            return None
        p = blocktypes.output_port(decl, port) if is_output else decl.input(port)
        return blocktypes.port_dtype(decl, b.pins, p)

    def search_for_wire(self, block_id: str, port: str, is_output: bool, pos: QPointF) -> QuickSearch | None:
        """Open the quick search at ``pos`` with only the blocks that can take the wire from ``block_id.port``."""
        dtype = self.wire_dtype(block_id, port, is_output)
        ops = [e for e in self.palette.entries if not e.origin]  # type: ignore[attr-defined]
        best = fitting(ops, dtype, into_input=is_output)
        fits = {e.name: p for e, p in best}
        if not fits:
            self.status_label.setText(f"No block takes {dtype or 'this wire'}")  # type: ignore[attr-defined]
            return None
        qs = self.quick_search(pos, [e for e, _p in best],  # type: ignore[attr-defined]  (best first)
                               lambda name, p: self._place_wired(name, p, fits[name], block_id, port, is_output))
        qs.edit.setPlaceholderText(f"Blocks that take {dtype}" if dtype else "Blocks that take this wire")
        return qs

    def _place_wired(self, name: str, pos: QPointF, new_port: str, block_id: str, port: str,
                     is_output: bool) -> str | None:
        """Place ``name`` at ``pos`` and wire it to ``block_id.port``: one undo step."""
        self.undo.beginMacro(f"Add {name} wired to {block_id}.{port}")  # type: ignore[attr-defined]
        try:
            bid = self.add_block_at(name, pos)  # type: ignore[attr-defined]
            if bid is not None:
                ends = (block_id, port, bid, new_port) if is_output else (bid, new_port, block_id, port)
                self.add_link(*ends)  # type: ignore[attr-defined]
        finally:
            self.undo.endMacro()  # type: ignore[attr-defined]
        return bid
