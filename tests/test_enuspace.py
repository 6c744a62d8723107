"""Opening and running enuSpace pages: our own generated fixtures (every value, attrs and link form,
both SVG generations, the JSON export, UTF-16), the error cases, and the shared sample files."""

from __future__ import annotations

import itertools
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from fixtures_enuspace import EnuPage, EnuPin, basic_add, out_pin, write_utf16

from enuflow.app.cli import main
from enuflow.app.document.formats import PageFileError, load, save
from enuflow.app.document.formats.enuspace_names import lookup, symbols
from enuflow.app.document.formats.enuspace_page import SPREAD
from enuflow.app.document.formats.enuspace_values import brace_literal, flat_list
from enuflow.app.engine.runner import Runner

SHARED = ROOT.parent / "shared" / "enuspace"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"the enuSpace sample files are not at {SHARED}")


def run(page, steps=None):
    r = Runner()
    try:
        return r.run(page, steps=steps)
    finally:
        r.close()


def write(tmp_path: Path, pg: EnuPage, kind: str, name: str = "page") -> Path:
    if kind == "json":
        return write_utf16(tmp_path / f"{name}.json", pg.json())
    return write_utf16(tmp_path / f"{name}.svg", pg.svg(3 if kind == "svg3" else 4))


# -- the basic page in every encoding ------------------------------------------------------------

@pytest.mark.parametrize("kind", ["svg3", "svg4", "json"])
def test_basic_add_every_form(tmp_path: Path, kind: str) -> None:
    vals = {"svg3": "1.000000;2.000000;3.000000;4.000000", "svg4": "{1,2,3,4}", "json": "1,2,3,4"}[kind]
    path = write(tmp_path, basic_add(vals, vals), kind)
    assert path.read_bytes()[:2] == b"\xff\xfe"
    page = load(path)
    assert page.block("ID_A").type == "Const" and page.block("ID_A").pins["dtype"] == "float64"
    order = [b.id for b in page]
    assert order.index("ID_A") < order.index("ID_ADD") < order.index("ID_S")  # producers first
    r = run(page)
    assert r.errors == []
    z = r.results.get("ID_ADD", "z")
    assert z.dtype == np.float64 and z.tolist() == [[2, 4], [6, 8]]


def test_utf8_svg_and_positions(tmp_path: Path) -> None:
    path = tmp_path / "p.svg"
    path.write_text(basic_add().svg(4).replace('encoding="UTF-16"', 'encoding="UTF-8"'), encoding="utf-8")
    page = load(path)
    assert page.block("ID_ADD").pos == (300.0 * SPREAD[0], 200.0 * SPREAD[1])  # spread for wider blocks
    assert page.extra["enuspace"]["version"] == "4.0.3.0"


# -- values ------------------------------------------------------------------------------------

def test_flat_list_and_brace_literal_grammars() -> None:
    assert flat_list("1,2,3,4", "float64", (2, 2)).tolist() == [[1, 2], [3, 4]]
    assert flat_list("3;5", "int32", (1, 2)).tolist() == [[3, 5]]
    assert flat_list("1.000000;0.5f;", "int32", (2,)).tolist() == [1, 0]  # C prefix parse
    assert flat_list("1;TRUE;0;True", "bool", (4,)).tolist() == [True, True, False, True]
    assert flat_list("C:\\a;b", "string", (2,)).tolist() == [b"C:\\a", b"b"]
    with pytest.raises(ValueError):
        flat_list("1;;2", "float64", (3,))
    assert brace_literal("{{1.5,3.5,0.5}}").shape == (1, 3)
    assert brace_literal("{{79 },{110},{1},{2},{3},{4},{5},{6}}").shape == (8, 1)
    assert brace_literal("{1.0f,2.0f,3.0f}").dtype == np.float32
    assert brace_literal("0.1").dtype == np.float64 and brace_literal("0").dtype == np.int32
    assert brace_literal("255.0f").dtype == np.float32 and brace_literal("{0,1}").tolist() == [0, 1]
    assert brace_literal("{{1,2},{3,4}}", "float64").tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(ValueError):
        brace_literal("{{1,2},{3}}")
    with pytest.raises(ValueError):
        brace_literal("1,2")  # several values need braces


