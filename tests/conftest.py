"""Shared test setup: the offscreen Qt platform, the repository root, and small page builders."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from enuflow.app.document.page import BlockInstance, Link, Page


def make_page(blocks: list[tuple[str, str, dict[str, Any]]], links: list[tuple[str, str, str, str]],
              name: str = "test") -> Page:
    """A page from (id, type, pins) triples and (src, src_port, dst, dst_port) links."""
    page = Page(name)
    for i, (bid, btype, pins) in enumerate(blocks):
        page.add_block(BlockInstance(bid, btype, (40.0 * i, 0.0), dict(pins)))
    for s, sp, d, dp in links:
        page.add_link(Link(s, sp, d, dp))
    return page


@pytest.fixture
def root() -> Path:
    return ROOT
