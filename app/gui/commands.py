"""Undo commands: every edit a person makes, as a QUndoCommand that changes only the ``Page``.

Each command calls ``app.document.page.Page`` methods and nothing else; the canvas follows the page's events,
so undo and redo can never leave the drawing out of step with the model. Compound edits (delete
blocks with their links, paste) are one command holding the steps to replay.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand

from enuflow.app.document.composites import Composite
from enuflow.app.document.page import BlockInstance, Link, Page

MOVE_ID = 1001
PIN_ID = 1002


def _has_link(page: Page, link: Link) -> bool:
    has = getattr(page, "has_link", None)
    return has(link) if has is not None else link in page.links


class AddBlocksCommand(QUndoCommand):
    """Add blocks (and links between them, e.g. a paste); undo removes them."""

    def __init__(self, page: Page, blocks: list[BlockInstance], links: list[Link] | None = None,
                 text: str = "Add block") -> None:
        super().__init__(text)
        self.page = page
        self.blocks = [b.copy() for b in blocks]
        self.links = list(links or [])

    def redo(self) -> None:
        for b in self.blocks:
            self.page.add_block(b.copy())
        for ln in self.links:
            self.page.add_link(ln)

    def undo(self) -> None:
        for ln in reversed(self.links):
            if _has_link(self.page, ln):
                self.page.remove_link(ln)
        for b in reversed(self.blocks):
            self.page.remove_block(b.id)


class RemoveCommand(QUndoCommand):
    """Remove blocks (with every link touching them) and loose links; undo puts all back in place.

    ``links`` removes every copy of each link given; ``link_indices`` removes single links by their position in
    the page's link list as it is now (one of two equal wires into a list port, say).
    """

    def __init__(self, page: Page, block_ids: list[str], links: list[Link] | None = None,
                 text: str = "Delete", link_indices: list[int] | None = None) -> None:
        super().__init__(text)
        self.page = page
        self.block_ids = [b for b in block_ids if b in page]
        self.loose = [ln for ln in (links or []) if ln.src not in self.block_ids and ln.dst not in self.block_ids]
        self.loose_at = set(link_indices or ())
        self._saved_blocks: list[tuple[int, BlockInstance]] = []
        self._saved_links: list[tuple[int, Link, dict[str, Any] | None]] = []

    def redo(self) -> None:
        page = self.page
        ids = set(self.block_ids)
        loose = set(self.loose)
        self._saved_links = [(i, ln, page.link_extra.get(ln)) for i, ln in enumerate(page.links)
                             if ln.src in ids or ln.dst in ids or ln in loose or i in self.loose_at]
        for i, ln, _ in reversed(self._saved_links):
            page.remove_link(ln, i)
        order = {b.id: i for i, b in enumerate(page)}
        self._saved_blocks = sorted(((order[b], page.block(b).copy()) for b in self.block_ids),
                                    key=lambda t: t[0])
        for _, b in reversed(self._saved_blocks):
            page.remove_block(b.id)

    def undo(self) -> None:
        for index, b in self._saved_blocks:
            self.page.add_block(b.copy(), index)
        for index, ln, extra in self._saved_links:
            self.page.add_link(ln, index)
            if extra:
                self.page.link_extra[ln] = dict(extra)


class AddLinkCommand(QUndoCommand):
    """Add one link at the end of the link list; undo removes that very link (not an equal one before it)."""

    def __init__(self, page: Page, link: Link) -> None:
        super().__init__(f"Link {link}")
        self.page = page
        self.link = link
        self.index = -1

    def redo(self) -> None:
        self.index = self.page.link_count()
        self.page.add_link(self.link)

    def undo(self) -> None:
        self.page.remove_link(self.link, self.index)


class MoveCommand(QUndoCommand):
    """Move blocks from ``old`` to ``new`` positions ({id: (x, y)})."""

    def __init__(self, page: Page, old: dict[str, tuple[float, float]], new: dict[str, tuple[float, float]],
                 text: str = "Move") -> None:
        super().__init__(text)
        self.page = page
        self.old = dict(old)
        self.new = dict(new)

    def id(self) -> int:
        return MOVE_ID

    def redo(self) -> None:
        self.page.move_blocks({bid: pos for bid, pos in self.new.items() if bid in self.page})

    def undo(self) -> None:
        self.page.move_blocks({bid: pos for bid, pos in self.old.items() if bid in self.page})


class SetPinCommand(QUndoCommand):
    """Set one pin of one block (``None`` clears it, so the default applies)."""

    def __init__(self, page: Page, block_id: str, pin: str, value: Any) -> None:
        super().__init__(f"Set {block_id}.{pin}")
        self.page = page
        self.block_id = block_id
        self.pin = pin
        self.value = value
        self.old = page.block(block_id).pins.get(pin)

    def id(self) -> int:
        return PIN_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        # typing into one field gives one undo step per field, not per keystroke
        if isinstance(other, SetPinCommand) and (other.block_id, other.pin) == (self.block_id, self.pin) \
                and getattr(other, "merge", False):
            self.value = other.value
            return True
        return False

    def redo(self) -> None:
        self.page.set_pin(self.block_id, self.pin, self.value)

    def undo(self) -> None:
        self.page.set_pin(self.block_id, self.pin, self.old)


class SetFieldCommand(QUndoCommand):
    """Set a block's label, collapsed flag or device."""

    def __init__(self, page: Page, block_id: str, name: str, value: Any) -> None:
        super().__init__(f"Set {block_id} {name}")
        self.page = page
        self.block_id = block_id
        self.name = name
        self.value = value
        self.old = getattr(page.block(block_id), name)

    def redo(self) -> None:
        self.page.set_block_field(self.block_id, self.name, self.value)

    def undo(self) -> None:
        self.page.set_block_field(self.block_id, self.name, self.old)


