"""The folders are the layers: each package imports only what its layer may (ARCHITECTURE.md, section 2).

The imports are read from the source (every ``import`` and ``from ... import``, also those inside functions),
so a lazy import of TensorFlow or Qt in the wrong layer fails here even if no test happens to call it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    # installed, the folders are the packages enuflow.app and enuflow.blocks
    return {n.removeprefix("enuflow.") for n in names}


def _layer_imports(folder: str) -> dict[str, set[str]]:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"{folder} has no modules"
    return {str(f.relative_to(ROOT)): _imports(f) for f in files}


def _offences(folder: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    out = []
    for module, names in _layer_imports(folder).items():
        for name in sorted(names):
            if any(name == a or name.startswith(a + ".") for a in allowed):
                continue
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(f"{module} imports {name}")
    return out


TF = ("tensorflow",)
QT = ("PySide6", "shiboken6", "pyqtgraph")


@pytest.mark.parametrize("folder, forbidden, allowed", [
    ("app/document", TF + QT + ("app.engine", "app.worker", "app.gui", "app.cli"), ()),
    ("app/engine", QT + ("app.worker", "app.gui", "app.cli"), ()),
    ("app/worker", QT + ("app.gui", "app.cli"), ()),
    # the editor checks pages (analysis) and folds the models it reads itself (model_fold); neither loads TensorFlow
    ("app/gui", TF + ("app.engine", "app.cli"), ("app.engine.analysis", "app.engine.model_fold")),
    ("blocks", QT + ("app",), ()),
])
def test_layer_imports(folder, forbidden, allowed):
    assert _offences(folder, forbidden, allowed) == []


def test_worker_client_imports_no_tensorflow():
    names = _imports(ROOT / "app/worker/client.py") | _imports(ROOT / "app/worker/shm.py")
    bad = [n for n in names if n.split(".")[0] == "tensorflow" or n.startswith("app.engine")]
    assert bad == []


def test_checker_sees_lazy_imports(tmp_path):
    """The rule is not vacuous: an import inside a function is found."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    import tensorflow as tf\n    from PySide6.QtCore import Qt\n"
                 "    from enuflow.app.gui import window\n")
    assert {"tensorflow", "PySide6.QtCore", "PySide6.QtCore.Qt", "app.gui.window"} <= _imports(f)


def test_layers_are_packages_with_a_docstring():
    for folder in ("app/document", "app/engine", "app/worker", "app/gui", "app/document/formats"):
        init = ROOT / folder / "__init__.py"
        assert init.exists(), folder
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), folder
