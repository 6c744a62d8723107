"""The Problems list of a page with more problems than it shows as rows: at most ``PROBLEM_ROWS`` of them, then
one row saying how many more; the canvas still marks every block; a shown row still selects its block."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt

from enuflow.app.document.page import BlockInstance, Page
from enuflow.app.gui.window import PROBLEM_ROWS


def test_a_page_with_more_problems_than_rows_counts_the_rest(new_window, gui_catalogue, qtbot):
    w = new_window(load=True)
    page = Page("p")
    n = PROBLEM_ROWS // 2 + 20  # Add blocks with neither input wired: a problem for each input
    for i in range(n):
        page.add_block(BlockInstance(f"add{i}", "Add", (float(i % 30) * 300, float(i // 30) * 200), {}))
    w._set_page(page, None)
    rows = [w.problems.item(i) for i in range(w.problems.count())]
    assert len(rows) == PROBLEM_ROWS + 1
    assert rows[-1].text() == f"\u2026 and {2 * n - PROBLEM_ROWS} more problems (the canvas marks every block " \
                              "that has one)"
    assert all("'x'" in r.text() or "'y'" in r.text() for r in rows[:-1])
    assert all(len(w.block_item(f"add{i}").errors) == 2 for i in range(n))  # the canvas marks every block
    # a shown row, clicked, selects the block it names and centres the view on it
    row = rows[PROBLEM_ROWS - 1]
    bid = row.data(Qt.ItemDataRole.UserRole)
    assert bid.startswith("add") and f"'{bid}'" in row.text()
    w.problems.scrollToItem(row)
    qtbot.mouseClick(w.problems.viewport(), Qt.MouseButton.LeftButton,
                     pos=w.problems.visualItemRect(row).center())
    assert w.scene.selected_block_ids() == [bid]
    # the count row names no block: clicking it selects nothing
    w.problems.scrollToItem(rows[-1])
    qtbot.mouseClick(w.problems.viewport(), Qt.MouseButton.LeftButton,
                     pos=w.problems.visualItemRect(rows[-1]).center())
    assert w.scene.selected_block_ids() == [bid]


def test_a_page_with_few_problems_lists_them_all(new_window, gui_catalogue):
    w = new_window(load=True)
    page = Page("p")
    page.add_block(BlockInstance("a", "Add", (0.0, 0.0), {}))
    w._set_page(page, None)
    texts = [w.problems.item(i).text() for i in range(w.problems.count())]
    assert len(texts) == 2 and not any("more problems" in t for t in texts), texts
