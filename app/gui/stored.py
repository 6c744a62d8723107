"""Results stored in a page file (``page.results``, as written by ``enuflow run --save-results``)
turned back into numpy arrays for display. Only JSON is read; nothing is evaluated. The encoding
itself (every dtype, strings, complex, handles) lives in ``app.document.tensors``."""

from __future__ import annotations

from enuflow.app.document.tensors import results_from_json, tensor_from_json

__all__ = ["results_from_json", "tensor_from_json"]
