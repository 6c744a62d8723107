"""Files that ship inside the distribution: the example pages (``enuflow.scenes``, the default page among them)
and the editor's assets (``enuflow.assets``).

They are found through the installed packages (``importlib.resources``), never through the current folder, so a
wheel, ``pipx install`` and an editable install from a clone all find them. Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import site
import sysconfig
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

#: the page ``enuflow`` opens when none is named
DEFAULT_SCENE = "sparse_fill_empty_rows_grad"

_extracted = contextlib.ExitStack()  # resources copied to real files (only for installs that are not plain folders)
atexit.register(_extracted.close)


class UnknownScene(LookupError):
    """A scene name that ships with no page; the message lists the names that do."""


def _package(name: str) -> Traversable:
    try:
        return files(f"enuflow.{name}")
    except NotADirectoryError:
        # A data folder is a namespace package; setuptools' editable finder adds a path-hook entry to its search
        # path that Python 3.11's namespace reader refuses. The folder itself is the first real directory there.
        spec = importlib.util.find_spec(f"enuflow.{name}")
        for loc in (spec.submodule_search_locations or []) if spec is not None else []:
            if Path(loc).is_dir():
                return Path(loc)
        raise
    except ModuleNotFoundError:
        # An editable install made before the data folders were mapped knows only enuflow.app and enuflow.blocks;
        # the data folder then sits beside app/ exactly as it does inside an installed enuflow package.
        import enuflow.app

        return Path(enuflow.app.__file__).resolve().parent.parent / name


def _real_path(resource: Traversable) -> Path:
    if isinstance(resource, Path):
        return resource
    return _extracted.enter_context(as_file(resource))


def scene_names() -> list[str]:
    """The names of the pages that ship with enuflow (``xor``, ``linear_regression``, ...), sorted."""
    try:
        entries = list(_package("scenes").iterdir())
    except OSError:
        return []
    return sorted(e.name.removesuffix(".json") for e in entries if e.name.endswith(".json") and e.is_file())


def scene_path(name: str) -> Path:
    """The file of the shipped page ``name`` (with or without ``.json``).

    Raises UnknownScene, naming the shipped pages, when there is none of that name.
    """
    stem = name.removesuffix(".json")
    resource = _package("scenes") / f"{stem}.json"
    if not stem or "/" in stem or "\\" in stem or not resource.is_file():
        names = scene_names()
        listed = ", ".join(names) if names else "none (the installation is missing its scenes)"
        raise UnknownScene(f"no scene named {name!r}; the scenes are: {listed}")
    return _real_path(resource)


def default_page() -> Path:
    """The default page's file (``sparse_fill_empty_rows_grad``); raises UnknownScene if it is missing."""
    return scene_path(DEFAULT_SCENE)


def is_installed_scene(path: str | Path) -> bool:
    """True for a shipped page inside an installed enuflow (a wheel, pipx), not a clone's ``scenes/``: the editor
    opens it as a new page, so that Save asks where instead of writing into the installation."""
    try:
        where = Path(path).resolve()
        shipped = _package("scenes") / where.name
        if not isinstance(shipped, Path) or shipped.resolve() != where:
            return False
    except (OSError, ValueError):
        return False
    folder = where.parent
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")} | set(site.getsitepackages())
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        roots.add(site.getusersitepackages())
    return any(folder.is_relative_to(Path(r).resolve()) for r in roots if r)


def asset_text(name: str) -> str:
    """The text of the asset file ``name`` (e.g. ``categories.json``); raises OSError when it is missing."""
    return (_package("assets") / name).read_text(encoding="utf-8")


def asset_path(name: str) -> Path:
    """A real path of the asset file or folder ``name`` (e.g. ``composites``, the standard composite library)."""
    return _real_path(_package("assets") / name)
