"""A combo box's choices offered afresh, keeping what was chosen where it is still offered."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox


def refill(combo: QComboBox, names: list[str]) -> None:
    """Offer ``names`` in ``combo``: its current choice stays chosen if it is among them (else the first is), and
    the refill itself sends no signal (the caller shows the choice)."""
    keep = combo.currentText()
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(names)
    if keep in names:
        combo.setCurrentText(keep)
    combo.blockSignals(False)
