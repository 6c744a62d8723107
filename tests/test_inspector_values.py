"""The inspector's text fields: what a typed text is stored as, and back."""

from __future__ import annotations

from enuflow.app.gui.inspector import text_value, value_text


def test_round_trips() -> None:
    for v in [1, 2.5, True, [1, 2], [[1.5], [2]], "1,2,3,4", "{{1,2},{3,4}}", "DT_FLOAT", "0.5f",
              {"dtype": "string", "shape": [], "value": "C:\\data\\mnist.bin"},
              {"dtype": "float64", "shape": [2], "value": [0.1, 0.2]}]:
        assert text_value(value_text(v)) == v


def test_edited_path_in_a_typed_value() -> None:
    text = value_text({"dtype": "string", "shape": [], "value": "C:\\data\\x.bin"}).replace("C:\\\\data", "/srv/d")
    assert text_value(text) == {"dtype": "string", "shape": [], "value": "/srv/d\\x.bin"}
    assert text_value("") is None and text_value("  ") is None
    assert text_value("{not json") == "{not json"
