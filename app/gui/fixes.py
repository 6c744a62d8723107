"""Fixes the Problems panel offers (part of MainWindow): a problem that carries a fix (``BuildError.fix``, through
the worker's check) gets "Fix: ..." in its right-click menu. ``{"control": [a, b]}`` (a variable assigned by ``a``
and read by ``b`` in one step with nothing ordering them) adds the control link that runs ``b`` after ``a``;
``{"cast": dtype, "block": b, "port": p}`` (a dtype clash on ``b.p``) puts a Cast to ``dtype`` into that wire."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMenu

from enuflow.app.document.page import BlockInstance, Link
from enuflow.app.gui.commands import AddBlocksCommand, AddLinkCommand, RemoveCommand

#: where a Problems item keeps its fix
FIX_ROLE = Qt.ItemDataRole.UserRole + 1


def fix_title(fix: dict[str, Any]) -> str:
    """The menu text of a fix."""
    if "cast" in fix:
        return f"Fix: cast what '{fix.get('block')}.{fix.get('port')}' gets to {fix['cast']} (a Cast block)"
    a, b = fix.get("control", ["?", "?"])
    return f"Fix: run '{b}' after '{a}' (a control link)"


class ProblemFixes:
    """The Problems panel's fixes (part of MainWindow)."""

    def _connect_fixes(self) -> None:
        self.problems.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)  # type: ignore[attr-defined]
        self.problems.customContextMenuRequested.connect(self._problem_menu)  # type: ignore[attr-defined]

    def problem_menu(self, at: QPoint) -> QMenu | None:
        """The menu of the Problems item at ``at`` (None when it offers no fix)."""
        item = self.problems.itemAt(at)  # type: ignore[attr-defined]
        fix = item.data(FIX_ROLE) if item is not None else None
        if not isinstance(fix, dict):
            return None
        menu = QMenu(self)  # type: ignore[arg-type]
        menu.addAction(fix_title(fix), lambda: self.apply_fix(fix))
        return menu

    def _problem_menu(self, at: QPoint) -> None:
        menu = self.problem_menu(at)
        if menu is not None:
            menu.exec(self.problems.viewport().mapToGlobal(at))  # type: ignore[attr-defined]

    def apply_fix(self, fix: dict[str, Any]) -> bool:
        """Carry out ``fix`` as one undo step; False (said in the status bar) when it no longer applies."""
        if "cast" in fix:
            return self._cast_fix(str(fix["cast"]), str(fix.get("block")), str(fix.get("port")))
        pair = fix.get("control")
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            return False
        a, b = pair
        page = self.page  # type: ignore[attr-defined]
        link = Link(a, "^", b, "^")
        if a not in page or b not in page or page.has_link(link):
            said = f"Nothing to fix: '{a}' and '{b}' are not both on the page, or already ordered"
            self.status_label.setText(said)  # type: ignore[attr-defined]
            return False
        self.undo.push(AddLinkCommand(page, link))  # type: ignore[attr-defined]
        self.status_label.setText(f"'{b}' now runs after '{a}' (a control link)")  # type: ignore[attr-defined]
        return True

    def _cast_fix(self, dtype: str, bid: str, port: str) -> bool:
        """A Cast to ``dtype`` between what is wired into ``bid.port`` and that port, placed between the two."""
        page = self.page  # type: ignore[attr-defined]
        into = page.links_into(bid, port) if bid in page else []
        if len(into) != 1:
            self.status_label.setText(f"Nothing to fix: '{bid}.{port}' has not one wire")  # type: ignore[attr-defined]
            return False
        ln = into[0]
        src, dst = page.block(ln.src), page.block(bid)
        cid = page.new_id("Cast")
        cast = BlockInstance(cid, "Cast", ((src.pos[0] + dst.pos[0]) / 2, dst.pos[1] + 40), {"DstT": dtype})
        self.free_place(cast, page)  # type: ignore[attr-defined]
        undo = self.undo  # type: ignore[attr-defined]
        undo.beginMacro(f"Cast {ln.src}.{ln.src_port} to {dtype}")
        undo.push(RemoveCommand(page, [], links=[ln], text="Unwire"))
        undo.push(AddBlocksCommand(page, [cast], text=f"Add {cid}"))
        undo.push(AddLinkCommand(page, Link(ln.src, ln.src_port, cid, "x")))
        undo.push(AddLinkCommand(page, Link(cid, "y", bid, port)))
        undo.endMacro()
        self.status_label.setText(f"'{bid}.{port}' now gets {dtype} through {cid}")  # type: ignore[attr-defined]
        return True
