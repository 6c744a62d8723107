"""Run to here: the part of a page that some blocks need (``enuflow run PAGE --to BLOCK[,BLOCK]``, the editor's
"Run to here").

A run *to* blocks runs those blocks and everything they need, their transitive inputs (data and control links),
and nothing else: a stateful op elsewhere (an ``AssignAdd`` on another branch) is not even built. A name is a
block id, the path of a block inside a composite instance (``d1/mm``, ``app.engine.flatten``), or an instance's
path, which means its exposed outputs (all of its inner blocks when it exposes none). The ClientSession stays,
with its steps and settings; it fetches and runs only what is needed, and the runner runs every needed block
whatever the session fetches (``Analysis.to``).

``needed(flat, names)`` prunes a flattened page (``analysis.analyse(page, to=...)`` calls it); ``unknown(page,
names)`` says which names a page lacks, before anything runs; ``needed_ids(page, names)`` lists the blocks that
will run (for the crash suspects and the editor's status). Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from enuflow.app.document.page import Page
from enuflow.app.engine.flatten import Flat, flatten
from enuflow.app.engine.problems import BuildError

#: the type name of the block whose settings a run keeps (it is never a target's input)
SESSION = "ClientSession"


def parse_names(texts: Iterable[str]) -> list[str]:
    """``["a,b", "c"]`` (``--to`` given once or more) -> ``["a", "b", "c"]``: stripped, in order, each once."""
    out: list[str] = []
    for text in texts:
        for part in str(text).split(","):
            name = part.strip()
            if name and name not in out:
                out.append(name)
    return out


def _targets(flat: Flat, name: str) -> list[str]:
    """The flat block ids that ``name`` means (empty when the page has no such block)."""
    page = flat.page
    if name in page:
        return [name]
    exposed = [src[0] for (path, _port), src in flat.aliases.items() if path == name]
    if exposed:
        return list(dict.fromkeys(exposed))
    prefix = name + "/"
    return [b.id for b in page if b.id.startswith(prefix)]  # an instance that exposes no output: all of it


def _closure(page: Page, start: Iterable[str]) -> set[str]:
    """``start`` and every block they need: their inputs, the inputs of those, ... (linear in the links)."""
    into: dict[str, list[str]] = {}
    for ln in page.links:
        into.setdefault(ln.dst, []).append(ln.src)
    seen: set[str] = set()
    todo = list(start)
    while todo:
        bid = todo.pop()
        if bid in seen:
            continue
        seen.add(bid)
        todo.extend(into.get(bid, ()))
    return seen


def _resolve(flat: Flat, names: Sequence[str]) -> tuple[set[str], list[str]]:
    """(the flat ids of the blocks that run for ``names``, the names the page does not have)."""
    start: list[str] = []
    missing: list[str] = []
    for name in names:
        got = _targets(flat, name)
        if got:
            start.extend(got)
        else:
            missing.append(name)
    return _closure(flat.page, start), missing


def _is_session(type_name: str) -> bool:
    if type_name == SESSION:
        return True
    from enuflow.blocks.base import REGISTRY  # hand-declared blocks only: no TensorFlow needed

    decl = REGISTRY.hand.get(type_name)
    return decl is not None and decl.name == SESSION


def missing_words(page: Page, name: str) -> str:
    """"there is no block 'x' on the page (did you mean 'y'?)" for a name ``page`` lacks."""
    return _missing_words(flatten(page), name)


def _missing_words(flat: Flat, name: str) -> str:
    known = [b.id for b in flat.page] + sorted({path for path, _port in flat.aliases})
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    return f"there is no block {name!r} on the page{hint}"


def unknown(page: Page, names: Sequence[str]) -> list[str]:
    """The names in ``names`` that name no block, inner block nor composite instance of ``page``."""
    return _resolve(flatten(page), names)[1]


def needed_ids(page: Page, names: Sequence[str]) -> set[str]:
    """The ids of the blocks that a run to ``names`` runs, as the flattened page names them (``d1/mm`` for a block
    inside the composite instance ``d1``)."""
    return _resolve(flatten(page), names)[0]


def part(page: Page, names: Sequence[str]) -> Page:
    """The flattened page of what a run to ``names`` runs (its values' sizes are checked before a run)."""
    return needed(flatten(page), names).page


def needed(flat: Flat, names: Sequence[str]) -> Flat:
    """``flat`` with only what ``names`` need (and the ClientSession, fetching and running only that); a name that
    is not on the page is a problem in ``Flat.problems``."""
    ids, missing = _resolve(flat, names)
    page = flat.page
    kept = ids | {b.id for b in page if _is_session(b.type)}
    links = [ln for ln in page.links if ln.src in ids and ln.dst in kept]
    sub = Page(page.name)
    sub.fill([b for b in page if b.id in kept], links)
    sub.view, sub.results, sub.extra = page.view, page.results, page.extra
    sub.data_path = page.data_path
    sub.link_extra = {ln: x for ln, x in page.link_extra.items() if ln.src in ids and ln.dst in kept}

    def concerns(p: BuildError) -> bool:
        return p.block is None or p.block in ids or any(i.startswith(p.block + "/") for i in ids)

    problems = [p for p in flat.problems if concerns(p)]
    problems += [BuildError(None, None, f"run to {n!r}: " + _missing_words(flat, n)) for n in missing]
    aliases = {k: src for k, src in flat.aliases.items() if src[0] in ids}
    op_names = {k: v for k, v in flat.op_names.items() if k in ids}
    return Flat(sub, aliases, frozenset(flat.scoped & ids), op_names, problems=problems)


__all__ = ["missing_words", "needed", "needed_ids", "parse_names", "part", "unknown"]
