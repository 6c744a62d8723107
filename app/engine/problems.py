"""The problems a page check or build reports: each names its block and port where it can."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BuildError:
    """A problem with a page, a block or a port, as shown to a person."""

    block: str | None
    port: str | None
    message: str
    #: a fix the editor can offer: ``{"control": [a, b]}`` adds a control link that runs ``b`` after ``a``
    fix: dict[str, Any] | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        out = {"block": self.block, "port": self.port, "message": self.message}
        if self.fix:
            out["fix"] = self.fix
        return out

    def __str__(self) -> str:
        where = []
        if self.block is not None:
            where.append(f"block '{self.block}'")
        if self.port is not None:
            where.append(f"port '{self.port}'")
        return (", ".join(where) + ": " if where else "") + self.message


__all__ = ["BuildError"]
