"""The block palette (blocks grouped by category, a search box, each block's doc) and the quick
search popup that places a block at the cursor.

The palette lists the hand-declared blocks at once and the whole catalogue once the worker says it is
ready (``blocks.catalogue_index``); it never loads TensorFlow. The composites of the library folders (the standard
library and the user's, ``app.document.composite_files.library``) are listed under "Composites" and searched like
the blocks. Dragging an entry starts a real ``QDrag`` carrying the block type (or composite name) under
``MIME_BLOCK``, which the canvas accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QMimeData, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QDrag, QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from enuflow.app.document.composite_files import Library, io_blocks, library
from enuflow.app.document.composites import Composite
from enuflow.app.gui import blocktypes
from enuflow.app.gui.canvas.view import MIME_BLOCK
from enuflow.app.gui.docs import plain, rest_html
from enuflow.app.gui.style import category_colour, readable_on

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
MAX_MATCHES = 300
#: the palette's category of the library's composites (drawn in the colour of a composite block's header)
COMPOSITES = "Composites"
#: categories open when nothing is searched
_OPEN = ("core", "sparse_ops", COMPOSITES)


@dataclass
class Entry:
    name: str
    category: str
    summary: str
    doc: str
    #: a composite's library: "standard" or "user" ("" for a block type)
    origin: str = ""
    #: the inner blocks of a composite that read or write files or act beyond the process (by path)
    io: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.hay = f"{self.name} {self.doc}".lower()

        self.name_words = _name_words(self.name)

    def matches(self, words: list[str]) -> bool:
        return all(w in self.hay for w in words)

    def rank(self, text: str, words: list[str]) -> int | None:
        """How well the entry answers a search (0 best), or None when it does not match:
        0 the exact name, 1 a name that starts with the text, 2 every word starts a word of the name
        (``fill rows`` finds SparseFillEmptyRows), 3 the text inside the name, 4 words of the doc."""
        name = self.name.lower()
        if name == text:
            return 0
        if name.startswith(text):
            return 1
        if all(any(nw.startswith(w) for nw in self.name_words) for w in words):
            return 2
        if text in name:
            return 3
        return 4 if self.matches(words) else None


def _name_words(name: str) -> list[str]:
    """The words of a block name: ``SparseFillEmptyRows`` -> sparse, fill, empty, rows; ``fused_batch_norm``."""
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|_)|[A-Z]?[a-z]+|[A-Z]+|\d+", name.replace(".", "_"))
    return [p.lower() for p in parts]


def ranked(entries: list[Entry], text: str, limit: int | None = None) -> list[Entry]:
    """The entries matching ``text``, best first (see ``Entry.rank``; then shorter names, then by name)."""
    t = " ".join(text.lower().split())
    words = t.split()
    if not words:
        return list(entries)[:limit]
    scored = []
    for e in entries:
        r = e.rank(t, words)
        if r is not None:
            scored.append((r, len(e.name), e.name.lower(), e))
    scored.sort(key=lambda x: x[:3])
    return [x[3] for x in scored[:limit]]


def _entry(e: Any) -> Entry | None:
    get = e.get if isinstance(e, dict) else (lambda k, d=None: getattr(e, k, d))
    name = get("name")
    if not name:
        return None
    doc = get("doc") or ""
    summary = get("summary") or (doc.strip().splitlines()[0] if doc.strip() else "")
    return Entry(str(name), str(get("category") or "other"), str(summary), str(doc or summary))


def known_entries(full: bool) -> list[Entry]:
    """Hand-declared blocks; with ``full``, also every catalogue entry (from its TF-free index)."""
    out: dict[str, Entry] = {}
    if full:
        try:
            from enuflow.blocks import catalogue_index

            entries = getattr(catalogue_index, "entries", None)
            if callable(entries):
                for e in entries():
                    en = _entry(e)
                    if en is not None:
                        out[en.name] = en
        except Exception:  # noqa: BLE001, S110 - a broken cache leaves the hand-declared blocks
            pass
    for b in blocktypes.registry().hand.values():
        if not b.inert:  # the stand-in for unknown symbols of imported pages is never placed by hand
            out[b.name] = Entry(b.name, b.category, b.summary, b.doc or b.summary)
    return sorted(out.values(), key=lambda e: (e.category, e.name.lower()))


def composite_entries(lib: Library, taken: set[str]) -> list[Entry]:
    """The library's composites as palette entries (those named like a block type in ``taken`` left out), with
    their exposed ports and where they come from in their doc."""
    out = []
    for name, comp in sorted(lib.composites.items(), key=lambda kv: kv[0].lower()):
        if name in taken:
            continue
        doc = comp.doc or f"composite {name}"
        summary = doc.strip().splitlines()[0] if doc.strip() else name
        out.append(Entry(name, COMPOSITES, summary, doc + "\n\n" + _ports_text(comp), lib.origin.get(name, ""),
                         tuple(io_blocks(comp, lib.composites))))
    return out


def _ports_text(comp: Composite) -> str:
    return "\n".join([f"Inputs: {', '.join(p.name for p in comp.inputs) or 'none'}.",
                      f"Outputs: {', '.join(p.name for p in comp.outputs) or 'none'}.",
                      f"Pins: {', '.join(p.name for p in comp.pins) or 'none'}.",
                      f"Blocks: {', '.join(f'{b.id} ({b.type})' for b in comp.blocks)}."])


def _tooltip(e: Entry) -> str:
    where = f", {e.origin} library" if e.origin else ""
    tip = f"<b>{e.name}</b> [{e.category}{where}]<br>{_html(plain(e.doc[:900]))}"
    if e.io:
        tip += (f"<br><i>Reads or writes files or acts beyond the process ({_html(', '.join(e.io))}): "
                "it runs only when allowed.</i>")
    return tip


_TOOLTIP = Qt.ItemDataRole.ToolTipRole
#: a block entry's flags (combined once: each ``|`` of Qt flags is a Python call)
_ENTRY_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled


class _EntryItem(QTreeWidgetItem):
    """A palette entry; its tooltip (the doc as HTML) is written when first asked for: a full catalogue lists
    about 1,500 entries, of which a person hovers a few."""

    def __init__(self, parent: QTreeWidgetItem, entry: Entry) -> None:
        super().__init__(parent, [entry.name])
        self.entry = entry
        self.tip: str | None = None

    def data(self, column: int, role: int) -> Any:
        if role == _TOOLTIP and column == 0:
            if self.tip is None:
                self.tip = _tooltip(self.entry)
            return self.tip
        return super().data(column, role)


class _Tree(QTreeWidget):
    def mimeData(self, items: Iterable[QTreeWidgetItem]) -> QMimeData:
        md = QMimeData()
        for it in items:
            name = it.data(0, NAME_ROLE)
            if name:
                md.setData(MIME_BLOCK, name.encode("utf-8"))
                md.setText(name)
                break
        return md

    def mimeTypes(self) -> list[str]:
        return [MIME_BLOCK]

    def startDrag(self, actions: Qt.DropAction) -> None:
        it = self.currentItem()
        if it is None or not it.data(0, NAME_ROLE):
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData([it]))
        drag.exec(Qt.DropAction.CopyAction)


class Palette(QWidget):
    """Categories of blocks with a search box and a help panel."""

    block_activated = Signal(str)   # double-click or Enter: place this block in the middle of the view

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search blocks (name or doc words)")
        self.search.setClearButtonEnabled(True)
        self.tree = _Tree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragDropMode.DragOnly)
        self.help = QTextBrowser()
        self.help.setOpenExternalLinks(False)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(self.help)
        split.setSizes([500, 160])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.search)
        lay.addWidget(split)
        self.entries: list[Entry] = []
        self.items: dict[str, QTreeWidgetItem] = {}
        self._matches_group: QTreeWidgetItem | None = None
        self._ranked: list[str] = []
        self.search.textChanged.connect(self.apply_filter)
        self.tree.currentItemChanged.connect(self._show_help)
        self.tree.itemActivated.connect(self._activated)
        # a window opened after another one loaded the catalogue lists every block at once (filled once, not twice)
        self.fill(full=blocktypes.catalogue_loaded())

    @property
    def full(self) -> bool:
        """Whether every op block of the catalogue is listed."""
        return self._full

    def text_colour(self, category: str) -> QColor:
        """A category's colour, made readable (WCAG AA) on the list's background in the current theme."""
        header = "composite" if category == COMPOSITES else category  # as a composite block's header
        return readable_on(category_colour(header), self.tree.palette().color(QPalette.ColorRole.Base))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            QTimer.singleShot(0, self._recolour)  # the system switched between light and dark

    def _recolour(self) -> None:
        """Category colours again, readable on the list's new background."""
        category = {e.name: e.category for e in self.entries}
        for i in range(self.tree.topLevelItemCount()):
            g = self.tree.topLevelItem(i)
            if g is not self._matches_group:
                g.setForeground(0, QBrush(self.text_colour(g.text(0))))
            for k in range(g.childCount()):
                it = g.child(k)
                if g is self._matches_group and it.data(0, NAME_ROLE) in category:
                    it.setForeground(0, QBrush(self.text_colour(category[it.data(0, NAME_ROLE)])))

    def fill(self, full: bool) -> None:
        """(Re)list the blocks and the library's composites (read again); ``full`` once the catalogue is ready."""
        self._full = full
        self.library = library()
        blocks = known_entries(full)
        self.entries = blocks + composite_entries(self.library, {e.name for e in blocks})
        self.tree.clear()
        self.items.clear()
        self._matches_group = None
        groups: dict[str, QTreeWidgetItem] = {}
        for e in self.entries:
            it = _EntryItem(self._group(groups, e.category), e)
            it.setData(0, NAME_ROLE, e.name)
            it.setFlags(_ENTRY_FLAGS)
            self.items[e.name] = it
        if self.library.problems:  # a file of the library folders that cannot be read is said, not skipped silently
            n = len(self.library.problems)
            it = QTreeWidgetItem(self._group(groups, COMPOSITES), [f"({n} file{'s' * (n > 1)} not read)"])
            it.setToolTip(0, "<br>".join(_html(p) for p in self.library.problems))
            it.setFlags(Qt.ItemFlag.ItemIsEnabled)
        self.tree.addTopLevelItems([groups[k] for k in sorted(groups)])
        self.apply_filter(self.search.text())

    def _group(self, groups: dict[str, QTreeWidgetItem], category: str) -> QTreeWidgetItem:
        """The item of ``category`` in ``groups``, made when it is not there yet."""
        g = groups.get(category)
        if g is None:
            g = groups[category] = QTreeWidgetItem([category])
            g.setForeground(0, QBrush(self.text_colour(category)))
            g.setFlags(Qt.ItemFlag.ItemIsEnabled)
        return g

    def apply_filter(self, text: str) -> None:
        """Empty search: the categories. Otherwise one list of matches, best first (``ranked``)."""
        words = text.lower().split()
        if self._matches_group is not None:
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(self._matches_group))
            self._matches_group = None
        self._ranked = []
        for i in range(self.tree.topLevelItemCount()):
            g = self.tree.topLevelItem(i)
            g.setHidden(bool(words))
            g.setExpanded(g.text(0) in _OPEN)
        if not words:
            return
        found = ranked(self.entries, text, limit=MAX_MATCHES)
        self._ranked = [e.name for e in found]
        g = QTreeWidgetItem([f"{len(found)}{'+' if len(found) == MAX_MATCHES else ''} matches"])
        g.setFlags(Qt.ItemFlag.ItemIsEnabled)
        for e in found:
            it = QTreeWidgetItem(g, [e.name])
            it.setData(0, NAME_ROLE, e.name)
            it.setForeground(0, QBrush(self.text_colour(e.category)))
            it.setToolTip(0, self.items[e.name].toolTip(0) if e.name in self.items else e.summary)
            it.setFlags(_ENTRY_FLAGS)
        self.tree.insertTopLevelItem(0, g)
        g.setExpanded(True)
        self._matches_group = g
        if g.childCount():
            self.tree.setCurrentItem(g.child(0))

    def refresh_library(self) -> None:
        """Read the library folders again (a composite was saved): the list follows at once, search kept."""
        self.fill(getattr(self, "_full", False))

    def library_composite(self, name: str) -> Composite | None:
        """The library's composite listed as ``name`` (None for a block type or an unknown name)."""
        e = self._entry(name)
        return self.library.composites.get(name) if e is not None and e.category == COMPOSITES else None

    def _entry(self, name: str) -> Entry | None:
        if getattr(self, "_by_name_of", None) is not self.entries:
            self._by_name = {e.name: e for e in self.entries}
            self._by_name_of = self.entries
        return self._by_name.get(name)

    def visible_names(self) -> list[str]:
        """The block names listed now, in the order shown (ranked while searching)."""
        if self._matches_group is not None:
            return list(self._ranked)
        return [n for n, it in self.items.items() if not it.isHidden() and not it.parent().isHidden()]

    def _show_help(self, cur: QTreeWidgetItem | None, _prev: Any = None) -> None:
        name = cur.data(0, NAME_ROLE) if cur is not None else None
        e = self._entry(name) if name else None
        if e is None:
            self.help.setHtml("")
            return
        where = f", {e.origin} library" if e.origin else ""
        io = (f"<p><i>Reads or writes files or acts beyond the process ({_html(', '.join(e.io))}): it runs only "
              "when allowed.</i></p>" if e.io else "")
        self.help.setHtml(f"<b>{e.name}</b> <i>[{e.category}{where}]</i>{rest_html(e.doc)}{io}")

    def _activated(self, it: QTreeWidgetItem, _col: int) -> None:
        name = it.data(0, NAME_ROLE)
        if name:
            self.block_activated.emit(name)


