"""The page a person edits and saves: blocks, their pin values, and the links between ports.

``Page`` is the document (the "scheme" in orange-canvas-core's terms). It knows nothing of TensorFlow
or Qt: it can be opened, checked and saved without either. Every change goes through a method that
tells the listeners (``Page.subscribe``), so an editor's scene can follow the model and undo commands
only need to call these methods.
"""

from __future__ import annotations

import copy
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from enuflow.app.document.annotations import Annotation, Frame, Note
    from enuflow.app.document.composites import Composite


@dataclass
class BlockInstance:
    """One block on a page: its id, type name, canvas position and the values of its unwired pins.

    ``extra`` keeps fields this version does not know, so they survive a load and save.
    """

    id: str
    type: str
    pos: tuple[float, float] = (0.0, 0.0)
    pins: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    collapsed: bool | None = None
    device: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> BlockInstance:
        return BlockInstance(self.id, self.type, tuple(self.pos), copy.deepcopy(self.pins), self.label,
                             self.collapsed, self.device, copy.deepcopy(self.extra))


class Link(NamedTuple):
    """A wire from an output port of one block to an input port of another.

    Links are values (a named tuple: made, hashed and compared at C speed, thousands per page): two wires between
    the same ports are equal. A page may hold the same link more than once
    (``AddN(a, b, a)`` wires ``a`` twice into the list port ``inputs``); whether the port takes that is for the
    page's checks to say (``app.engine.analysis``), not for the page.
    """

    src: str
    src_port: str
    dst: str
    dst_port: str

    def __str__(self) -> str:
        return f"{self.src}.{self.src_port} -> {self.dst}.{self.dst_port}"


Listener = Callable[[str, dict[str, Any]], None]

#: the pages that hold composite definitions (``composite_named``): the editor looks an instance's type up there
_COMPOSITE_PAGES: weakref.WeakSet[Page] = weakref.WeakSet()


#: the page an editor window shows, looked in first (another page in memory may define the same name otherwise)
_PREFERRED: list[weakref.ref[Page]] = []


def prefer(page: Page) -> None:
    """Look composites up in ``page`` before any other (the page of the editor window made last)."""
    _PREFERRED[:] = [weakref.ref(page)]


def composite_named(name: str) -> Composite | None:
    """The definition of composite ``name`` held by a page in memory (None when no page holds one): lets code
    that knows only a type name (the editor's look-up of declarations) find an instance's ports."""
    first = _PREFERRED[0]() if _PREFERRED else None
    if first is not None and name in first.composites:
        return first.composites[name]
    for page in list(_COMPOSITE_PAGES):
        comp = page.composites.get(name)
        if comp is not None:
            return comp
    return None


def unlist(page: Page) -> None:
    """Leave ``page`` out of ``composite_named``'s look-up (a copy held for undo, whose definitions may be stale)."""
    _COMPOSITE_PAGES.discard(page)


