"""enuflow installed like any Python tool: the wheel carries what the program reads at run time, and the installed
``enuflow`` command works from any folder.

The wheel test is slow (it builds the wheel and starts TensorFlow twice) but downloads nothing: the wheel goes with
``--no-deps`` into a fresh virtual environment that sees the test environment's installed dependencies.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: what a build of the distribution reads from the clone
SOURCES = ("pyproject.toml", "README.md", "app", "blocks", "scenes", "assets")


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_every_code_folder_is_a_listed_package() -> None:
    """A folder with an __init__.py under app/ or blocks/ that the package list misses would be left out of the
    wheel (the list is explicit); so would a data folder the code reads."""
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    folders = {f: name for name, f in mapping.items()}
    wanted = set()
    for top in ("app", "blocks"):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            if "__pycache__" not in rel:
                wanted.add(".".join((folders[top], *rel)))
    assert wanted - listed == set()
    assert {"enuflow.scenes", "enuflow.assets"} <= listed
    assert listed <= set(wanted) | {"enuflow.scenes", "enuflow.assets"}  # nothing listed that does not exist


def _fresh_env_seeing_ours(venv: Path) -> Path:
    """A new virtual environment (--system-site-packages) whose Python also sees the packages installed in the
    test environment, without its editable enuflow; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=venv).stdout.strip())
    # A virtual environment made from a virtual environment's python sees the *base* interpreter's packages, not
    # those of the environment it was made from. A .pth line adds our site-packages folders to sys.path; the .pth
    # files inside them (the editable enuflow finder among them) are not run, so enuflow comes from the wheel.
    ours = [p for p in {*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
            if Path(p).is_dir()]
    (purelib / "test_environment.pth").write_text("\n".join(sorted(ours)) + "\n", encoding="utf-8")
    return python


def test_wheel_installs_a_working_enuflow(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(p, src / name)
    # The version is written once, in pyproject.toml: a build with another version there must report that one.
    version = PYPROJECT["project"]["version"] + ".post7"
    text = (src / "pyproject.toml").read_text(encoding="utf-8")
    (src / "pyproject.toml").write_text(text.replace(f'version = "{PYPROJECT["project"]["version"]}"',
                                                     f'version = "{version}"', 1), encoding="utf-8")
    dist = tmp_path / "dist"
    r = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w",
              str(dist), str(src)], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = dist.glob("enuflow-*.whl")
    assert wheel.name.startswith(f"enuflow-{version}-")
    # the training examples' data files ship beside the pages (their pages name them relative to their folder)
    with zipfile.ZipFile(wheel) as z:
        shipped = set(z.namelist())
    for data in sorted((ROOT / "scenes" / "data").glob("*.npz")) + [ROOT / "scenes" / "data" / "README.md"]:
        assert f"enuflow/scenes/data/{data.name}" in shipped
    assert "enuflow/scenes/data/make_data.py" not in shipped  # the data's generator is not part of enuflow

    venv = tmp_path / "venv"
    python = _fresh_env_seeing_ours(venv)
    r = _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    exe = venv / "bin" / "enuflow"
    assert exe.exists()

    elsewhere = tmp_path / "elsewhere"  # no scenes/ or assets/ here: everything must come from the installation
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL")}

    # the code, the default page and the assets are those of the installed wheel, not of the clone
    probe = ("import json, enuflow.app.cli as cli, enuflow.blocks as blocks; from enuflow.app import bundled; "
             "print(json.dumps([cli.__file__, blocks.__file__, str(bundled.default_page()), bundled.scene_names(), "
             "json.loads(bundled.asset_text('categories.json'))]))")
    r = _run([str(python), "-c", probe], cwd=elsewhere, env=env)
    assert r.returncode == 0, r.stderr
    cli_file, blocks_file, default, names, categories = json.loads(r.stdout)
    for f in (cli_file, blocks_file, default):
        assert Path(f).resolve().is_relative_to(venv.resolve()), f
    assert Path(default).name == "sparse_fill_empty_rows_grad.json"
    assert names == sorted(p.stem for p in (ROOT / "scenes").glob("*.json"))
    assert categories == json.loads((ROOT / "assets" / "categories.json").read_text(encoding="utf-8"))

    # the editor opens the installed default page as a new page: Save asks where instead of writing into the install
    gui_probe = ("from PySide6.QtWidgets import QApplication; app = QApplication([]); "
                 "from enuflow.app import bundled; from enuflow.app.gui.main import make_window; "
                 "w = make_window(str(bundled.default_page()), start_worker=False, offer_restore=False); "
                 "print(bundled.is_installed_scene(bundled.default_page()), w.path, len(w.page), len(w.page.links))")
    r = _run([str(python), "-c", gui_probe], cwd=elsewhere,
             env=dict(env, QT_QPA_PLATFORM="offscreen", ENUFLOW_RECOVERY_DIR=str(tmp_path / "recovery"),
                      ENUFLOW_CONFIG_DIR=str(tmp_path / "config")))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "None", "4", "4"]

    r = _run([str(exe), "--version"], cwd=elsewhere, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"enuflow {version}"

    r = _run([str(exe), "blocks", "SparseFillEmptyRowsGrad"], cwd=elsewhere, env=env)
    assert r.returncode == 0, r.stderr
    for word in ("SparseFillEmptyRowsGrad", "reverse_index_map", "grad_values", "d_values", "d_default_value"):
        assert word in r.stdout

    # no display: the default page runs headless. Its values (ARCHITECTURE.md): reverse_index_map [2, 1],
    # grad_values [0, 1, 2, 3]; d_values = grad_values[[2, 1]], d_default_value = the sum over rows 0 and 3.
    r = _run([str(exe)], cwd=elsewhere, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "headless" in r.stderr and "Traceback" not in r.stderr
    assert "d_values         float32 [2]  [2. 1.]" in r.stdout
    assert "d_default_value  float32 []  3.0" in r.stdout

    r = _run([str(exe), "run", "--scene", "no_such_scene"], cwd=elsewhere, env=env)
    assert r.returncode == 2
    assert "xor" in r.stderr and "sparse_fill_empty_rows_grad" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("scene", ["xor", "xor.json"])
def test_run_scene_by_name_from_any_folder(tmp_path: Path, scene: str) -> None:
    r = _run([sys.executable, "-m", "enuflow.app.cli", "run", "--scene", scene, "--json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    page = json.loads((ROOT / "scenes" / "xor.json").read_text(encoding="utf-8"))
    assert doc["ok"] is True and Path(doc["page"]).name == "xor.json"
    assert set(doc["results"]) >= {b["id"] for b in page["blocks"] if b["type"] == "Const"}
    assert doc["results"]["Y"]["output"]["value"] == [[0.0], [1.0], [1.0], [0.0]]


def test_run_unknown_scene_lists_the_names(tmp_path: Path) -> None:
    r = _run([sys.executable, "-m", "enuflow.app.cli", "run", "--scene", "../pyproject", "--json"], cwd=tmp_path)
    assert r.returncode == 2
    (err,) = json.loads(r.stdout)["errors"]
    for p in (ROOT / "scenes").glob("*.json"):
        assert p.stem in err["message"]
    r = _run([sys.executable, "-m", "enuflow.app.cli", "run"], cwd=tmp_path)
    assert r.returncode == 2 and "--scene" in r.stderr and "xor" in r.stderr


def test_version_is_pyproject_version(tmp_path: Path) -> None:
    r = _run([sys.executable, "-m", "enuflow.app.cli", "--version"], cwd=tmp_path)
    assert r.returncode == 0
    assert r.stdout.strip() == f"enuflow {PYPROJECT['project']['version']}"


def test_clone_scenes_open_as_files_that_save_in_place(qtbot, tmp_path: Path, monkeypatch) -> None:
    """From a clone (editable install) the shipped pages are the clone's files: the editor saves over them."""
    from enuflow.app import bundled
    from enuflow.app.gui.main import make_window

    monkeypatch.setenv("ENUFLOW_RECOVERY_DIR", str(tmp_path / "recovery"))
    monkeypatch.setenv("ENUFLOW_CONFIG_DIR", str(tmp_path / "config"))
    default = bundled.default_page()
    assert default.resolve() == (ROOT / "scenes" / "sparse_fill_empty_rows_grad.json").resolve()
    assert not bundled.is_installed_scene(default)
    w = make_window(str(default), start_worker=False, offer_restore=False)
    qtbot.addWidget(w)
    assert w.path == str(default)
