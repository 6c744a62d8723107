"""Frames and notes in the editor: Frame Selection, Add Note, rename, recolour, edit, move, resize, delete.

``AnnotationCommands`` is a part of ``MainWindow`` (a mixin). Every action is one undo command (or one macro)
that changes only the page (``app.gui.commands``); the canvas follows the page. Moving a frame moves the blocks
and notes inside it in the same undo step. A new or edited note goes to free space, clear of blocks and other
notes. Titles and note texts are edited in place, over the canvas (``InlineEditor``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QKeyEvent, QKeySequence, QPixmap
from PySide6.QtWidgets import QLineEdit, QMenu, QPlainTextEdit, QWidget

from enuflow.app.document.annotations import FRAME_COLOURS, Frame, Note
from enuflow.app.gui import editing
from enuflow.app.gui.canvas.annotations import HEADER, NOTE_PAD, NOTE_WIDTH, PAD, note_document
from enuflow.app.gui.commands import (AddAnnotationsCommand, ChangeAnnotationCommand, MoveCommand,
                                      RemoveAnnotationsCommand)

FRAME_KEY = "Ctrl+Shift+F"


class InlineEditor(QObject):
    """A text field over the canvas: Enter (a note: Ctrl+Enter) or a click elsewhere keeps the text, Esc drops
    it; ``on_done`` gets the kept text."""

    def __init__(self, parent: QWidget, rect: QRect, text: str, multiline: bool,
                 on_done: Callable[[str], None]) -> None:
        super().__init__(parent)
        self.multiline = multiline
        self.on_done = on_done
        self.done = False
        if multiline:
            self.widget: QLineEdit | QPlainTextEdit = QPlainTextEdit(parent)
            self.widget.setPlainText(text)
            self.widget.setPlaceholderText("Markdown: # title, **bold**, - list ...")
            self.widget.setToolTip("Markdown text. Ctrl+Enter or a click elsewhere keeps it, Esc cancels")
        else:
            self.widget = QLineEdit(text, parent)
            self.widget.selectAll()
        self.widget.setObjectName("inline_editor")
        # over its frame or note, moved inside the canvas where that is partly out of view
        area = parent.rect()
        rect = QRect(rect.topLeft(), rect.size().boundedTo(area.size()))
        rect.moveLeft(max(area.left(), min(rect.left(), area.right() - rect.width())))
        rect.moveTop(max(area.top(), min(rect.top(), area.bottom() - rect.height())))
        self.widget.setGeometry(rect)
        self.widget.installEventFilter(self)
        self.widget.show()
        self.widget.setFocus()

    def text(self) -> str:
        w = self.widget
        return w.toPlainText() if isinstance(w, QPlainTextEdit) else w.text()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() == Qt.Key.Key_Escape:
                self.finish(False)
                return True
            ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (ctrl or not self.multiline):
                self.finish(True)
                return True
        elif event.type() == QEvent.Type.FocusOut and not self.done:
            self.finish(True)
        return False

    def finish(self, keep: bool) -> None:
        if self.done:
            return
        self.done = True  # hiding the focused field sends another FocusOut
        text = self.text()
        self.widget.hide()
        self.widget.deleteLater()
        if keep:
            self.on_done(text)


def _swatch(colour: str) -> QIcon:
    pm = QPixmap(14, 14)
    pm.fill(QColor(colour))
    return QIcon(pm)


class AnnotationCommands:
    """Frame and note actions of ``MainWindow``."""

    page: Any
    scene: Any
    view: Any
    undo: Any
    status_label: Any
    inline: InlineEditor | None = None

    def _connect_annotations(self) -> None:
        layer = self.scene.annotations
        layer.frame_moved.connect(self._frame_moved)
        layer.frame_resized.connect(self._frame_resized)
        layer.note_moved.connect(self._note_moved)
        layer.edit_requested.connect(self._edit_requested)

    def _annotation_actions(self, menu: QMenu) -> None:
        """Edit > Frame Selection (Ctrl+Shift+F) and Add Note."""
        self.frame_action = self._act(menu, "&Frame Selection", lambda: self.frame_selection(), FRAME_KEY)
        self.frame_action.setToolTip("A titled coloured box around the selected blocks; drag its title to move "
                                     "them together")
        self._act(menu, "Add &Note", lambda: self.add_note(self._note_place(), edit=True))

    def _inside_composite(self) -> bool:
        """Frames and notes belong to the page's top level: inside a composite, say so and do nothing."""
        if self.trail:
            self.status_label.setText("Frames and notes are on the page itself: leave the composite (Esc) first")
        return bool(self.trail)

    def _note_place(self) -> QPointF:
        at = self.view.last_scene_pos
        return at if self.view.visible_rect().contains(at) else self.view.visible_rect().center()

    # -- frames --------------------------------------------------------------------------------------------
    def frame_selection(self, ids: list[str] | None = None, title: str | None = None) -> str | None:
        """Draw a frame around the blocks ``ids`` (default: the selected ones); returns its id."""
        if self._inside_composite():
            return None
        ids = [b for b in (ids if ids is not None else self.scene.selected_block_ids()) if b in self.scene.blocks]
        if not ids:
            self.status_label.setText("Select the blocks to frame first")
            return None
        r = QRectF()
        for b in ids:
            it = self.scene.blocks[b]
            r = r.united(it.mapRectToScene(it.body_rect()))
        x, y = round((r.left() - PAD) / 10) * 10, round((r.top() - PAD - HEADER) / 10) * 10
        w = -(-int(r.right() + PAD - x) // 10) * 10
        h = -(-int(r.bottom() + PAD - y) // 10) * 10
        fid = self.page.new_annotation_id("frame")
        n = len(self.page.frames)
        colour = list(FRAME_COLOURS)[n % len(FRAME_COLOURS)]
        frame = Frame(fid, title if title is not None else f"Frame {n + 1}", (x, y, w, h), colour)
        self.undo.push(AddAnnotationsCommand(self.page, [frame], text=f"Frame {len(ids)} blocks"))
        return fid

    def frame_contents(self) -> dict[str, list[str]]:
        """Each frame's blocks where they stand now (before an Auto Layout: ``refit_frames`` after it)."""
        if self.trail:
            return {}
        return {fid: self.scene.annotations.contents(fid)[0] for fid in self.page.frames}

    def refit_frames(self, members: dict[str, list[str]]) -> None:
        """Each frame drawn afresh around its blocks where they stand now (after an Auto Layout), as undo steps."""
        if not members:
            return
        sizes = self.scene.block_sizes()
        for fid, ids in members.items():
            ids = [b for b in ids if b in self.page and b in sizes]
            frame = self.page.frames.get(fid)
            if not ids or frame is None:
                continue
            left = min(self.page.block(b).pos[0] for b in ids)
            top = min(self.page.block(b).pos[1] for b in ids)
            right = max(self.page.block(b).pos[0] + sizes[b][0] for b in ids)
            bottom = max(self.page.block(b).pos[1] + sizes[b][1] for b in ids)
            x, y = round((left - PAD) / 10) * 10, round((top - PAD - HEADER) / 10) * 10
            rect = (x, y, -(-int(right + PAD - x) // 10) * 10, -(-int(bottom + PAD - y) // 10) * 10)
            if tuple(frame.rect) != rect:
                self.undo.push(ChangeAnnotationCommand(self.page, fid, {"rect": rect}, "Fit frame"))

    def rename_frame(self, fid: str, title: str | None = None) -> None:
        """Give frame ``fid`` the title ``title``; None opens a field over its title band."""
        frame = self.page.frames.get(fid)
        if frame is None:
            return
        if title is None:
            x, y, w, _h = frame.rect
            rect = self.view.mapFromScene(QRectF(x, y, w, HEADER)).boundingRect()
            rect.setHeight(max(rect.height(), 28))
            rect.setWidth(max(rect.width(), 200))
            self.inline = InlineEditor(self.view.viewport(), rect, frame.title, False,
                                       lambda t: self.rename_frame(fid, t))
            return
        if title != frame.title and fid in self.page.frames:
            self.undo.push(ChangeAnnotationCommand(self.page, fid, {"title": title}, f"Rename frame to {title}"))

    def set_frame_colour(self, fid: str, colour: str) -> None:
        frame = self.page.frames.get(fid)
        if frame is not None and frame.color != colour:
            self.undo.push(ChangeAnnotationCommand(self.page, fid, {"color": colour},
                                                   f"Colour frame {frame.title} {colour}"))

    def _frame_moved(self, fid: str, dx: float, dy: float, blocks: list[str], notes: list[str]) -> None:
        """A drag of the frame's title: the frame, its blocks and its notes move by (dx, dy) in one undo step."""
        frame = self.page.frames.get(fid)
        if frame is None:
            return
        x, y, w, h = frame.rect
        self.undo.beginMacro(f"Move frame {frame.title}")
        self.undo.push(ChangeAnnotationCommand(self.page, fid, {"rect": (x + dx, y + dy, w, h)}))
        old = {b: tuple(self.page.block(b).pos) for b in blocks if b in self.page}
        if old:
            self.undo.push(MoveCommand(self.page, old, {b: (p[0] + dx, p[1] + dy) for b, p in old.items()}))
        for nid in notes:
            note = self.page.notes.get(nid)
            if note is not None:
                self.undo.push(ChangeAnnotationCommand(self.page, nid, {"pos": (note.pos[0] + dx,
                                                                              note.pos[1] + dy)}))
        self.undo.endMacro()

    def _frame_resized(self, fid: str, _old: tuple, new: tuple) -> None:
        if fid in self.page.frames:
            self.undo.push(ChangeAnnotationCommand(self.page, fid, {"rect": tuple(new)}, "Resize frame"))

    # -- notes ---------------------------------------------------------------------------------------------
    def _note_spot(self, at: tuple[float, float], text: str, skip: str | None = None) -> tuple[float, float]:
        """The free place nearest ``at`` for a note showing ``text``, clear of blocks and the other notes."""
        h = max(note_document(text).size().height() + 2 * NOTE_PAD, 36.0)
        others = [r for nid, r in zip(self.scene.annotations.notes, self.scene.annotations.note_rects())
                  if nid != skip]
        x, y = editing.free_spot(self.page, self.scene.block_sizes(), at, (NOTE_WIDTH, h), others=others)
        return float(x), float(y)

    def add_note(self, pos: QPointF, text: str = "", edit: bool = False) -> str | None:
        """Put a note with ``text`` at page point ``pos``, or the free place nearest it; ``edit`` opens its text
        for typing. Returns its id (None inside a composite)."""
        if self._inside_composite():
            return None
        nid = self.page.new_annotation_id("note")
        at = self._note_spot((round(pos.x() / 10) * 10, round(pos.y() / 10) * 10), text)
        self.undo.push(AddAnnotationsCommand(self.page, [Note(nid, at, text)], text="Add note"))
        if edit:
            self.edit_note(nid)
        return nid

    def edit_note(self, nid: str, text: str | None = None) -> None:
        """Set the text of note ``nid``; None opens an editor over it. A note that grew onto a block moves to
        free space in the same step."""
        note = self.page.notes.get(nid)
        if note is None:
            return
        if text is None:
            item = self.scene.annotations.notes[nid]
            rect = self.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
            rect.setWidth(max(rect.width(), 300))
            rect.setHeight(max(rect.height(), 160))
            self.inline = InlineEditor(self.view.viewport(), rect, note.text, True, lambda t: self.edit_note(nid, t))
            return
        if text == note.text:
            return
        pos = self._note_spot(note.pos, text, skip=nid)
        self.undo.push(ChangeAnnotationCommand(self.page, nid, {"text": text, "pos": pos}, "Edit note"))

    def _note_moved(self, nid: str, _old: tuple, new: tuple) -> None:
        if nid in self.page.notes:
            self.undo.push(ChangeAnnotationCommand(self.page, nid, {"pos": tuple(new)}, "Move note"))

    def _edit_requested(self, item_id: str) -> None:
        if item_id in self.page.frames:
            self.rename_frame(item_id)
        elif item_id in self.page.notes:
            self.edit_note(item_id)

    def delete_annotations(self, ids: list[str]) -> None:
        """Delete frames and notes (a frame's blocks stay)."""
        ids = [i for i in ids if self.page.annotation(i) is not None]
        if ids:
            self.undo.push(RemoveAnnotationsCommand(self.page, ids, text=f"Delete {', '.join(ids[:3])}"))

    # -- context menus -------------------------------------------------------------------------------------
    def annotation_menu(self, menu: QMenu, item: Any) -> bool:
        """Fill ``menu`` for the frame or note that ``item`` draws; False when it draws neither."""
        aid = self.scene.annotations.at(item)
        if aid is None:
            return False
        if aid in self.page.frames:
            self._frame_entries(menu, aid, "")
        else:
            menu.addAction("&Edit Note...", lambda: self.edit_note(aid))
            menu.addAction("De&lete Note", lambda: self.delete_annotations([aid]))
        return True

    def _frame_entries(self, menu: QMenu, fid: str, named: str) -> None:
        menu.addAction(f"&Rename Frame{named}...", lambda: self.rename_frame(fid))
        colours = menu.addMenu(f"Frame &Colour{named}")
        for name, hexcode in FRAME_COLOURS.items():
            colours.addAction(_swatch(hexcode), name.capitalize(), lambda n=name: self.set_frame_colour(fid, n))
        menu.addAction(f"De&lete Frame{named}", lambda: self.delete_annotations([fid]))

    def canvas_annotation_entries(self, menu: QMenu, pos: QPointF, on_canvas: bool) -> None:
        """Frame Selection and Add Note (on a block: beside it, in free space), and on the canvas inside a frame
        that frame's entries, for a block's or the canvas's menu (the page's top level only)."""
        if self.trail:
            return
        menu.addSeparator()
        act = menu.addAction("&Frame Selection", lambda: self.frame_selection())
        act.setShortcut(QKeySequence(FRAME_KEY))
        act.setEnabled(bool(self.scene.selected_block_ids()))
        menu.addAction("Add &Note", lambda: self.add_note(pos, edit=True))
        if not on_canvas:
            return
        around = self.scene.annotations.frames_around(pos)
        if around:
            menu.addSeparator()
            self._frame_entries(menu, around[0], f" '{self.page.frames[around[0]].title}'")
