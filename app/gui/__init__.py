"""The PySide6 editor: canvas, palette, inspector, results and the window that ties them together.

Nothing here calls TensorFlow: pages run in a worker process (``app.worker.client``), and block types are
looked up without TensorFlow (``app.gui.blocktypes``).
"""
