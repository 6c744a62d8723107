"""TensorBoard event files for a page run (``enuflow run PAGE --logdir DIR``, and the editor's setting).

``EventLog(logdir)`` writes, into a new events file in ``logdir``: the page's TensorFlow graph (once,
when the run starts), then after every step each scalar result of the page (the values the editor
plots as trends) under the tag ``block.port``, at that step. ``tensorboard --logdir DIR`` shows the
curves and the graph. Events are written with TensorFlow's own event file writer (plain protobuf
records, no eager summaries), so logging costs little per step.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from enuflow.blocks.tf import load


class EventLog:
    """One events file: the graph and the page's scalar results per step."""

    def __init__(self, logdir: str | Path) -> None:
        tf = load()
        from tensorflow.python.summary.writer.event_file_writer import EventFileWriter

        Path(logdir).mkdir(parents=True, exist_ok=True)
        self._tf = tf
        self._writer = EventFileWriter(str(logdir))
        self._summary = tf.compat.v1.Summary
        self._event = tf.compat.v1.Event

    def graph(self, gd: Any) -> None:
        """Write the page's graph (a ``GraphDef``) for TensorBoard's graph view."""
        self._writer.add_event(self._event(wall_time=time.time(), graph_def=gd.SerializeToString()))

    def step(self, step: int, values: dict[tuple[str, str], np.ndarray]) -> None:
        """Write every scalar result (one number: bool, int or float) at ``step``."""
        summary = self._summary()
        for (block, port), arr in values.items():
            a = arr if isinstance(arr, np.ndarray) else np.asarray(arr)
            if a.size != 1 or a.dtype.kind not in "biuf":
                continue
            summary.value.add(tag=f"{block}.{port}", simple_value=float(a.reshape(-1)[0]))
        if summary.value:
            self._writer.add_event(self._event(wall_time=time.time(), step=int(step), summary=summary))

    def close(self) -> None:
        self._writer.flush()
        self._writer.close()
