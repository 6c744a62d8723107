"""Pin value parsing: JSON forms and enuSpace's text forms, never through eval."""

from __future__ import annotations

import numpy as np
import pytest

from enuflow.app.document.values import (
    MAX_ELEMENTS,
    ValueParseError,
    parse_attr,
    parse_bool,
    parse_dtype,
    parse_shape,
    parse_tensor,
)
from enuflow.blocks.attrs_text import parse_attrs_string


@pytest.mark.parametrize("text,want", [
    ("float32", "float32"), ("DT_FLOAT", "float32"), ("DT_DOUBLE", "float64"), ("double", "float64"),
    ("int", "int32"), ("DT_INT64", "int64"), (" DT_BOOL ", "bool"), ("DT_STRING", "string"),
    ("tf.int8", "int8"), ("DT_FLOAT_REF", "float32"), ("half", "float16"), ("DT_COMPLEX128", "complex128"),
])
def test_dtype_names(text: str, want: str) -> None:
    assert parse_dtype(text) == want


@pytest.mark.parametrize("bad", ["DT_NOPE", "floaty", "", 3, None])
def test_dtype_rejects(bad: object) -> None:
    with pytest.raises(ValueParseError):
        parse_dtype(bad)


@pytest.mark.parametrize("text,want", [
    ("[2][2]", (2, 2)), ("{2,3}", (2, 3)), ("2;3", (2, 3)), ([4], (4,)), ("[4]", (4,)), ("", ()), ("[]", ()),
    ("{}", ()), ("[-1][3]", (None, 3)), ([None, 3], (None, 3)), ("[2, 3]", (2, 3)), (5, (5,)),
])
def test_shapes(text: object, want: tuple) -> None:
    assert parse_shape(text) == want


@pytest.mark.parametrize("bad", ["[a][2]", "[2.5]", [1.5], [-3], True, "[2][x]"])
def test_shape_rejects(bad: object) -> None:
    with pytest.raises(ValueParseError):
        parse_shape(bad)


def test_flat_list_with_shape() -> None:
    a = parse_tensor("1,2,3,4", "float32", "[2][2]")
    assert a.dtype == np.float32 and a.tolist() == [[1, 2], [3, 4]]


def test_semicolon_list_and_trailing_separator() -> None:
    a = parse_tensor("3.000000;2.000000;-1.000000;0.000000;", "float64")
    assert a.dtype == np.float64 and a.tolist() == [3, 2, -1, 0]


def test_brace_literal_nested() -> None:
    a = parse_tensor("{{1.5,3.5},{0.5,1}}")
    assert a.shape == (2, 2) and a.dtype == np.float32
    assert a.tolist() == [[1.5, 3.5], [0.5, 1.0]]


def test_brace_literal_column() -> None:
    a = parse_tensor("{{79 },{110},{3}}", "int32")
    assert a.shape == (3, 1) and a[:, 0].tolist() == [79, 110, 3]


def test_c_float_suffix() -> None:
    a = parse_tensor("0.5f")
    assert a.shape == () and a.dtype == np.float32 and float(a) == 0.5
    assert parse_tensor("{1.0f,2.0f,3.0f}").tolist() == [1, 2, 3]


def test_json_values_and_inference() -> None:
    assert parse_tensor([2, 1], "int64").dtype == np.int64
    assert parse_tensor([2, 1]).dtype == np.int32
    assert parse_tensor([2.0, 1]).dtype == np.float32
    assert parse_tensor(True).dtype == np.bool_
    assert parse_tensor([[1, 2], [3, 4]]).shape == (2, 2)
    assert parse_tensor(7, "float64", "[2][3]").tolist() == [[7.0] * 3] * 2


def test_bools() -> None:
    assert parse_tensor("TRUE,FALSE,true", "bool").tolist() == [True, False, True]
    assert parse_bool("TRUE") is True and parse_bool("FALSE") is False and parse_bool(1) is True
    with pytest.raises(ValueParseError):
        parse_bool("maybe")


def test_strings() -> None:
    a = parse_tensor("C:\\data\\x.bin;b", "string")
    assert a.tolist() == [b"C:\\data\\x.bin", b"b"]