@pytest.mark.parametrize("kind", ["svg3", "svg4", "json"])
def test_inline_values_keep_the_originals_dtypes(tmp_path: Path, kind: str) -> None:
    pg = EnuPage()
    pg.block("ID_C", "Const_ex", (0, 0), val=("1;2;3", "string", "[3]"), dtype="DT_DOUBLE", output=out_pin())
    pg.block("ID_M", "Multiply", (200, 0), x="0.1", y="", z=out_pin("z"))     # 0.1 -> float64 (d.2)
    pg.block("ID_V", "Variable", (0, 200), attrs="container_ =;shared_name_ =;", shape="{3}", dtype="DT_DOUBLE",
             initvalues="{1.0f,2.0f,3.0f}", ref=out_pin("ref"))
    pg.block("ID_MEAN", "Mean", (400, 0), input="", axis="{0}", attrs="keep_dims_ =true;", output=out_pin())
    pg.block("ID_MUL2", "Multiply", (200, 200), x="", y="", z=out_pin("z"))
    pg.block("ID_S", "ClientSession", (600, 0), fetch_outputs="")
    pg.link("ID_V", "ref", "ID_M", "y")
    pg.link("ID_M", "z", "ID_MUL2", "x")
    pg.link("ID_C", "output", "ID_MUL2", "y", hidden=True)
    pg.link("ID_MUL2", "z", "ID_MEAN", "input")
    pg.link("ID_MEAN", "output", "ID_S", "fetch_outputs")
    page = load(write(tmp_path, pg, kind))
    assert page.block("ID_M").type == "Mul" and page.block("ID_M").extra["enuspace"]["symbol"] == "Multiply"
    assert page.block("ID_MEAN").pins["keep_dims"] == "true"
    assert "container" not in page.block("ID_V").pins  # empty attrs values leave the default
    r = run(page)
    assert r.errors == []
    assert r.results.get("ID_M", "z").dtype == np.float64
    # float64(0.1), not float32(0.1) widened: the exact product the original computed
    np.testing.assert_array_equal(r.results.get("ID_M", "z"), np.array([0.1, 0.2, 0.30000000000000004]))
    mean = r.results.get("ID_MEAN", "output")
    assert mean.shape == (1,) and mean[0] == pytest.approx((0.1 * 1 + 0.2 * 2 + 0.3 * 3) / 3)


def test_matmul_attrs_string_and_3x_values(tmp_path: Path) -> None:
    pg = EnuPage()
    pg.block("ID_A", "Const", (0, 0), val=("3.000000;2.000000;-1.000000;0.000000", "double", "[2][2]"))
    pg.block("ID_B", "Const", (0, 100), val=("3.000000;5.000000", "double", "[1][2]"))
    pg.block("ID_MUL", "MatMul", (200, 50), a="", b="", attrs="transpose_a_ = false;transpose_b_ = true;")
    pg.block("ID_S", "ClientSession", (400, 50), fetch_outputs="", SHOW_DEBUG=("TRUE", "bool"))
    pg.link("ID_A", "output", "ID_MUL", "a")
    pg.link("ID_B", "output", "ID_MUL", "b")
    pg.link("ID_MUL", "product", "ID_S", "fetch_outputs")
    page = load(write(tmp_path, pg, "svg3"))
    assert page.block("ID_MUL").pins == {"transpose_a": "false", "transpose_b": "true"}
    assert run(page).results.get("ID_MUL", "product").tolist() == [[19], [-3]]


