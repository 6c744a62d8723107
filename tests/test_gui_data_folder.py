"""The editor's data folder of a page: missing data files and .dat values in Problems, set through File menu."""

from __future__ import annotations

from pathlib import Path

import pytest
from mnist_files import softmax_page, synthetic_digits, write_mnist
from PySide6.QtWidgets import QFileDialog, QMessageBox

from enuflow.app.document.formats import load
from enuflow.app.gui.window import MainWindow


@pytest.fixture
def window(new_window):
    return new_window()


def problems(w: MainWindow) -> list[str]:
    return [w.problems.item(i).text() for i in range(w.problems.count())]


def test_data_folder_menu_clears_missing_files_and_is_saved(window, qtbot, tmp_path, monkeypatch):
    w = window
    folder = tmp_path / "data"
    folder.mkdir()
    write_mnist(folder, *synthetic_digits(20))
    src = softmax_page(tmp_path)
    assert w.open_path(str(src), ask=False)
    w.revalidate()
    missing = [p for p in problems(w) if "train-images.idx3-ubyte" in p and "data folder" in p]
    assert missing and "F_IMG" in missing[0]
    # File > Data Folder..., choosing the folder in the dialog
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    w.data_folder_action.trigger()
    qtbot.waitUntil(lambda: not [p for p in problems(w) if "train-images" in p], timeout=5000)
    assert w.page.extra["data_dir"] == str(folder) and w.dirty
    # the written checkpoints still ask for nothing: they go into the folder
    assert not [p for p in problems(w) if "trainW.t" in p]
    out = tmp_path / "saved.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    assert w.save_as()
    assert load(out).extra["data_dir"] == str(folder)
    # undo brings the problem back
    w.undo.undo()
    qtbot.waitUntil(lambda: bool([p for p in problems(w) if "train-images" in p]), timeout=5000)
    assert "data_dir" not in w.page.extra


def test_missing_dat_values_are_listed_as_problems(window, qtbot, tmp_path):
    w = window
    src = softmax_page(tmp_path)
    (tmp_path / "mnist_softmax.dat").unlink()
    assert w.open_path(str(src), ask=False)
    w.revalidate()
    listed = [p for p in problems(w) if "mnist_softmax.dat" in p]
    assert {bid for bid in ("W_INIT", "IMAGE_INIT", "LABELS_INIT") if any(bid in p for p in listed)} == {
        "W_INIT", "IMAGE_INIT", "LABELS_INIT"}
    assert w.block_errors.get("W_INIT")  # a badge on the block too
    # typing a value into the pin in the inspector clears it
    w.select(["W_INIT"])
    assert w.inspector.block_id == "W_INIT"
    field = w.inspector.fields["val"]
    field.setText("0")
    field.editingFinished.emit()
    qtbot.waitUntil(lambda: not w.block_errors.get("W_INIT"), timeout=5000)



def test_editor_runs_the_mnist_page_with_its_data_folder(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("ENUFLOW_RECOVERY_DIR", str(tmp_path / "recovery"))
    monkeypatch.setenv("ENUFLOW_CONFIG_DIR", str(tmp_path / "config"))
    folder = tmp_path / "data"
    folder.mkdir()
    write_mnist(folder, *synthetic_digits(40))
    w = MainWindow(start_worker=True)
    qtbot.addWidget(w)
    asked: list[str] = []
    w.prompt = lambda title, text, buttons: asked.append(title) or QMessageBox.StandardButton.Yes
    w.warn = lambda title, text: None
    w.show()
    try:
        assert w.open_path(str(softmax_page(tmp_path, counter_start=19)), ask=False)
        w.choose_data_folder(str(folder))
        rid = w.run_page(steps=2)
        assert rid is not None and asked == ["Run blocks that use files?"]
        qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.kind in ("done", "crashed")
                        and not w.worker.busy, timeout=120_000)
        assert w.last_event.kind == "done" and w.run_errors == []
        assert not [p for p in problems(w) if not p.startswith("warning:")]
    finally:
        if w.worker is not None:
            w.worker.close()
            w.worker = None
