"""Writes the training example pages (``scenes/digits_mlp.json``, ``digits_cnn``, ``regression``, ``autoencoder``).

Each page places the standard library's composites (``layers.Dense``, ``data.Dataset``, ...) as the editor's
palette does (``composite_files.place``: the definitions are copied into the page's ``composites``, so the page
file stands alone), sets their pins, wires them left to right and frames the data, the model and the training.
The editor's Auto Layout (offscreen) then places the blocks by their real sizes, so that no wire runs across a
block. Run it from the repository (the project's Python, enuflow importable) after the composites change::

    python scenes/data/make_pages.py [NAME ...]

It is not part of enuflow (it is not installed); the pages it writes are.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCENES = Path(__file__).resolve().parent.parent

#: page units between columns, and the height of a row of blocks
COL = 240
ROW = 170


@dataclass
class Spec:
    """One example page: its blocks (id, type, column, row, pins, label), wires ("a.port -> b.port"), frames
    (title, colour, block ids) and a note."""

    name: str
    title: str
    blocks: list[tuple[str, str, float, float, dict[str, Any], str | None]]
    wires: list[str]
    frames: list[tuple[str, str, list[str]]]
    note: str
    epochs: int


def _training(loss: str, metric: str | None, optimizer: str, rate: float, col: float,
              epochs: int) -> tuple[list, list[str]]:
    """The loss (and metric) blocks' Minimize and ClientSession, from column ``col`` on; their wires."""
    blocks = [("train", "train.Minimize", col + 1, 0, {"optimizer": optimizer, "learning_rate": rate}, None),
              ("session", "ClientSession", col + 2, 0.5, {"epochs": epochs}, None)]
    wires = [f"{loss}.loss -> train.loss", "train.step -> session.run_outputs", f"{loss}.loss -> session.fetch_outputs"]
    if metric:
        wires.append(f"{metric}.accuracy -> session.fetch_outputs")
    return blocks, wires


def _dataset(file: str, batch: int = 32, seed: int = 1) -> tuple:
    return ("data", "data.Dataset", 0, 0.5,
            {"file": file, "batch_size": batch, "shuffle": True, "seed": seed, "test_fraction": 0.2}, None)


def _dense(bid: str, col: float, units: int, activation: str, seed: int, label: str | None = None) -> tuple:
    return (bid, "layers.Dense", col, 0, {"units": units, "activation": activation, "seed": seed}, label)


def _classifier_tail(logits: str, col: float, epochs: int, rate: float) -> tuple[list, list[str]]:
    """Softmax cross entropy and accuracy of ``logits`` (a block id) against the dataset's labels, trained with
    Adam."""
    blocks = [("loss", "losses.SoftmaxCrossEntropy", col, 0, {}, None),
              ("acc", "metrics.Accuracy", col, 1, {}, None)]
    wires = [f"{logits}.y -> loss.logits", "data.y -> loss.labels", f"{logits}.y -> acc.logits", "data.y -> acc.labels"]
    more_blocks, more_wires = _training("loss", "acc", "adam", rate, col, epochs)
    return blocks + more_blocks, wires + more_wires


RUN_NOTE = ("Press **Run** to train ({epochs} epochs, each followed by a test pass over a fifth of the data); the "
            "Training dock draws the curves. Double-click a block to see the ops it builds. From a shell: "
            "`enuflow run scenes/{name}.json --epochs {epochs}`.")


def digits_mlp() -> Spec:
    tail, tail_wires = _classifier_tail("dense2", 3, 30, 0.001)
    return Spec(
        "digits_mlp", "Handwritten digits: a two-layer network",
        [_dataset("data/digits.npz"),
         _dense("dense1", 1, 64, "relu", 1, "hidden: 64 units, relu"),
         _dense("dense2", 2, 10, "none", 2, "logits: one per digit"), *tail],
        ["data.x -> dense1.x", "dense1.y -> dense2.x", *tail_wires],
        [("data", "grey", ["data"]), ("model", "blue", ["dense1", "dense2"]),
         ("training", "orange", ["loss", "acc", "train", "session"])],
        "**Handwritten digits**: 1,797 images of 8x8 pixels (scenes/data/README.md), 64 numbers in, a digit out. "
        "A hidden layer of 64 units and 10 logits, trained with Adam on softmax cross entropy; reaches about 97 % "
        "test accuracy.", 30)