@pytest.mark.parametrize("value,dtype,shape", [
    ("1;;2", None, None),           # empty item
    ("abc", "float32", None),       # not a number
    ("1,2,3", "float32", "[2][2]"),  # does not fill the shape
    ([[1, 2], [3]], None, None),    # ragged
    ("2.5", "int32", None),         # not whole
    ([300], "int8", None),          # out of range
    ("{1,2", None, None),           # unclosed brace
    ("__import__('os')", None, None),
    (None, None, None),
])
def test_tensor_rejects(value: object, dtype: str | None, shape: str | None) -> None:
    with pytest.raises(ValueParseError):
        parse_tensor(value, dtype, shape)


def test_absurd_shape_refused_without_allocating() -> None:
    with pytest.raises(ValueParseError, match="more than"):
        parse_tensor("1", "float32", "[100000000][100000000]")
    assert MAX_ELEMENTS < 10**9


def test_attrs_string() -> None:
    assert parse_attrs_string("transpose_a_ = false;transpose_b_ =true;") == {"transpose_a": "false",
                                                                            "transpose_b": "true"}
    assert parse_attrs_string("container_ =;shared_name_ =;") == {}
    got = parse_attrs_string("dilations_={1,1,1,1};use_cudnn_on_gpu_ = true;data_format_ = NHWC;")
    assert got == {"dilations": "{1,1,1,1}", "use_cudnn_on_gpu": "true", "data_format": "NHWC"}
    assert parse_attrs_string("axis_=-1") == {"axis": "-1"}
    assert parse_attrs_string("keep_dims_ =true;keep_dims_=false;") == {"keep_dims": "true"}


@pytest.mark.parametrize("value,kind,want", [
    ("true", "bool", True), ("FALSE", "bool", False), ("3", "int", 3), (2.0, "int", 2), ("0.5f", "float", 0.5),
    ("DT_FLOAT", "type", "float32"), ("{1,2,2,1}", "list(int)", [1, 2, 2, 1]), ([1, 2], "list(int)", [1, 2]),
    ("{}", "list(int)", []), ("NHWC", "string", "NHWC"), ("[2][3]", "shape", (2, 3)),
    ("DT_FLOAT,DT_INT32", "list(type)", ["float32", "int32"]), ("{2,3},{4}", "list(shape)", [(2, 3), (4,)]),
])
def test_attr_values(value: object, kind: str, want: object) -> None:
    assert parse_attr(value, kind) == want


@pytest.mark.parametrize("value,kind", [("x", "int"), (True, "int"), ("1.5", "int"), ("nope", "float"),
                                        (3, "string"), ("DT_X", "type")])
def test_attr_rejects(value: object, kind: str) -> None:
    with pytest.raises(ValueParseError):
        parse_attr(value, kind)


def test_large_nested_values_match_numpy() -> None:
    """A weight matrix as a page holds it (nested lists of floats, ints and bools mixed in) gives what numpy makes
    of the same numbers, in the dtype and shape asked for; a ragged one is still refused with the same words."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=(10, 784))
    rows = [[float(x) for x in r] for r in w]
    rows[0][0], rows[1][1], rows[2][2] = 2, True, -7  # an int and a bool among the floats
    expected = np.array(rows, dtype=np.float64)
    got = parse_tensor(rows)
    assert got.dtype == np.float32 and got.shape == (10, 784)
    np.testing.assert_array_equal(got, expected.astype(np.float32))
    np.testing.assert_array_equal(parse_tensor(rows, "float64", [784, 10]), expected.reshape(784, 10))
    np.testing.assert_array_equal(parse_tensor([[1] * 100] * 3, "float16"), np.ones((3, 100), np.float16))
    ints = parse_tensor([[i for i in range(100)]] * 2)  # whole numbers: int32, as before
    assert ints.dtype == np.int32 and ints[1, 99] == 99
    with pytest.raises(ValueParseError, match="not rectangular"):
        parse_tensor([[0.5] * 100, [0.5] * 99])
    with pytest.raises(ValueParseError, match="do not fill shape"):
        parse_tensor(rows, "float32", [10, 10])
    with pytest.raises(ValueParseError, match="whole number"):
        parse_tensor([[0.5] * 100] * 2, "int32")
