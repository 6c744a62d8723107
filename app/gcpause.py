"""Pausing Python's cyclic garbage collector while a page is read, checked or built.

Reading, analysing and building a page of thousands of blocks allocates hundreds of thousands of
small objects that all stay alive; the cyclic collector would walk every live object (TensorFlow's
graph included) again and again meanwhile, for nothing to free. Measured on a 10,000-block page,
such passes made loading time vary from 0.1 s to 0.8 s. Reference counting still frees memory as usual.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def paused_gc(fn: F) -> F:
    """Run ``fn`` with the cyclic collector off (restored afterwards, also when ``fn`` raises)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> Any:
        was = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kw)
        finally:
            if was:
                gc.enable()

    return wrapper  # type: ignore[return-value]


_settled = [False]


def settle() -> None:
    """Move every object alive now out of the cyclic collector's way (``gc.freeze``). For when a big structure
    that lives on has just been made (the canvas of a page of thousands of blocks): the collector's full passes
    stop walking it again (each walked it for 70 to 280 ms on a 10,000-block page). ``thaw`` undoes it when such
    a structure is let go, so that the cycles among its objects are collected again."""
    gc.freeze()
    _settled[0] = True


def thaw(*_args: Any) -> None:
    """Give the objects ``settle`` moved aside back to the collector (no-op when none were)."""
    if _settled[0]:
        gc.unfreeze()
        _settled[0] = False
