"""The training example pages a new user opens first: they run headless and learn."""

from __future__ import annotations

from conftest import ROOT

from enuflow.app.document.formats import load
from enuflow.app.engine.runner import Runner


def test_linear_regression_learns() -> None:
    page = load(ROOT / "scenes" / "linear_regression.json")
    trend = page.extra["trends"][0]
    assert trend["series"][0]["block"] == "cost" and trend["series"][0]["pin"] == "output"
    runner = Runner()
    try:
        rep = runner.run(page)  # the page's own steps
        assert rep.errors == [] and rep.steps_done == page.block("session").pins["steps"]
        cost = rep.results.history[("cost", "output")]
        assert cost[0] > 30 and cost[-1] < 1e-3
        tenths = cost[:: len(cost) // 10]
        assert tenths == sorted(tenths, reverse=True)  # falls all along
        assert abs(float(rep.results.get("W", "ref")) - 2) < 0.01
        assert abs(float(rep.results.get("b", "ref")) - 1) < 0.02
        # a second run starts again from the initial values
        again = runner.run(page, steps=5)
        assert again.results.history[("cost", "output")] == cost[:5]
    finally:
        runner.close()


def test_xor_learns() -> None:
    page = load(ROOT / "scenes" / "xor.json")
    runner = Runner()
    try:
        rep = runner.run(page)
        assert rep.errors == []
        cost = rep.results.history[("cost", "output")]
        assert cost[0] > 0.2 and cost[-1] < 0.01
        prediction = rep.results.get("prediction", "y").reshape(-1)
        assert (prediction > 0.5).tolist() == [False, True, True, False]
    finally:
        runner.close()
