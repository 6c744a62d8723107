"""The engine layer: a page turned into TensorFlow and run.

``analysis`` (validation; imports no TensorFlow itself), ``builder`` (page to ``tf.Graph``), ``runner``
(sessions, steps, results), ``placement`` (blocks on cluster tasks, tasks down or lost), ``export_python``
(a standalone script), and the exporters, model importers and log writers that need TensorFlow.

May import: ``app.document``, ``blocks``, ``app.gcpause``, TensorFlow, numpy and networkx. Never Qt.
"""
