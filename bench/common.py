"""The one timing rule of every bench in bench/: alternating paired runs after a warm-up, median of pair ratios.

A machine shared with other work changes speed from one moment to the next (on a 2-core VM the same run's time
varies by a factor of two). Comparing the fastest run of each side can pair a quiet moment of one side with a
busy one of the other, and comparing medians of separately timed series mixes moments too. So every bench
times its two sides as *pairs*: one run of each, back to back, so that both meet the machine in the same
state; the order within a pair alternates (enuflow first, then the baseline first) so that neither side always
runs in the other's wake (caches, collector, turbo); the first pair (or more) is a warm-up, untimed. The figure
is the median of the pairs' ratios; their minimum and maximum are printed beside it, and the last line is
``ratio <median>``.

A bench whose peer is a program that may not be installed (NodeGraphQt) calls ``require`` first: without the
peer it stops with a clear message and exit status 2, never with a ratio against a number from another run.
"""

from __future__ import annotations

import importlib
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

#: timed pairs when a bench does not say
PAIRS = 7
#: untimed pairs first
WARMUP = 1


@dataclass
class Paired:
    """The timed runs of two sides, pair by pair (seconds, or whatever cost the sides return)."""

    ours: list[float] = field(default_factory=list)
    base: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [o / b for o, b in zip(self.ours, self.base)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def timed(fn: Callable[[], Any]) -> Callable[[], float]:
    """``fn`` as a side of ``paired``: one call, timed by the wall clock."""

    def side() -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    return side


def paired(ours: Callable[[], float], base: Callable[[], float], pairs: int = PAIRS,
           warmup: int = WARMUP) -> Paired:
    """Run ``warmup`` untimed pairs, then ``pairs`` timed pairs of the two sides, alternating which goes first.

    Each side does one run and returns its cost (use ``timed`` to wrap a plain function; a side that times
    itself, such as a fresh process reporting its own time, returns that)."""
    if pairs < 1:
        raise ValueError("a bench needs at least one timed pair")
    for i in range(warmup):
        for side in (ours, base) if i % 2 == 0 else (base, ours):
            side()
    out = Paired()
    for i in range(pairs):
        if i % 2 == 0:
            o = ours()
            b = base()
        else:
            b = base()
            o = ours()
        out.ours.append(o)
        out.base.append(b)
    return out


def show(res: Paired, ours: str = "enuflow", base: str = "baseline", unit: str = "s", scale: float = 1.0,
         indent: str = "") -> None:
    """Print each side's runs and median, and the pairs' ratios with their median, minimum and maximum."""
    width = max(len(ours), len(base))
    for name, xs in ((ours, res.ours), (base, res.base)):
        runs = " ".join(f"{x * scale:.3f}" for x in xs)
        print(f"{indent}{name:<{width}}  median {statistics.median(xs) * scale:.3f} {unit}  (runs: {runs})")
    rs = res.ratios
    print(f"{indent}{'paired ratios':<{width}}  median {statistics.median(rs):.3f}, min {min(rs):.3f}, "
          f"max {max(rs):.3f}  ({len(rs)} pairs: {' '.join(f'{r:.2f}' for r in sorted(rs))})")


def finish(ratio: float) -> None:
    """The last line of every bench."""
    print(f"ratio {ratio:.3f}", flush=True)


def require(module: str, bench: str, install: str = "pip install -e '.[bench]'") -> Any:
    """Import the peer ``module``, or stop the bench with a clear message and exit status 2."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        print(f"{bench}: its peer {module} is not installed ({e}); the bench measures both sides in the same run "
              f"and gives no ratio without it. Install it with: {install}", file=sys.stderr)
        raise SystemExit(2) from None


class CliWorker:
    """Pages run the way ``enuflow run`` runs them: ``HeadlessRun`` (the command's own worker process, its
    runner, and the ``on_step`` and step-result choice the worker passes), kept warm between runs as the
    editor keeps its worker. ``run`` stops the bench when the page reports an error."""

    def __init__(self, bench: str) -> None:
        from enuflow.app.worker.headless import HeadlessRun

        self.bench = bench
        self.worker = HeadlessRun()
        self.worker.start()

    def run(self, doc: dict, steps: int | None = None, allow_io: bool = False) -> Any:
        report = self.worker.run(doc, steps=steps, allow_io=allow_io)
        if report.errors or report.crash or report.timeout:
            raise SystemExit(f"{self.bench}: the page failed: {report.errors[:3]} {report.crash or ''}")
        return report

    def close(self) -> None:
        self.worker.close()
