"""bench/common.py, the benches' one timing rule: pairs alternate after a warm-up, the figure is the median of
the pair ratios, and a missing peer stops a bench (exit status 2) instead of giving a ratio."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import common  # noqa: E402


def test_pairs_alternate_after_the_warm_up_and_the_figure_is_the_median_of_pair_ratios(capsys) -> None:
    calls: list[str] = []
    ours_costs = iter([99.0, 2.0, 3.0, 8.0, 1.0, 5.0])  # the first is the warm-up's, never counted
    base_costs = iter([99.0, 1.0, 1.0, 2.0, 1.0, 1.0])

    def ours() -> float:
        calls.append("o")
        return next(ours_costs)

    def base() -> float:
        calls.append("b")
        return next(base_costs)

    res = common.paired(ours, base, pairs=5, warmup=1)
    assert calls == ["o", "b", "o", "b", "b", "o", "o", "b", "b", "o", "o", "b"]
    assert res.ours == [2.0, 3.0, 8.0, 1.0, 5.0] and res.base == [1.0, 1.0, 2.0, 1.0, 1.0]
    assert res.ratios == [2.0, 3.0, 4.0, 1.0, 5.0]
    assert res.ratio == 3.0  # the median of the ratios; fastest/fastest would say 1.0, median/median 3.0
    common.show(res)
    common.finish(res.ratio)
    out = capsys.readouterr().out.splitlines()
    assert "min 1.000, max 5.000" in out[-2]
    assert out[-1] == "ratio 3.000"


def test_timed_measures_the_call() -> None:
    seen = []
    t = common.timed(lambda: seen.append(1))()
    assert seen == [1] and 0.0 <= t < 1.0


def test_a_missing_peer_stops_the_bench(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        common.require("no_such_peer_module_xyz", "some_bench")
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "some_bench" in err and "no_such_peer_module_xyz" in err and "ratio" not in capsys.readouterr().out
    assert common.require("json", "some_bench").dumps([1]) == "[1]"