def test_attrs_forms_and_flagged_keys(tmp_path: Path) -> None:
    pg = EnuPage()
    pg.block("ID_X", "Const", (0, 0), val=("1;2;3;4", "float", "[1][2][2][1]"))
    pg.block("ID_K", "Const", (0, 0), val=("1", "float", "[1][1][1][1]"))
    pg.block("ID_CONV", "Conv2D", (0, 0), input="", filter="", strides="{1,1,1,1}", padding="SAME",
             attrs="dialtions_={1,1,1,1};use_cudnn_on_gpu_ = true;data_format_ = NHWC")
    pg.block("ID_U", "Unstack", (0, 0), value="", num="2", attrs="axis_=1")
    pg.link("ID_X", "output", "ID_CONV", "input")
    pg.link("ID_K", "output", "ID_CONV", "filter")
    pg.link("ID_CONV", "output", "ID_U", "value")
    page = load(write(tmp_path, pg, "svg4"))
    conv = page.block("ID_CONV")
    assert conv.pins["data_format"] == "NHWC" and conv.pins["use_cudnn_on_gpu"] == "true"
    assert "dialtions" not in conv.pins
    assert any("dialtions_" in w for w in page.extra["import_warnings"])
    assert page.block("ID_U").type == "Unpack" and page.block("ID_U").pins["axis"] == "1"
    r = run(page)  # no ClientSession: every output is fetched
    assert r.errors == []
    assert r.results.get("ID_CONV", "output").reshape(-1).tolist() == [1, 2, 3, 4]
    assert r.results.get("ID_U", "output[1]").reshape(-1).tolist() == [3, 4]


def test_binary_values_and_data_dir(tmp_path: Path) -> None:
    pg = EnuPage()
    pg.block("ID_C", "Const", (0, 0), val=EnuPin("", "float", "[2][2]", binary_pos=0))
    pg.block("ID_V", "Variable", (0, 100), shape="", dtype="", initvalues=EnuPin("", "double", "[3]", binary_pos=16))
    data = struct.pack("<4f", 1.5, 2.5, 3.5, 4.5) + struct.pack("<3d", 7.0, 8.0, 9.0)
    src = write(tmp_path, pg, "svg3")
    (tmp_path / "page.dat").write_bytes(data)
    page = load(src)
    r = run(page)
    assert r.errors == []
    assert r.results.get("ID_C", "output").tolist() == [[1.5, 2.5], [3.5, 4.5]]
    assert r.results.get("ID_V", "ref").dtype == np.float64 and r.results.get("ID_V", "ref").tolist() == [7, 8, 9]
    # elsewhere: a missing .dat is a warning naming the pin; --data-dir finds it
    other = tmp_path / "moved"
    other.mkdir()
    moved = write(other, pg, "svg3")
    warned = load(moved)
    assert any("initvalues" in w and "page.dat" in w for w in warned.extra["import_warnings"])
    assert load(moved, data_dir=tmp_path).extra.get("import_warnings") is None


def test_windows_paths_are_named_and_remapped(tmp_path: Path) -> None:
    pg = EnuPage()
    pg.block("ID_F", "Const", (0, 0), val=("C:\\\\data\\\\train.txt", "string", ""))
    pg.block("ID_R", "ReadFile", (200, 0), filename="")
    pg.link("ID_F", "output", "ID_R", "filename")
    path = write(tmp_path, pg, "svg4")
    page = load(path)
    warning = " ".join(page.extra["import_warnings"])
    assert "ID_F" in warning and "'val'" in warning and "'C:\\data\\train.txt'" in warning
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.txt").write_text("hello")
    page = load(path, data_dir=tmp_path / "data")
    assert page.extra.get("import_warnings") is None
    r = Runner().run(page, allow_io=True)
    assert r.errors == [] and r.results.get("ID_R", "contents") == b"hello"


def _as_web_page(svg: str) -> str:
    """enuSpace 2.0.x's web form of a page: the values sit in the symbol body's ``<pg-pin variable= initial=>``
    copied into each ``<use>``, with no ``pg-set-pin`` (as ../shared/enuspace/web/basic.svg)."""
    import re

    def pin(m: re.Match) -> str:
        a = dict(re.findall(r'([\w:-]+)="([^"]*)"', m.group(0)))
        return (f'<pg-pin type="{a.get("type", "string")}" variable="{a["variable"].lstrip("#")}" pin-type="input" '
                f'initial="{a.get("value", "")}" auto="true" auto-interface="" auto-datatype=""></pg-pin>')
    return re.sub(r"<pg-set-pin [^>]*/>", pin, svg).replace('type="tensorflow"', 'type="enu_tensorflow2_0"')


def test_web_page_runs_with_its_pin_values_as_its_picture_twin(tmp_path: Path) -> None:
    pg = basic_add(val_a="1,2,3,4", val_b="10,20,30,40")
    web = _as_web_page(pg.svg(4))
    assert "pg-set-pin" not in web and 'initial="10,20,30,40"' in web
    picture = Runner().run(load(write(tmp_path, pg, "svg4", "picture")))
    r = Runner().run(load(write_utf16(tmp_path / "web.svg", web)))
    assert r.errors == [] and picture.errors == []
    assert np.array_equal(r.results.get("ID_ADD", "z"), [[11, 22], [33, 44]])
    assert np.array_equal(r.results.get("ID_ADD", "z"), picture.results.get("ID_ADD", "z"))


