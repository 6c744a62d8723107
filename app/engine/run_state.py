"""The state of one run that the runner's step loop, its steps and its observers share (``app.engine.runner``).

``RunState`` holds what a run fetches and runs (the session plan's selection, less the blocks excluded after
a failure), which results a lean step leaves out (``big``: more than one number; the values fed), the results
a failed call lost, and what the last step did (its results, whether it was lean, how long it took).
"""

from __future__ import annotations

from typing import Any

from enuflow.app.engine.analysis import Analysis
from enuflow.app.engine.builder import BuiltGraph


def may_be_scalar(built: BuiltGraph, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The fetched results that may be one number or truth value (and so enter the history): the others' dtype
    or static shape rules that out. (Fed values and handles, which are not fetched, are kept in too.)"""
    out = set()
    for k in keys:
        t = built.tensors.get(k)
        dt = getattr(t, "dtype", None)
        if dt is not None and (dt.base_dtype.name in ("string", "resource", "variant")
                               or (t.shape.is_fully_defined() and t.shape.num_elements() != 1)):
            continue
        out.add(k)
    return out


def static_numbers(built: BuiltGraph, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The results among ``keys`` that are one real number or truth value by their static shape ([]) and dtype:
    the session hands each back as a numpy scalar (or nothing, on an untaken Switch branch)."""
    out = set()
    for k in keys:
        t = built.tensors.get(k)
        dt = getattr(t, "dtype", None)
        if dt is not None and t.shape.rank == 0 and (dt.is_integer or dt.is_floating or dt.is_bool):
            out.add(k)
    return out


class RunState:
    """The state of one run that the step loop, the steps and the observers share."""

    def __init__(self, prepared: Any, an: Analysis, feeds: list[Any], report: Any, n_steps: int) -> None:
        self.prepared, self.an, self.feeds, self.report, self.n_steps = prepared, an, feeds, report, n_steps
        self.results = report.results
        built = prepared.built
        self.fetch_keys, self.target_keys = prepared.selection[1]
        self.scalars, self.numbers = prepared.scalars, prepared.numbers
        fed = {id(sl.placeholder) for sl in built.slots}
        #: values fed: the same at every step of a run
        self.fed_keys = {k for k in self.fetch_keys if id(built.tensors[k]) in fed}
        plan_fetches = set(an.plan.fetches)
        #: results nothing asks for by name (a lean step may leave them out)
        self.unfetched = {k for k in self.fetch_keys if k not in plan_fetches and k not in self.fed_keys}
        #: results a lean step runs without fetching them: of more than one number (or text)
        self.big = {k for k in self.unfetched if k not in self.scalars}
        self.excluded: set[str] = set()  # blocks out of the run (failed, or downstream of one that failed)
        #: results a failed call lost: (step, why: the block that failed or a lost cluster task)
        self.lost: dict[tuple[str, str], tuple[int, str]] = {}
        #: what the last step fetched: (keys, their values) per session call, and other results (handles)
        self.fetched: list[tuple[list, list]] = []
        self.extra: dict[tuple[str, str], Any] = {}
        self._produced: dict[tuple[str, str], Any] | None = None
        self.lean = False  # the last step was lean
        self.seconds = 0.0  # how long the last step took
        self.excluded_grew = False  # the last step excluded blocks
        self.made = False  # the last step made a callable (so its time is no step's time)
        self.stopping: str | None = None  # why the run stops after one more, full step
        #: the last step was lean, ran in one call without a failure, and fetched only numbers (no Switch in the
        #: graph: none of them can be missing): its results may be stored as they come (``fetched[0]``)
        self.plain = False
        self._plain: dict[int, bool] = {}
        self.version = 0  # changes whenever the lists of a step change
        self._lists: dict[bool, tuple[list, list]] = {}
        self._seen = 0  # the size of ``excluded`` the lists were made for (blocks only ever join it)
        #: the cache this one-step run uses and fills (``app.engine.rerun_cache``), or None
        self.cache: Any = None

    def new_step(self) -> None:
        """Forget what the last step fetched."""
        self.fetched, self.extra, self._produced, self.made = [], {}, None, False

    def got(self, keys: list[tuple[str, str]], values: list[Any]) -> None:
        """A session call of this step fetched ``values`` of ``keys``."""
        self.fetched.append((keys, values))
        self._produced = None

    @property
    def produced(self) -> dict[tuple[str, str], Any]:
        """What the last step fetched, by key (made on demand: a plain step's observers read ``fetched``)."""
        if self._produced is None:
            out: dict[tuple[str, str], Any] = {}
            for keys, values in self.fetched:
                out.update(zip(keys, values))
            out.update(self.extra)
            self._produced = out
        return self._produced

    def is_plain(self) -> bool:
        """Whether the step just run is plain (see ``plain``)."""
        if not self.lean or self.lost or self.excluded_grew or self.extra or len(self.fetched) != 1:
            return False
        got = self._plain.get(self.version)
        if got is None:
            keys = self.fetched[0][0]
            got = self._plain[self.version] = not self.prepared.switchy() and all(k in self.numbers for k in keys)
        return got

    def add_big(self, k: tuple[str, str]) -> None:
        """``k`` turned out to be more than one number: lean steps run it without fetching it."""
        self.big.add(k)
        self._lists.clear()
        self.version += 1

    def lists(self, lean: bool) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(results to fetch, results and ops to run) of a step; a lean step runs its big results as targets."""
        if len(self.excluded) != self._seen:
            self._seen = len(self.excluded)
            self._lists.clear()
            self.version += 1
        got = self._lists.get(lean)
        if got is None:
            ex = self.excluded
            keys = [k for k in self.fetch_keys if k[0] not in ex]
            targets = [k for k in self.target_keys if k[0] not in ex]
            if lean:
                keys, targets = ([k for k in keys if k not in self.big and k not in self.fed_keys],
                                 targets + [k for k in keys if k in self.big])
            got = self._lists[lean] = (keys, targets)
        return got