class SetPageFieldCommand(QUndoCommand):
    """Set an optional top-level field of the page (e.g. its data folder); ``None`` removes it."""

    def __init__(self, page: Page, key: str, value: Any, text: str = "") -> None:
        super().__init__(text or f"Set {key}")
        self.page = page
        self.key = key
        self.value = value
        self.old = page.extra.get(key)

    def redo(self) -> None:
        self.page.set_extra(self.key, self.value)

    def undo(self) -> None:
        self.page.set_extra(self.key, self.old)


class PlaceCompositeCommand(QUndoCommand):
    """Place a composite from the library: copy its definitions (``add``: name -> definition, those the page lacks)
    into the page and add its instance ``block``; undo removes both, leaving the page as it was."""

    def __init__(self, page: Page, add: dict[str, Composite], block: BlockInstance, text: str = "") -> None:
        super().__init__(text or f"Add {block.type}")
        self.page = page
        self.add = {name: comp.copy() for name, comp in add.items()}
        self.block = block.copy()

    def redo(self) -> None:
        for name, comp in self.add.items():  # the definitions first: the instance's ports come from them
            self.page.set_composite(name, comp.copy())
        self.page.add_block(self.block.copy())

    def undo(self) -> None:
        self.page.remove_block(self.block.id)
        for name in self.add:
            self.page.set_composite(name, None)


class AddAnnotationsCommand(QUndoCommand):
    """Add frames or notes (``app.document.annotations``); undo removes them."""

    def __init__(self, page: Page, items: list[Any], text: str = "Add") -> None:
        super().__init__(text)
        self.page = page
        self.items = [it.copy() for it in items]

    def redo(self) -> None:
        for it in self.items:
            self.page.add_annotation(it.copy())

    def undo(self) -> None:
        for it in reversed(self.items):
            self.page.remove_annotation(it.id)


class RemoveAnnotationsCommand(QUndoCommand):
    """Remove frames or notes (the blocks a frame holds stay); undo puts each back in its place."""

    def __init__(self, page: Page, ids: list[str], text: str = "Delete") -> None:
        super().__init__(text)
        self.page = page
        self.ids = [i for i in ids if page.annotation(i) is not None]
        self._saved: list[tuple[int, Any]] = []

    def redo(self) -> None:
        self._saved = [self.page.remove_annotation(i) for i in self.ids]

    def undo(self) -> None:
        for index, it in reversed(self._saved):
            self.page.add_annotation(it.copy(), index)


class ChangeAnnotationCommand(QUndoCommand):
    """Set fields of a frame (title, rect, color) or a note (pos, text); undo sets the old values back."""

    def __init__(self, page: Page, item_id: str, fields: dict[str, Any], text: str = "") -> None:
        super().__init__(text or f"Change {item_id}")
        self.page = page
        self.item_id = item_id
        self.new = dict(fields)
        item = page.annotation(item_id)
        self.old = {k: getattr(item, k) for k in fields}

    def redo(self) -> None:
        self.page.change_annotation(self.item_id, **self.new)

    def undo(self) -> None:
        self.page.change_annotation(self.item_id, **self.old)