def test_data_files_found_by_the_trailing_parts_of_their_path(tmp_path: Path) -> None:
    pg = EnuPage()
    pg.block("ID_F", "Const", (0, 0), val=("C:\\\\work\\\\picture\\\\dataset\\\\x.idx", "string", ""))
    pg.block("ID_R", "ReadFile", (200, 0), filename="")
    pg.link("ID_F", "output", "ID_R", "filename")
    path = write(tmp_path, pg, "svg4")
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "x.idx").write_text("in dataset/")
    (tmp_path / "x.idx").write_text("beside the page")
    page = load(path, data_dir=tmp_path)  # the page's own folder, which holds dataset/
    r = Runner().run(page, allow_io=True)
    assert r.errors == [] and r.results.get("ID_R", "contents") == b"in dataset/"
    (tmp_path / "dataset" / "x.idx").unlink()  # then the file's name alone
    r = Runner().run(load(path, data_dir=tmp_path), allow_io=True)
    assert r.errors == [] and r.results.get("ID_R", "contents") == b"beside the page"


def test_import_into_a_missing_folder_creates_it(tmp_path: Path, capsys) -> None:
    src = write(tmp_path, basic_add(), "svg4")
    out_path = tmp_path / "new" / "sub" / "page.json"
    code, out = _exit(["import", str(src), "-o", str(out_path)], capsys)
    assert code == 0 and out_path.is_file() and "created folder" in out
    assert json.loads(out_path.read_text())["format"] == "enuflow.page"
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    code, out = _exit(["import", str(src), "-o", str(blocked / "x" / "page.json")], capsys)
    assert code == 2 and str(blocked / "x") in out and "Traceback" not in out