class Page:
    """The document: an ordered set of blocks and an ordered list of links (the same link may appear more than
    once: a list port takes its links in order, repeats included).

    Events sent to listeners (name, details): ``block_added`` {block, index}, ``block_removed``
    {block, index}, ``block_moved`` {id, pos}, ``pin_changed`` {id, pin, value}, ``block_changed``
    {id, field, value}, ``link_added`` {link, index}, ``link_removed`` {link, index},
    ``page_changed`` {field}, ``reset`` {}; ``blocks_moved`` {positions} for a bulk move (``move_blocks``: one
    event for all the blocks moved, ``positions`` {id: pos}, so that a listener does its work once); for
    frames and notes (``app.document.annotations``, drawn by the editor, never built): ``annotation_added``
    {item, index}, ``annotation_removed`` {item, index}, ``annotation_changed`` {item}.
    """

    def __init__(self, name: str = "untitled") -> None:
        self.name = name
        self._blocks: dict[str, BlockInstance] = {}
        self._links: list[Link] = []
        self._link_count: Counter[Link] = Counter()
        self.view: dict[str, Any] | None = None
        self.results: dict[str, Any] | None = None
        self.extra: dict[str, Any] = {}
        #: absolute path of the page's data file (large tensors, ``app.document.datafile``), or None
        self.data_path: str | None = None
        #: absolute path of the folder of the page's file (a dataset's relative ``file`` is read there), or None;
        #: never saved: sent to the worker as the run document's ``page_folder`` (``formats.native.run_doc``)
        self.folder: str | None = None
        self.link_extra: dict[Link, dict[str, Any]] = {}
        self._composites: dict[str, Composite] = {}
        #: the frames and notes by id, in drawing order (ids unique across both)
        self.frames: dict[str, Frame] = {}
        self.notes: dict[str, Note] = {}
        self._listeners: list[Listener] = []

    @property
    def composites(self) -> dict[str, Composite]:
        """The page's composite definitions by name (``app.document.composites``, ARCHITECTURE.md section 4a)."""
        return self._composites

    @composites.setter
    def composites(self, value: dict[str, Composite]) -> None:
        self._composites = value
        if value:
            _COMPOSITE_PAGES.add(self)

    # -- listeners --------------------------------------------------------------------------
    def subscribe(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def unsubscribe(self, fn: Listener) -> None:
        """Stop telling ``fn`` (a canvas that shows another page now); nothing when it was not listening."""
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _emit(self, event: str, **details: Any) -> None:
        for fn in list(self._listeners):
            fn(event, details)

    # -- queries ----------------------------------------------------------------------------
    @property
    def blocks(self) -> list[BlockInstance]:
        return list(self._blocks.values())

    @property
    def links(self) -> list[Link]:
        return list(self._links)

    def block(self, block_id: str) -> BlockInstance:
        return self._blocks[block_id]

    def get(self, block_id: str) -> BlockInstance | None:
        return self._blocks.get(block_id)

    def __contains__(self, block_id: str) -> bool:
        return block_id in self._blocks

    def __iter__(self) -> Iterator[BlockInstance]:
        return iter(self._blocks.values())

    def __len__(self) -> int:
        return len(self._blocks)

    def block_index(self, block_id: str) -> int:
        return list(self._blocks).index(block_id)

    def has_link(self, link: Link) -> bool:
        return link in self._link_count

    def link_count(self, link: Link | None = None) -> int:
        """How many times ``link`` is on the page; with no link, how many links the page has."""
        return len(self._links) if link is None else self._link_count.get(link, 0)

    def occurrence(self, link: Link, index: int) -> int:
        """How many links equal to ``link`` come before position ``index`` (0 for the first of its repeats)."""
        if link not in self._link_count:
            return 0
        return sum(1 for ln in self._links[:index] if ln == link)

    def link_index(self, link: Link, occurrence: int = 0) -> int:
        """The position of the ``occurrence``-th copy of ``link`` in the link list; raises ValueError if none."""
        seen = -1
        for i, ln in enumerate(self._links):
            if ln == link:
                seen += 1
                if seen == occurrence:
                    return i
        raise ValueError(f"link {link} is not on the page {occurrence + 1} times")

    def links_into(self, block_id: str, port: str | None = None) -> list[Link]:
        return [ln for ln in self._links if ln.dst == block_id and (port is None or ln.dst_port == port)]

    def new_id(self, base: str) -> str:
        """A block id not yet used on this page, derived from ``base`` (``Add``, ``Add_2``, ...)."""
        stem = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in base) or "block"
        if stem not in self._blocks:
            return stem
        i = 2
        while f"{stem}_{i}" in self._blocks:
            i += 1
        return f"{stem}_{i}"

    # -- edits ------------------------------------------------------------------------------
    def fill(self, blocks: Iterable[BlockInstance], links: Iterable[Link]) -> None:
        """Give an empty page its blocks and links at once (for readers of page files): the block ids must be
        unique and the links' ends on the page (the reader has checked both). Tells the listeners ``reset``."""
        if self._blocks or self._links:
            raise ValueError("fill() is for an empty page")
        self._blocks = {b.id: b for b in blocks}
        self._links = list(links)
        self._link_count = Counter(self._links)
        self._emit("reset")

    def add_block(self, block: BlockInstance, index: int | None = None) -> BlockInstance:
        """Add ``block`` (its id must be new); ``index`` puts it at that place in the block order."""
        if not block.id:
            raise ValueError("a block id must not be empty")
        if block.id in self._blocks:
            raise ValueError(f"block id {block.id!r} is already on the page")
        if index is None or index >= len(self._blocks):
            self._blocks[block.id] = block
            index = len(self._blocks) - 1
        else:
            items = list(self._blocks.items())
            items.insert(index, (block.id, block))
            self._blocks = dict(items)
        self._emit("block_added", block=block, index=index)
        return block

    def remove_block(self, block_id: str) -> tuple[BlockInstance, list[tuple[int, Link]]]:
        """Remove a block and its links; returns them (links with their former indices) for undo."""
        removed_links = [(i, ln) for i, ln in enumerate(self._links) if block_id in (ln.src, ln.dst)]
        for i, ln in reversed(removed_links):
            self.remove_link(ln)
        index = self.block_index(block_id)
        block = self._blocks.pop(block_id)
        self._emit("block_removed", block=block, index=index)
        return block, removed_links

    def move_block(self, block_id: str, pos: tuple[float, float]) -> None:
        b = self._blocks[block_id]
        b.pos = (float(pos[0]), float(pos[1]))
        self._emit("block_moved", id=block_id, pos=b.pos)

    def move_blocks(self, positions: dict[str, tuple[float, float]]) -> None:
        """Move many blocks (an Auto Layout): one ``blocks_moved`` event for them all. Raises KeyError for an id
        the page does not hold (the blocks before it have moved, and the event names them)."""
        moved: dict[str, tuple[float, float]] = {}
        blocks = self._blocks
        try:
            for bid, pos in positions.items():
                b = blocks[bid]
                b.pos = moved[bid] = (float(pos[0]), float(pos[1]))
        finally:
            if moved:
                self._emit("blocks_moved", positions=moved)

    def set_pin(self, block_id: str, pin: str, value: Any) -> None:
        """Set a pin's value; ``None`` removes it (the block's default applies)."""
        b = self._blocks[block_id]
        if value is None:
            b.pins.pop(pin, None)
        else:
            b.pins[pin] = value
        self._emit("pin_changed", id=block_id, pin=pin, value=value)

    def set_block_field(self, block_id: str, name: str, value: Any) -> None:
        """Set ``label``, ``collapsed`` or ``device`` of a block."""
        if name not in ("label", "collapsed", "device"):
            raise ValueError(f"unknown block field {name}")
        setattr(self._blocks[block_id], name, value)
        self._emit("block_changed", id=block_id, field=name, value=value)

    def add_link(self, link: Link, index: int | None = None) -> Link:
        """Add ``link`` at the end of the link list (or at ``index``); a link already there is added again."""
        self._link_count[link] += 1
        if index is None or index >= len(self._links):
            self._links.append(link)
            index = len(self._links) - 1
        else:
            self._links.insert(index, link)
        self._emit("link_added", link=link, index=index)
        return link

    def remove_link(self, link: Link, index: int | None = None) -> int:
        """Remove the link at ``index`` (which must hold ``link``), or else the last copy of ``link``; returns
        the position it had. Raises ValueError when the link is not there."""
        if index is not None:
            if not 0 <= index < len(self._links) or self._links[index] != link:
                raise ValueError(f"link {link} is not at position {index}")
        else:
            count = self._link_count.get(link, 0)
            last = len(self._links) - 1
            # removing from the end (undo of an add, deleting many) must not scan the whole list each time
            if last >= 0 and self._links[last] == link:
                index = last
            elif count == 1:
                index = self._links.index(link)
            elif count > 1:
                index = next(i for i in range(last, -1, -1) if self._links[i] == link)
            else:
                raise ValueError(f"link {link} is not on the page")
        del self._links[index]
        self._link_count[link] -= 1
        if not self._link_count[link]:
            del self._link_count[link]
            self.link_extra.pop(link, None)
        self._emit("link_removed", link=link, index=index)
        return index

    def rename(self, name: str) -> None:
        self.name = name
        self._emit("page_changed", field="name")

    def set_extra(self, key: str, value: Any) -> None:
        """Set (``None`` removes) an optional top-level field of the page, such as its ``data_dir``."""
        if value is None:
            self.extra.pop(key, None)
        else:
            self.extra[key] = value
        self._emit("page_changed", field=key)

    def set_composite(self, name: str, composite: Composite | None) -> None:
        """Add or replace (``None`` removes) the composite definition ``name``; tells the listeners
        ``page_changed`` {field: "composites"}."""
        if composite is None:
            self._composites.pop(name, None)
        else:
            self._composites[name] = composite
            _COMPOSITE_PAGES.add(self)
        self._emit("page_changed", field="composites")

    def replace_with(self, other: Page) -> None:
        """Take over the whole content of ``other`` (used by Open and by restore); listeners stay."""
        self.name = other.name
        self._blocks = dict(other._blocks)
        self._links = list(other._links)
        self._link_count = Counter(other._links)
        self.view = other.view
        self.results = other.results
        self.extra = other.extra
        self.data_path = other.data_path
        self.folder = other.folder
        self.link_extra = other.link_extra
        self.composites = other.composites
        self.frames = other.frames
        self.notes = other.notes
        self._emit("reset")

    # -- frames and notes -----------------------------------------------------------------------
    def annotation(self, item_id: str) -> Frame | Note | None:
        """The frame or note ``item_id`` (None when there is none)."""
        return self.frames.get(item_id) or self.notes.get(item_id)

    def _annotations_of(self, item: Annotation) -> dict[str, Any]:
        from enuflow.app.document.annotations import Frame

        return self.frames if isinstance(item, Frame) else self.notes

    def new_annotation_id(self, base: str) -> str:
        """An id used by no frame or note yet (``frame``, ``frame_2``, ...)."""
        i, made = 2, base
        while made in self.frames or made in self.notes:
            made, i = f"{base}_{i}", i + 1
        return made

    def add_annotation(self, item: Annotation, index: int | None = None) -> None:
        """Add a frame or note (its id must be new among both); ``index`` puts it at that place in its list."""
        if not item.id or self.annotation(item.id) is not None:
            raise ValueError(f"frame or note id {item.id!r} is empty or already on the page")
        items = self._annotations_of(item)
        order = list(items.items())
        index = len(order) if index is None else min(index, len(order))
        order.insert(index, (item.id, item))
        items.clear()
        items.update(order)
        self._emit("annotation_added", item=item, index=index)

    def remove_annotation(self, item_id: str) -> tuple[int, Annotation]:
        """Remove the frame or note ``item_id``; returns its index in its list and itself (for undo)."""
        item = self.annotation(item_id)
        if item is None:
            raise ValueError(f"no frame or note {item_id!r} on the page")
        items = self._annotations_of(item)
        index = list(items).index(item_id)
        del items[item_id]
        self._emit("annotation_removed", item=item, index=index)
        return index, item

    def change_annotation(self, item_id: str, **fields: Any) -> None:
        """Set fields of a frame (``title``, ``rect``, ``color``) or a note (``pos``, ``text``)."""
        item = self.annotation(item_id)
        if item is None:
            raise ValueError(f"no frame or note {item_id!r} on the page")
        for name, value in fields.items():
            if name == "id" or not hasattr(item, name):
                raise ValueError(f"a {type(item).__name__.lower()} has no field {name!r}")
            setattr(item, name, tuple(value) if isinstance(value, list) else value)
        self._emit("annotation_changed", item=item)

    # -- structure ---------------------------------------------------------------------------
    def copy(self) -> Page:
        p = Page(self.name)
        for b in self._blocks.values():
            p._blocks[b.id] = b.copy()
        p._links = list(self._links)
        p._link_count = Counter(self._links)
        p.view = copy.deepcopy(self.view)
        p.results = copy.deepcopy(self.results)
        p.extra = copy.deepcopy(self.extra)
        p.data_path = self.data_path
        p.folder = self.folder
        p.link_extra = copy.deepcopy(self.link_extra)
        p.composites = {name: c.copy() for name, c in self.composites.items()}
        p.frames = {k: f.copy() for k, f in self.frames.items()}
        p.notes = {k: n.copy() for k, n in self.notes.items()}
        return p
