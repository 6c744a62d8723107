"""The Console dock: what the run worker printed during the current run (a ``Print`` block's messages,
SHOW_DEBUG's values per step), as the steps run.

The worker client relays the worker's stderr in batches ("output" events, ``app.worker.client``); TensorFlow's
own log lines stay in the worker's log. The text is plain, never interpreted; only the last
``MAX_LINES`` lines are kept, so a page that prints at every step of a long run cannot fill the editor's memory.
"""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase, QTextCursor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

#: lines the console keeps (the oldest go first)
MAX_LINES = 5000


class ConsoleDock(QWidget):
    """Read-only text of the current run's printed output, with a Clear button."""

    def __init__(self) -> None:
        super().__init__()
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setMaximumBlockCount(MAX_LINES)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.view.setPlaceholderText("What the page prints (a Print block, SHOW_DEBUG) appears here as it runs")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Empty the console (a new run also starts with an empty console)")
        self.clear_button.clicked.connect(self.clear)
        self.caption = QLabel("")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.caption, 1)
        bar.addWidget(self.clear_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.view, 1)

    def start_run(self, caption: str = "") -> None:
        """A new run: its output replaces the last run's."""
        self.view.clear()
        self.caption.setText(caption)

    def append(self, text: str) -> None:
        """Add printed lines at the end; the view follows the end unless scrolled up."""
        bar = self.view.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        cursor = QTextCursor(self.view.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if not self.view.document().isEmpty():
            cursor.insertText("\n")
        cursor.insertText(text)
        if at_end:
            bar.setValue(bar.maximum())

    def clear(self) -> None:
        self.view.clear()

    def text(self) -> str:
        return self.view.toPlainText()
