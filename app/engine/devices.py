"""Device pins checked against the devices this machine has: TensorFlow's ``allow_soft_placement`` would
otherwise move a block pinned to a missing device (``/gpu:0`` on a machine without one) without a word."""

from __future__ import annotations

from typing import Any

from enuflow.app.document.page import Page
from enuflow.app.engine.analysis import BuildError
from enuflow.app.engine.builder import BuiltGraph
from enuflow.blocks.tf import load


def _device_matches(want: Any, have: Any) -> bool:
    for attr in ("job", "replica", "task", "device_index"):
        w = getattr(want, attr)
        if w is not None and w != getattr(have, attr):
            return False
    return want.device_type is None or str(want.device_type).upper() == str(have.device_type).upper()


def missing_devices(page: Page, built: BuiltGraph, session: Any, device: str = "") -> list[BuildError]:
    """Warnings for device pins that name a device this machine lacks: ``allow_soft_placement`` would
    otherwise move those blocks to another device without a word. Each names the block that asked (the
    ClientSession for its ``device`` pin; no block for ``--device``)."""
    an = built.analysis
    asked: list[tuple[str | None, str, str]] = []  # (block, device, where it was set)
    if device:
        asked.append((None, device, "--device"))
    if an.plan.device and not device:
        asked.append((an.plan.block, an.plan.device, "the ClientSession's device pin"))
    for bid in built.built:
        inst = page.block(bid)
        if inst is not None and inst.device:
            asked.append((bid, inst.device, "its device pin"))
    if not asked:
        return []
    tf = load()
    try:
        have = [tf.DeviceSpec.from_string(d.name) for d in session.list_devices()]
    except Exception:  # noqa: BLE001 - no list of devices: nothing to compare with
        return []
    names = sorted({f"/{h.device_type.lower()}:{h.device_index}" for h in have})
    out = []
    for bid, dev, where in asked:
        try:
            want = tf.DeviceSpec.from_string(dev)
        except (ValueError, TypeError):
            continue  # the builder reports a device it cannot read
        if not any(_device_matches(want, h) for h in have):
            out.append(BuildError(bid, None, f"device '{dev}' ({where}) is not on this machine (it has "
                                             f"{', '.join(names)}); allow_soft_placement runs "
                                             f"{'this block' if where == 'its device pin' else 'the page'} "
                                             "on another device"))
    return out