def test_files_that_are_not_pages_exit_2_and_say_what_they_are(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "drawing.svg"
    empty.write_text('<svg xmlns="http://www.w3.org/2000/svg"><rect width="4" height="4"/></svg>')
    code, out = _exit(["run", str(empty)], capsys)
    assert code == 2 and "SVG without blocks" in out and str(empty) in out
    library = SHARED / "library" / "tf_math.svg"
    if library.is_file():
        code, out = _exit(["run", str(library)], capsys)
        assert code == 2 and "symbol library" in out and "Traceback" not in out


# -- links, gradients, trends, inert blocks ---------------------------------------------------------

@pytest.mark.parametrize("kind", ["svg3", "svg4", "json"])
def test_gradient_descent_page(tmp_path: Path, kind: str) -> None:
    """W*x with AddSymbolicGradients (indexed grad_outputs[0]) and ApplyGradientDescent over the steps."""
    pg = EnuPage()
    pg.block("ID_X", "Const", (0, 0), val=("1,2,3", "double", "[3]"))
    pg.block("ID_W", "Variable", (0, 100), shape="{1}", dtype="DT_DOUBLE", initvalues="{5}", attrs="")
    pg.block("ID_H", "Multiply", (100, 50), x="", y="")
    pg.block("ID_E", "Subtract", (200, 50), x="", y="{1.0,2.0,3.0}")
    pg.block("ID_SQ", "Square", (300, 50), x="")
    pg.block("ID_COST", "Mean", (400, 50), input="", axis="0", attrs="keep_dims_ =false;")
    pg.block("ID_G", "AddSymbolicGradients", (500, 50), outputs="", inputs="")
    pg.block("ID_T", "ApplyGradientDescent", (600, 50), var="", alpha="0.1", delta="", attrs="use_locking_ = false;")
    pg.block("ID_S", "ClientSession", (700, 50), fetch_outputs="")
    pg.block("ID_TREND", "SENSOR_TREND", (700, 200), library="logic", input=EnuPin("3"))
    for a, ap, b, bp in (("ID_W", "ref", "ID_H", "x"), ("ID_X", "output", "ID_H", "y"), ("ID_H", "z", "ID_E", "x"),
                         ("ID_E", "z", "ID_SQ", "x"), ("ID_SQ", "y", "ID_COST", "input"),
                         ("ID_COST", "output", "ID_G", "outputs"), ("ID_W", "ref", "ID_G", "inputs"),
                         ("ID_W", "ref", "ID_T", "var"), ("ID_G", "grad_outputs[0]", "ID_T", "delta"),
                         ("ID_COST", "output", "ID_S", "fetch_outputs"), ("ID_T", "out", "ID_S", "fetch_outputs"),
                         ("ID_COST", "result_output", "ID_TREND", "input")):
        pg.link(a, ap, b, bp)
    pg.trends.append({"id": "ID_TR", "title": "cost", "ymin": 0, "ymax": 10,
                      "series": ["ID_COST.result_output", "ID_W.result_ref[0]"]})
    page = load(write(tmp_path, pg, kind))
    trend = page.extra.get("trends")
    if kind != "json":
        assert trend[0]["title"] == "cost" and trend[0]["ymin"] == 0 and trend[0]["ymax"] == 10
        assert trend[0]["series"][1] == {"block": "ID_W", "pin": "ref", "index": [0], "variable": "ID_W.result_ref[0]"}
    inert = page.block("ID_TREND")
    assert inert.type == "enuSpace.Inert" and inert.pins == {"input": "3"} and inert.label == "SENSOR_TREND"
    assert any("SENSOR_TREND" in w for w in page.extra["import_warnings"])
    r = run(page, steps=60)
    assert r.errors == [] and any(w.block == "ID_TREND" for w in r.warnings)
    costs = r.results.history[("ID_COST", "output")]
    assert costs[0] == pytest.approx(224 / 3) and costs[-1] < 1e-6
    assert r.results.get("ID_W", "ref")[0] == pytest.approx(1.0, abs=1e-4)
    # saved and reloaded, the inert block, its pins and its wire survive and the run is the same
    out = tmp_path / "saved.json"
    save(page, out)
    again = load(out)
    assert again.block("ID_TREND").pins == {"input": "3"}
    assert any(ln.dst == "ID_TREND" for ln in again.links)
    assert run(again, steps=60).results.history[("ID_COST", "output")] == costs


def test_inputlist_and_operation(tmp_path: Path) -> None:
    pg = EnuPage()
    pg.block("ID_A", "Const", (0, 0), val=("1,2", "int", "[2]"))
    pg.block("ID_B", "Const", (0, 0), val=("10,20", "int", "[2]"))
    pg.block("ID_L", "InputList", (0, 0), outputlist="")
    pg.block("ID_N", "AddN", (0, 0), inputs="")
    pg.block("ID_V", "Variable", (0, 0), dtype="", shape="", initvalues=("0;0", "int", "[2]"))
    pg.block("ID_ADD", "AssignAdd", (0, 0), ref="", value="")
    pg.block("ID_OP", "Operation", (0, 0), operation="")
    pg.block("ID_S", "ClientSession", (0, 0), fetch_outputs="", run_outputs="")
    for a, ap, b, bp in (("ID_A", "output", "ID_L", "outputlist"), ("ID_B", "output", "ID_L", "outputlist"),
                         ("ID_L", "output", "ID_N", "inputs"), ("ID_V", "ref", "ID_ADD", "ref"),
                         ("ID_N", "sum", "ID_ADD", "value"), ("ID_ADD", "output_ref", "ID_OP", "operation"),
                         ("ID_N", "sum", "ID_S", "fetch_outputs"), ("ID_OP", "output", "ID_S", "run_outputs")):
        pg.link(a, ap, b, bp)
    page = load(write(tmp_path, pg, "svg4"))
    r = Runner()
    rep = r.run(page, steps=3)
    assert rep.errors == [] and rep.results.get("ID_N", "sum").tolist() == [11, 22]
    rep = r.run(page, steps=1, reset=False)
    assert rep.results.get("ID_V", "ref").tolist() in ([33, 66], [44, 88])  # 3 runs done, a 4th racing the read
    r.close()


def test_defects_are_flagged_not_reproduced(tmp_path: Path) -> None:
    pg = EnuPage()
    pg.block("ID_G", "SparseFillEmptyRowsGrad", (0, 0), reverse_index_map="{0,1}", grad_values="{1.0,2.0}")
    pg.block("ID_L", "LRN", (0, 0), input="", attrs="depth_radius_ = 5;bias_ = 0.5;alpha_ = 1;beta_ = 0.5;")
    page = load(write(tmp_path, pg, "svg4"))
    assert page.block("ID_G").type == "SparseFillEmptyRowsGrad"
    warnings = " ".join(page.extra["import_warnings"])
    assert "SparseFillEmptyRows's type" in warnings and "truncated the float attr bias" in warnings
    assert page.block("ID_L").pins["bias"] == "0.5"


def test_name_table() -> None:
    assert len(symbols()) == 487
    expect = {"Multiply": "Mul", "Subtract": "Sub", "Negate": "Neg", "Where3": "Select", "Unstack": "Unpack",
              "Stack": "Pack", "SetDiff1D": "ListDiff", "RandomNormal": "RandomStandardNormal",
              "Concat": "ConcatV2", "TopK": "TopKV2", "FIFOQueue": "FIFOQueueV2", "QueueEnqueue": "QueueEnqueueV2",
              "ReaderReadUpTo": "ReaderReadUpToV2", "TensorArrayRead": "TensorArrayReadV3", "Const_ex": "Const",
              "Variable": "Variable", "Add": "Add", "MatMul": "MatMul"}
    assert {k: lookup(k).block for k in expect} == expect
    assert lookup("Zeta").pin("y") == "q" and lookup("SENSOR_TREND") is None


def test_every_symbol_maps_to_a_known_block() -> None:
    from enuflow.blocks import REGISTRY

    missing = [s.name for s in symbols().values() if s.block not in ("FeedType", "Input_Initializer", "Tensor",
                                                                       "Input", "Status", "Link")
               and REGISTRY.get(s.block) is None]
    assert missing == []


# -- bad files ---------------------------------------------------------------------------------

def _exit(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out + cap.err


@pytest.mark.parametrize("case", ["truncated_svg", "truncated_json", "wrong_encoding", "missing_block",
                                  "missing_pin", "cycle", "entity", "not_svg"])
def test_bad_files_exit_2(tmp_path: Path, case: str, capsys) -> None:
    pg = basic_add()
    if case == "truncated_svg":
        path = write_utf16(tmp_path / "p.svg", pg.svg(4)[:700])
    elif case == "truncated_json":
        path = write_utf16(tmp_path / "p.json", pg.json()[:500])
    elif case == "wrong_encoding":
        path = tmp_path / "p.svg"
        path.write_bytes(pg.svg(4).encode("utf-16-le"))  # no BOM: neither UTF-8 nor marked UTF-16
    elif case == "missing_block":
        pg.link("ID_NOPE", "output", "ID_ADD", "x")
        path = write(tmp_path, pg, "svg3")
    elif case == "missing_pin":
        pg.blocks[2].pins["q"] = EnuPin("")  # a pin the Add symbol does not have
        pg.link("ID_A", "output", "ID_ADD", "q")
        path = write(tmp_path, pg, "json")
    elif case == "cycle":
        pg.block("ID_N", "Neg", (0, 0), x="")
        pg.block("ID_N2", "Neg", (0, 0), x="")
        pg.link("ID_N", "y", "ID_N2", "x")
        pg.link("ID_N2", "y", "ID_N", "x")
        path = write(tmp_path, pg, "svg4")
    elif case == "entity":
        text = pg.svg(4).replace("<svg ", '<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<svg ', 1)
        path = write_utf16(tmp_path / "p.svg", text.replace('value="/cpu:0"', 'value="&x;"'))
    else:
        path = write_utf16(tmp_path / "p.svg", '<?xml version="1.0"?><html></html>')
    code, out = _exit(["run", str(path)], capsys)
    assert code == 2, out
    assert str(path) in out and "Traceback" not in out
    with pytest.raises(PageFileError):
        load(path)


def test_absurd_shape_is_a_block_error(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, basic_add(shape="[100000000][100000000]"), "svg3")
    code, out = _exit(["run", str(path)], capsys)
    assert code == 1 and "ID_A" in out and "elements" in out and "Traceback" not in out


def test_import_command_prints_warnings(tmp_path: Path, capsys) -> None:
    pg = basic_add()
    pg.block("ID_LCD", "SENSOR_LCD", (0, 0), library="logic", INPUT=EnuPin("1"))
    pg.link("ID_ADD", "result_z", "ID_LCD", "INPUT")
    src = write(tmp_path, pg, "svg4")
    out_path = tmp_path / "out.json"
    code, out = _exit(["import", str(src), "-o", str(out_path)], capsys)
    assert code == 0 and "warning:" in out and "SENSOR_LCD" in out
    doc = json.loads(out_path.read_text())
    assert doc["format"] == "enuflow.page" and len(doc["blocks"]) == 5
    code, out = _exit(["run", str(out_path), "--json"], capsys)
    assert code == 0
    assert json.loads(out.splitlines()[0])["results"]["ID_ADD"]["z"]["value"] == [[2, 4], [6, 8]]


# -- the shared samples ------------------------------------------------------------------------------

@needs_shared
@pytest.mark.parametrize("name", ["basic_2.0.1.json", "basic_2.0.1.svg"])
def test_shared_basic(name: str) -> None:
    r = run(load(SHARED / name))
    assert r.errors == [] and r.results.get("ID_1hvgdT0", "z").tolist() == [[2, 4], [6, 8]]


@needs_shared
def test_shared_basic_15() -> None:
    r = run(load(SHARED / "basic_1.5.svg"))
    assert r.errors == [] and r.results.get("ID_MUL", "product").tolist() == [[19], [-3]]


@needs_shared
def test_shared_gradient_descent() -> None:
    page = load(SHARED / "gradient_descent_xw_sub.svg")
    seen: list[float] = []
    r = Runner().run(page, steps=100, on_step=lambda i, res: seen.append(float(res.get("ID_W", "ref")[0])))
    assert r.errors == [] and seen[0] <= 100
    assert all(b <= a for a, b in itertools.pairwise(seen))
    assert abs(seen[-1] - 1.0) < 1e-3


@needs_shared
@pytest.mark.parametrize("name", ["basic_2.0.1.json", "basic_1.5.svg", "gradient_descent_xw_sub.svg"])
def test_shared_round_trip(tmp_path: Path, name: str) -> None:
    direct = run(load(SHARED / name), steps=20)
    out = tmp_path / "page.json"
    assert main(["import", str(SHARED / name), "-o", str(out)]) == 0
    again = run(load(out), steps=20)
    assert again.errors == [] and set(again.results.values) == set(direct.results.values)
    for k, v in direct.results.values.items():
        if k[0] not in ("ID_W", "ID_DESCENT", "ID_1eRwbs0"):  # the session's reads race its own Assign
            np.testing.assert_array_equal(again.results.values[k], v)


def test_variable_initialised_from_a_wired_const(tmp_path: Path) -> None:
    pg = EnuPage()
    pg.block("ID_INIT", "Const", (0, 0), val=("1,2,3,4", "float", "[2][2]"), output=out_pin())
    pg.block("ID_V", "Variable", (0, 0), attrs="container_ =;shared_name_ =shared_v;", shape="{9}",
             dtype="DT_DOUBLE", initvalues="", ref=out_pin("ref"))
    pg.block("ID_ADD", "AssignAdd", (0, 0), ref="", value="{{1.0f,1.0f},{1.0f,1.0f}}", attrs="use_locking_ = false;")
    pg.block("ID_S", "ClientSession", (0, 0), fetch_outputs="", INFINITE_LOOP=("TRUE", "bool"))
    pg.link("ID_INIT", "output", "ID_V", "initvalues")
    pg.link("ID_V", "ref", "ID_ADD", "ref")
    pg.link("ID_ADD", "output_ref", "ID_S", "fetch_outputs")
    page = load(write(tmp_path, pg, "json"))
    assert "dtype" not in page.block("ID_V").pins and "shape" not in page.block("ID_V").pins  # the Const's
    warnings = " ".join(page.extra["import_warnings"])
    assert "INFINITE_LOOP" in warnings and "shared_name_" in warnings
    r = run(page, steps=3)
    assert r.errors == []
    out = r.results.get("ID_ADD", "output_ref")
    assert out.dtype == np.float32 and out.tolist() == [[4, 5], [6, 7]]
