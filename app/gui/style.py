"""Colours and fonts of the editor: category colours come from the shipped asset ``categories.json``; the
canvas theme (light or dark) follows the system palette; block titles get a text colour with WCAG AA
contrast (at least 4.5:1) against their category colour."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache

from enuflow.app import bundled
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette


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


# -- contrast (WCAG 2.1) ---------------------------------------------------------------------------------
AA = 4.5


def luminance(c: QColor) -> float:
    """The relative luminance of a colour (WCAG 2.1)."""
    def lin(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


_WHITE = QColor("#ffffff")
_INK = QColor("#16181a")


@lru_cache(maxsize=256)
def header_colours(category: str) -> tuple[QColor, QColor]:
    """(header, title text) of a category: the category colour, darkened until white text on it (or
    dark text, whichever reads better) reaches WCAG AA."""
    bg = QColor(category_colour(category))
    fg = _WHITE if contrast(_WHITE, bg) >= contrast(_INK, bg) else _INK
    while contrast(fg, bg) < AA:
        bg = bg.darker(108) if fg is _WHITE else bg.lighter(108)
    return bg, fg


@lru_cache(maxsize=512)
def _readable(rgb: int, background: int) -> QColor:
    c, bg = QColor.fromRgb(rgb), QColor.fromRgb(background)
    lighten = luminance(bg) < 0.18  # on a dark background make the colour lighter, else darker
    for _ in range(40):
        if contrast(c, bg) >= AA + 0.1:  # a little over, whichever rounding of the formula is used
            break
        c = c.lighter(110) if lighten else c.darker(110)
        if lighten and c.value() >= 255:  # lighter() stops at full value: move towards white
            c = QColor.fromRgbF(min(c.redF() + 0.05, 1.0), min(c.greenF() + 0.05, 1.0), min(c.blueF() + 0.05, 1.0))
    return c


def readable_on(colour: QColor, background: QColor) -> QColor:
    """``colour`` made lighter (on a dark background) or darker (on a light one) until text in it has
    WCAG AA contrast against ``background``; unchanged if it already has."""
    return QColor(_readable(colour.rgb(), background.rgb()))


# -- themes -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Theme:
    dark: bool
    canvas: QColor
    grid_minor: QColor
    grid_major: QColor
    body: QColor
    text: QColor
    muted: QColor
    border: QColor
    wire: QColor
    hot: QColor
    selected: QColor
    preview: QColor
    stale: QColor
    unknown: QColor
    port_in: QColor
    port_out: QColor


LIGHT = Theme(False, QColor("#eef0f2"), QColor("#e2e5e9"), QColor("#d3d7dd"), QColor("#fbfbfa"), QColor("#1f2328"),
              QColor("#5c6670"), QColor("#9aa3ad"), QColor("#7b8794"), QColor("#1e88e5"), QColor("#ef8f00"),
              QColor("#0d47a1"), QColor("#8a6d00"), QColor("#8d8d8d"), QColor("#3f6fa3"), QColor("#3d8b3d"))
DARK = Theme(True, QColor("#1d2024"), QColor("#24282d"), QColor("#2d3238"), QColor("#2b2f35"), QColor("#e6e8eb"),
             QColor("#a2abb5"), QColor("#4a525b"), QColor("#8792a0"), QColor("#64b5f6"), QColor("#ffa726"),
             QColor("#90caf9"), QColor("#e0b84d"), QColor("#5f6368"), QColor("#6fa0d8"), QColor("#6fbf73"))

_theme: list[Theme] = []

#: a port's colour by the kind of dtype it carries (from the worker's static check): floats blue, whole numbers
#: green, bool orange, text purple, complex teal, handles (resource, variant) grey
DTYPE_KINDS = {"float": QColor("#1e6fd9"), "bfloat": QColor("#1e6fd9"), "int": QColor("#2e9e44"),
               "uint": QColor("#2e9e44"), "qint": QColor("#2e9e44"), "quint": QColor("#2e9e44"),
               "bool": QColor("#e07b00"), "string": QColor("#8e3fb5"), "complex": QColor("#00897b"),
               "resource": QColor("#757575"), "variant": QColor("#757575")}


def dtype_colour(dtype: str | None) -> QColor | None:
    """The colour of a port carrying ``dtype`` (``float32``, ``int64``, ``string``...), or None when not known."""
    if not dtype:
        return None
    base = dtype[:-4] if dtype.endswith("_ref") else dtype
    return DTYPE_KINDS.get(base.rstrip("0123456789"))


def theme() -> Theme:
    """The canvas theme: dark when the system palette's window colour is dark, else light."""
    if not _theme:
        dark = False
        app = QGuiApplication.instance()
        if app is not None:
            dark = QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128
        _theme.append(DARK if dark else LIGHT)
    return _theme[0]


def theme_changed() -> None:
    """Call when the system palette changed: the next ``theme()`` reads it again."""
    _theme.clear()