def digits_cnn() -> Spec:
    tail, tail_wires = _classifier_tail("dense2", 7, 20, 0.002)
    return Spec(
        "digits_cnn", "Handwritten digits: a small convolutional network",
        [_dataset("data/digits_8x8.npz"),
         ("conv", "layers.Conv2D", 1, 0,
          {"filters": 16, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "activation": "relu",
           "seed": 3}, "16 filters, 3x3"),
         ("pool", "layers.MaxPool2D", 2, 0, {"pool_size": [2, 2], "strides": [2, 2], "padding": "valid"}, "4x4x16"),
         ("flat", "layers.Flatten", 3, 0, {}, None),
         _dense("dense1", 4, 64, "relu", 1),
         ("drop", "layers.Dropout", 5, 0, {"rate": 0.2, "seed": 4}, "off while testing"),
         _dense("dense2", 6, 10, "none", 2, "logits"), *tail],
        ["data.x -> conv.x", "conv.y -> pool.x", "pool.y -> flat.x", "flat.y -> dense1.x", "dense1.y -> drop.x",
         "drop.y -> dense2.x", *tail_wires],
        [("data", "grey", ["data"]),
         ("model", "blue", ["conv", "pool", "flat", "dense1", "drop", "dense2"]),
         ("training", "orange", ["loss", "acc", "train", "session"])],
        "**Handwritten digits with convolutions**: the same digits as 8x8 images of one channel "
        "(data/digits_8x8.npz), 16 3x3 filters, 2x2 max pooling, a dense layer with dropout and 10 logits; "
        "reaches about 98 % test accuracy.", 20)


def regression() -> Spec:
    tail, tail_wires = _training("mse", None, "adam", 0.01, 4, 40)
    return Spec(
        "regression", "Regression: fitting a smooth function of three inputs",
        [_dataset("data/regression.npz"),
         _dense("dense1", 1, 32, "tanh", 1), _dense("dense2", 2, 32, "tanh", 2),
         _dense("out", 3, 1, "none", 3, "prediction"),
         ("mse", "losses.MeanSquaredError", 4, 0, {}, None), *tail],
        ["data.x -> dense1.x", "dense1.y -> dense2.x", "dense2.y -> out.x", "out.y -> mse.prediction",
         "data.y -> mse.target", *tail_wires],
        [("data", "grey", ["data"]), ("model", "blue", ["dense1", "dense2", "out"]),
         ("training", "orange", ["mse", "train", "session"])],
        "**Regression**: y = sin(pi x0) + 0.5 x1^2 - 0.8 x2 + noise (sd 0.05), 1,000 points "
        "(scenes/data/README.md). Two tanh layers learn it; the test mean squared error falls towards the "
        "noise's 0.0025.", 40)


def autoencoder() -> Spec:
    tail, tail_wires = _training("mse", None, "adam", 0.005, 3, 30)
    return Spec(
        "autoencoder", "Autoencoder: digits through a 16-number code",
        [_dataset("data/digits.npz"),
         _dense("encode", 1, 16, "relu", 1, "code: 16 numbers"),
         _dense("decode", 2, 64, "sigmoid", 2, "the 64 pixels again"),
         ("mse", "losses.MeanSquaredError", 3, 0, {}, "reconstruction error"), *tail],
        ["data.x -> encode.x", "encode.y -> decode.x", "decode.y -> mse.prediction", "data.x -> mse.target",
         *tail_wires],
        [("data", "grey", ["data"]), ("model", "blue", ["encode", "decode"]),
         ("training", "orange", ["mse", "train", "session"])],
        "**Autoencoder**: each digit's 64 pixels squeezed into 16 numbers and drawn again; the loss compares the "
        "drawing with the digit itself (the labels are not used).", 30)


PAGES = {"digits_mlp": digits_mlp, "digits_cnn": digits_cnn, "regression": regression, "autoencoder": autoencoder}

#: the size a block is taken to have when framing it (page units; the editor's blocks are at least 140 wide)
BLOCK_W, BLOCK_H = 190, 130


