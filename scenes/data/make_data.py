"""Writes the example pages' data files in this folder (see README.md here for their sources and licences).

``digits.npz``: scikit-learn's ``load_digits()`` (the UCI ML hand-written digits, 1,797 images of 8x8 pixels),
``x`` float32 [1797, 64] (the 0..16 pixel counts divided by 16), ``y`` int64 [1797] (0..9). scikit-learn is not
an enuflow dependency: run this with a Python that has it, e.g. a throwaway virtual environment::

    python3 -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn numpy
    /tmp/skl/bin/python scenes/data/make_data.py

``digits_8x8.npz`` (from digits.npz, numpy only): the same images as ``x`` float32 [1797, 8, 8, 1] (rows top to
bottom, one channel), the same ``y``, for convolutions.

``regression.npz`` (needs only numpy): 1,000 points ``x`` float32 [1000, 3] uniform in [-1, 1) and
``y = sin(pi * x0) + 0.5 * x1 ** 2 - 0.8 * x2 + noise`` float32 [1000, 1], noise normal with sd 0.05, all from
``numpy.random.default_rng(24)``. Both files are written with ``np.savez_compressed`` and hold plain arrays only
(readable with ``allow_pickle=False``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def digits() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return {"x": (d.data / 16.0).astype(np.float32), "y": d.target.astype(np.int64)}


def digits_8x8() -> dict[str, np.ndarray]:
    """digits.npz's images as 8x8 images of one channel (x [1797, 8, 8, 1], rows top to bottom), for Conv2D."""
    with np.load(HERE / "digits.npz", allow_pickle=False) as f:
        return {"x": f["x"].reshape(-1, 8, 8, 1), "y": f["y"]}


def regression() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(24)
    x = rng.uniform(-1.0, 1.0, (1000, 3))
    y = np.sin(np.pi * x[:, 0]) + 0.5 * x[:, 1] ** 2 - 0.8 * x[:, 2] + rng.normal(0.0, 0.05, 1000)
    return {"x": x.astype(np.float32), "y": y.reshape(-1, 1).astype(np.float32)}


def write(name: str, arrays: dict[str, np.ndarray]) -> None:
    path = HERE / name
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    with np.load(path, allow_pickle=False) as f:
        print(name, {k: (f[k].dtype.name, f[k].shape) for k in f.files})


def main() -> None:
    wanted = sys.argv[1:] or ["digits", "digits_8x8", "regression"]
    makers = {"digits": digits, "digits_8x8": digits_8x8, "regression": regression}
    for name in wanted:
        write(f"{name}.npz", makers[name]())


if __name__ == "__main__":
    main()