def _html(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n\n", "<p>").replace("\n", " "))


class QuickSearch(QDialog):
    """A small popup: type to filter, Enter places the chosen block at ``pos``."""

    chosen = Signal(str, QPointF)

    def __init__(self, entries: list[Entry], pos: QPointF, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.pos_scene = pos
        self.entries = entries
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("Block name or doc words")
        self.list = QListWidget()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.edit)
        lay.addWidget(self.list)
        self.resize(320, 300)
        self.edit.textChanged.connect(self.refilter)
        self.list.itemActivated.connect(lambda it: self.choose(it.text()))
        self.edit.installEventFilter(self)
        self.refilter("")

    def refilter(self, text: str) -> None:
        self.list.clear()
        for e in ranked(self.entries, text, limit=200):
            it = QListWidgetItem(e.name)
            it.setToolTip(e.summary)
            self.list.addItem(it)
        if self.list.count():
            self.list.setCurrentRow(0)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            it = self.list.currentItem()
            if it is not None:
                self.choose(it.text())
            return
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            self.list.keyPressEvent(event)
            return
        super().keyPressEvent(event)

    def eventFilter(self, obj: Any, event: Any) -> bool:
        if obj is self.edit and isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress \
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Down, Qt.Key.Key_Up):
            self.keyPressEvent(event)
            return True
        return super().eventFilter(obj, event)

    def choose(self, name: str) -> None:
        self.chosen.emit(name, self.pos_scene)
        self.accept()
