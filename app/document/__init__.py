"""The document layer: the page a person edits and saves.

``page`` (Page, BlockInstance, Link and their events), ``layout`` (the layered auto-layout of a page, for the
editor and imported models), ``values`` (pin text and JSON to numpy arrays and
attr values, never eval), ``cluster`` (TensorFlow cluster specs and TF_CONFIG: tasks, addresses, the task a
device names) and ``formats`` (reading and writing page files: format v1, enuSpace JSON and SVG).

May import: the standard library, numpy, defusedxml, networkx, igraph (``layout``), ``blocks.attrs_text`` and
``app.gcpause``.
Never TensorFlow, never Qt: a page can be opened, checked and saved without either. No sockets: whether a
cluster task answers is asked in ``app.engine.placement``.
"""
