"""``enuflow export PAGE --png FILE | --svg FILE``: a picture of the page with its stored results,
drawn headlessly by the same scene the editor uses (Qt's offscreen platform when no display)."""

from __future__ import annotations

import os
import sys

from enuflow.app.document.formats import PageFileError
from enuflow.app.document.formats.native import write_atomic
from enuflow.app.document.page import Page

MARGIN = 40


def export_picture(page: Page, path: str, fmt: str) -> int:
    """Render ``page`` to ``path`` as "png" or "svg"; returns the exit status (0 written, 2 failed)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, QSize
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtWidgets import QApplication

    from enuflow.app.gui.canvas.scene import PageScene
    from enuflow.app.gui.stored import results_from_json

    app = QApplication.instance() or QApplication(["enuflow"])  # noqa: F841 - needed for fonts
    scene = PageScene(page)
    if page.results:
        scene.set_results(results_from_json(page.results))
    rect = scene.itemsBoundingRect().adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
    if rect.isEmpty():
        rect = QRectF(0, 0, 200, 100)
    size = QSize(int(rect.width()), int(rect.height()))
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    try:
        if fmt == "svg":
            from PySide6.QtSvg import QSvgGenerator

            gen = QSvgGenerator()
            gen.setOutputDevice(buf)
            gen.setSize(size)
            gen.setViewBox(QRectF(0, 0, size.width(), size.height()))
            gen.setTitle(page.name)
            p = QPainter(gen)
            p.fillRect(QRectF(0, 0, size.width(), size.height()), QColor("white"))
            scene.render(p, QRectF(0, 0, size.width(), size.height()), rect)
            p.end()
            ok = data.size() > 0
        else:
            scale = 1.0 if rect.width() * rect.height() < 40e6 else (40e6 / (rect.width() * rect.height())) ** 0.5
            img = QImage(max(1, int(size.width() * scale)), max(1, int(size.height() * scale)),
                         QImage.Format.Format_ARGB32)
            img.fill(QColor("white"))
            p = QPainter(img)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
            scene.render(p, QRectF(0, 0, img.width(), img.height()), rect)
            p.end()
            ok = img.save(buf, "PNG")
        buf.close()
        if ok:  # rendered in memory, then saved atomically like every file enuflow writes
            write_atomic(path, bytes(data.data()))
    except PageFileError as e:
        print(f"enuflow: {e}", file=sys.stderr)
        return 2
    if not ok:
        print(f"enuflow: {path}: the picture could not be drawn", file=sys.stderr)
        return 2
    print(f"wrote {path} ({len(page)} blocks, {len(page.links)} links)")
    return 0
