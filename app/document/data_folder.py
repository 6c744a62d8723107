"""A page's data folder: where data files named by absolute Windows paths are found.

Pages imported from enuSpace name their data files (MNIST's ``train-images.idx3-ubyte``, a checkpoint's
``trainW.t``) by the absolute Windows path of the machine that saved them. The pins keep that path as
written; the page's optional top-level field ``data_dir`` (set by ``enuflow import/run --data-dir DIR``
or by the editor's data-folder setting, saved with the page) says where to look instead: each such path
becomes ``data_dir`` joined with its trailing parts where that file exists (``dataset/x.idx``), else
``data_dir / basename``, for files read and files written (Save) alike. ``map_pins`` applies it to one
block's pins before they are parsed; ``data_files`` lists every such file of a page with whether
it is there, so the editor and the run can name the missing ones. Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import ntpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enuflow.app.document.page import BlockInstance, Page

#: the page's top-level field holding its data folder
FIELD = "data_dir"
#: block types whose path pins name files they write (the file need not exist before the run)
WRITERS = frozenset({"Save", "SaveSlices", "SaveV2", "WriteFile", "MergeV2Checkpoints"})
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")


def is_windows_path(text: Any) -> bool:
    """True for text like ``C:\\Users\\...`` (an absolute Windows path, which is never a path here)."""
    return isinstance(text, str) and bool(_WINDOWS_PATH.match(text))


def data_folder(page: Page) -> Path | None:
    """The page's data folder, or None when it has none."""
    value = page.extra.get(FIELD)
    return Path(value) if isinstance(value, str) and value.strip() else None


def set_data_folder(page: Page, folder: str | Path | None) -> None:
    """Set (or, with None or "", remove) the page's data folder."""
    if folder is None or str(folder).strip() == "":
        page.extra.pop(FIELD, None)
    else:
        page.extra[FIELD] = str(folder)


def mapped(path: str, folder: Path | None) -> str:
    """Where an absolute Windows ``path`` is looked for in ``folder``, by the trailing parts of the path: for
    ``C:\\...\\picture\\dataset\\x.idx`` the first of ``folder/picture/dataset/x.idx``, ``folder/dataset/x.idx``
    that exists, else ``folder/x.idx`` (also where a file to be written goes); other paths unchanged."""
    if folder is None or not is_windows_path(path):
        return path
    parts = [p for p in ntpath.splitdrive(path.replace("\\\\", "\\"))[1].replace("/", "\\").split("\\") if p]
    if not parts:
        return path
    for start in range(max(0, len(parts) - 4), len(parts) - 1):  # the longest trail first, at most four folders
        candidate = folder.joinpath(*parts[start:])
        if candidate.is_file():
            return str(candidate)
    return str(folder / parts[-1])


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _strings(value.get("value"))
    if isinstance(value, list):
        out: list[str] = []
        for v in value:
            if isinstance(v, (str, list, dict)):  # numbers, the bulk of a large value, are passed over here
                out.extend(_strings(v))
        return out
    return []


def _map_value(value: Any, folder: Path) -> Any:
    if isinstance(value, str):
        return mapped(value, folder)
    if isinstance(value, dict) and "value" in value:
        return {**value, "value": _map_value(value["value"], folder)}
    if isinstance(value, list):
        return [_map_value(v, folder) for v in value]
    return value


def map_pins(block: BlockInstance, folder: Path | None) -> dict[str, Any]:
    """``block.pins`` with every absolute Windows path moved into ``folder`` (the pins themselves unchanged)."""
    if folder is None:
        return block.pins
    out = block.pins
    for name, value in block.pins.items():
        if name.startswith("result_") or not any(is_windows_path(s) for s in _strings(value)):
            continue
        if out is block.pins:
            out = dict(block.pins)
        out[name] = _map_value(value, folder)
    return out


@dataclass(frozen=True)
class DataFile:
    """A data file named by a block's pin: as written, where it is looked for, and whether it is there."""

    block: str
    pin: str
    written: str
    path: str
    writes: bool
    exists: bool

    def problem(self, folder: Path | None) -> str | None:
        """What is wrong with this file for a run, or None."""
        if self.writes:
            parent = Path(self.path).parent
            if is_windows_path(self.path):
                return (f"pin '{self.pin}' writes to '{self.written}', a Windows path; set the page's data folder "
                        "(--data-dir DIR, or File > Data Folder in the editor) to write it there")
            return None if parent.is_dir() else f"pin '{self.pin}' writes into {parent}, which is not a folder"
        if self.exists:
            return None
        if folder is None:
            return (f"pin '{self.pin}' names the data file '{self.written}', which is not here; set the page's "
                    "data folder (--data-dir DIR, or File > Data Folder in the editor)")
        return f"pin '{self.pin}' names the data file '{self.written}', which is not in the data folder {folder}"


def windows_paths(block: BlockInstance) -> list[tuple[str, str]]:
    """(pin, text) of every absolute Windows path in a block's pins."""
    out: list[tuple[str, str]] = []
    for name, value in block.pins.items():
        kind = type(value)
        if kind is str:  # most text pins are settings ("float32"): a path has its drive's colon second
            if len(value) > 2 and value[1] == ":" and _WINDOWS_PATH.match(value) and not name.startswith("result_"):
                out.append((name, value))
        elif (kind is list or kind is dict) and not name.startswith("result_"):
            out.extend((name, s) for s in _strings(value) if is_windows_path(s))
    return out


def data_file(block: BlockInstance, pin: str, text: str, folder: Path | None) -> DataFile:
    """The file that pin ``pin`` of ``block`` names by the absolute Windows path ``text``, as ``folder`` maps it."""
    path = mapped(text, folder)
    return DataFile(block.id, pin, text.replace("\\\\", "\\"), path, block.type in WRITERS,
                    not is_windows_path(path) and Path(path).is_file())


def data_files(page: Page) -> list[DataFile]:
    """Every file a block's pin names by an absolute Windows path, as the page's data folder maps it."""
    folder = data_folder(page)
    return [data_file(b, name, text, folder) for b in page for name, text in windows_paths(b)]


__all__ = ["FIELD", "WRITERS", "DataFile", "data_file", "data_files", "data_folder", "is_windows_path", "map_pins",
           "mapped", "set_data_folder", "windows_paths"]