def _pos(col: float, row: float) -> tuple[float, float]:
    return 40 + col * COL, 200 + row * ROW


def _frame_rect(spec: Spec, ids: list[str]) -> tuple[float, float, float, float]:
    xs, ys = zip(*(_pos(c, r) for bid, _, c, r, _, _ in spec.blocks if bid in ids))
    return min(xs) - 20, min(ys) - 50, max(xs) - min(xs) + BLOCK_W + 40, max(ys) - min(ys) + BLOCK_H + 70


def build(spec: Spec, composites: dict) -> Any:
    """The page of ``spec``, its composites placed from ``composites`` (the standard library)."""
    from enuflow.app.document.annotations import Frame, Note
    from enuflow.app.document.composite_files import place
    from enuflow.app.document.page import BlockInstance, Link, Page

    page = Page(spec.title)
    for bid, type_name, col, row, pins, label in spec.blocks:
        if type_name in composites:
            place(page, composites[type_name], _pos(col, row), bid, known=composites)
        else:
            page.add_block(BlockInstance(bid, type_name, _pos(col, row)))
        for pin, value in pins.items():
            page.set_pin(bid, pin, value)
        if label:
            page.set_block_field(bid, "label", label)
    for wire in spec.wires:
        src, dst = (end.strip().split(".") for end in wire.split("->"))
        page.add_link(Link(src[0], src[1], dst[0], dst[1]))
    for title, colour, ids in spec.frames:
        page.add_annotation(Frame(f"frame_{title}", title, _frame_rect(spec, ids), colour))
    text = spec.note + " " + RUN_NOTE.format(epochs=spec.epochs, name=spec.name)
    page.add_annotation(Note("about", (40, 20), text))
    return page


def standard_composites() -> dict:
    """The standard library's composites only (a user's own folder must not change the shipped pages)."""
    from enuflow.app.document.composite_files import library

    lib = library(user=Path(os.devnull))  # not a folder: no user composites
    if lib.problems:
        raise SystemExit("make_pages: the standard library has unreadable files:\n" + "\n".join(lib.problems))
    return lib.composites


def editor_layout(path: Path) -> None:
    """Lay the page saved at ``path`` out as the editor's Auto Layout (Ctrl+L) does, with the blocks' real sizes
    (so that no wire runs across a block), its frames drawn around their blocks again and its note to their left;
    saved again."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # the editor's recovery files and settings, not the user's
        os.environ.update(QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                          ENUFLOW_RECOVERY_DIR=tmp, ENUFLOW_CONFIG_DIR=tmp)
        from PySide6.QtWidgets import QApplication, QMessageBox

        from enuflow.app.document.formats.native import save
        from enuflow.app.gui.window import MainWindow
        from enuflow.blocks import catalogue_index

        app = QApplication.instance() or QApplication([])
        catalogue_index.ensure_cache()
        w = MainWindow(start_worker=False)
        w.prompt = lambda title, text, buttons: QMessageBox.StandardButton.Discard  # saved below, not by asking
        w.warn = lambda title, text: print(f"make_pages: {title}: {text}", file=sys.stderr)
        w.resize(1800, 900)
        w.show()
        app.processEvents()
        if not (w.load_catalogue() and w.open_path(str(path), ask=False)):
            raise SystemExit(f"make_pages: the editor could not open {path}")
        w.auto_layout()
        page = w.page
        left = min(f.rect[0] for f in page.frames.values())
        top = min(f.rect[1] for f in page.frames.values())
        page.change_annotation("about", pos=(left - 320, top))
        save(page, path)
        w.close()


def main() -> None:
    from enuflow.app.document.formats.native import save

    wanted = sys.argv[1:] or list(PAGES)
    composites = standard_composites()
    for name in wanted:
        spec = PAGES[name]()
        missing = sorted({t for _, t, *_ in spec.blocks if "." in t} - set(composites))
        if missing:
            print(f"{name}: skipped, the library lacks {', '.join(missing)}")
            continue
        path = SCENES / f"{name}.json"
        save(build(spec, composites), path)
        editor_layout(path)
        print(f"{name}: written to {path}")


if __name__ == "__main__":
    main()
