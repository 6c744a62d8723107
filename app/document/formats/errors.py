"""The error a page file raises when it cannot be read or written."""

from __future__ import annotations


class PageFileError(Exception):
    """A page file that cannot be read or written; the message names the file, line and block."""

    def __init__(self, path: str, message: str, line: int | None = None, block: str | None = None):
        self.path = path
        self.line = line
        self.block = block
        self.detail = message
        where = path
        if line is not None:
            where += f", line {line}"
        if block is not None:
            where += f", block {block!r}"
        super().__init__(f"{where}: {message}")

    @property
    def message(self) -> str:
        return str(self)
