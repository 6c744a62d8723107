"""Colours and fonts of the editor: category colours come from the shipped asset ``categories.json``."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from enuflow.app import bundled
from PySide6.QtGui import QColor, QFont


@lru_cache(maxsize=1)
def _category_table() -> dict[str, str]:
    try:
        data = json.loads(bundled.asset_text("categories.json"))
        return {k: v for k, v in data.items() if not k.startswith("_") and isinstance(v, str)}
    except (OSError, ValueError):
        return {}


@lru_cache(maxsize=256)
def category_colour(category: str) -> QColor:
    """The header colour of a category (a stable colour derived from the name when unlisted)."""
    hexcode = _category_table().get(category)
    if hexcode:
        return QColor(hexcode)
    h = int(hashlib.md5(category.encode()).hexdigest()[:4], 16) % 360
    return QColor.fromHsv(h, 140, 150)


@lru_cache(maxsize=64)
def font(size: int = 8, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSize(size)
    f.setBold(bold)
    return f
