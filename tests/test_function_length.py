"""No function in app/engine is over 80 lines (the project's rule: a long function asks for small named parts).

Read from the source with ``ast`` (no import, no TensorFlow): every function and method, nested ones too, counted
from its ``def`` line to its last line.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "app" / "engine"
LIMIT = 80
#: files not checked (none: runner.py's Runner.run is a short step loop with observers since issue 20)
EXCLUDED: set[str] = set()


def function_lengths(path: Path) -> list[tuple[str, int]]:
    """(qualified name, lines) of every function defined in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                found.append((name, child.end_lineno - child.lineno + 1))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def test_the_count_sees_long_functions(tmp_path: Path) -> None:
    src = "class A:\n    def f(self):\n" + "        x = 1\n" * 85 + "\n\ndef g():\n    def h():\n        pass\n"
    path = tmp_path / "m.py"
    path.write_text(src)
    assert function_lengths(path) == [("A.f", 86), ("g", 3), ("g.h", 2)]


def test_no_engine_function_over_80_lines() -> None:
    files = sorted(p for p in ENGINE.glob("*.py") if p.name not in EXCLUDED)
    assert any(p.name == "builder.py" for p in files)
    long = [f"{p.name}:{name} ({n} lines)" for p in files for name, n in function_lengths(p) if n > LIMIT]
    assert not long, "functions over 80 lines: " + ", ".join(long)
