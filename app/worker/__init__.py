"""The worker layer: pages run in a child process, so an op that aborts or hangs never takes its caller down.

``client`` (used by the editor; imports no TensorFlow), ``child`` (the process that loads TensorFlow and runs
the engine), ``shm`` (result tensors through shared memory) and ``task_server`` (one task of a TensorFlow
cluster, ``enuflow worker``).

May import: ``app.document``, ``blocks`` declarations, and (in ``child`` only) ``app.engine``. Never Qt.
"""
