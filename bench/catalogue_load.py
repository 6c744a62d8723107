"""Listing the catalogue without TensorFlow: ``enuflow blocks --json`` against ``import tensorflow``.

Both run as fresh subprocesses, in alternating pairs after a warm-up pair (``bench/common.py``; the
figure is the median of the pair ratios); the catalogue cache is made first (untimed), so the listing reads
it and never imports TensorFlow. Also measures the
palette's search per keystroke: every prefix of a few words typed into ``catalogue_index.search``
over the whole catalogue. Ends with ``ratio <blocks --json / import tensorflow>`` (target <= 0.3).

The baseline is ``python -c "import tensorflow"`` in a fresh process: any listing that asks TensorFlow
for its ops pays at least that import, so it is the fastest fair reference for a listing without it.

    .venv/bin/python bench/catalogue_load.py [--pairs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import finish, paired, show  # noqa: E402

WORDS = ("sparsefillemptyrows", "conv2d", "matmul", "gradient", "reduce", "image", "random", "string")


def _enuflow() -> list[str]:
    script = Path(sys.executable).with_name("enuflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "enuflow.app.cli"]


def _time(cmd: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=ROOT)
    return time.perf_counter() - t0, r.stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=5, help="timed pairs of the two commands")
    ns = ap.parse_args(argv)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")

    # warm the cache (and the OS file cache) once, untimed
    _, out = _time(_enuflow() + ["blocks", "--json"], env)
    count = len(json.loads(out))
    res = paired(lambda: _time(_enuflow() + ["blocks", "--json"], env)[0],
                 lambda: _time([sys.executable, "-c", "import tensorflow"], env)[0], pairs=ns.pairs)
    print(f"{count} block types, warm cache:")
    show(res, "enuflow blocks --json", "python -c 'import tensorflow'", unit="ms", scale=1000)

    from enuflow.blocks import catalogue_index

    catalogue_index.ensure_cache()
    t0 = time.perf_counter()
    n_entries = len(catalogue_index.entries())
    print(f"index of {n_entries} entries built in {(time.perf_counter() - t0) * 1000:.1f} ms (once per process)")
    t0 = time.perf_counter()
    catalogue_index.search("warm")
    print(f"first search, building the gram table: {(time.perf_counter() - t0) * 1000:.1f} ms (once per process)")
    per_key: list[float] = []
    for word in WORDS:
        for i in range(1, len(word) + 1):
            prefix = word[:i]
            reps = 20
            t0 = time.perf_counter()
            for _ in range(reps):
                catalogue_index.search(prefix)
            per_key.append((time.perf_counter() - t0) / reps)
    cat_t0 = time.perf_counter()
    for _ in range(100):
        catalogue_index.search("grad", category="nn")
    cat_t = (time.perf_counter() - cat_t0) / 100
    print(f"search per keystroke ({len(per_key)} prefixes of {len(WORDS)} words): mean "
          f"{statistics.mean(per_key) * 1e6:.0f} us, max {max(per_key) * 1e6:.0f} us; "
          f"with a category: {cat_t * 1e6:.0f} us")
    finish(res.ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
