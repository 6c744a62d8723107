"""A block type for every op of ``tf.raw_ops``, generated from TensorFlow's own OpDefs, and its cache.

Ports, attrs and docs come from each op's OpDef and ``tf.raw_ops`` docstring; the category from the
generated module that defines the op (``gen_math_ops`` -> ``math``). Hand-declared blocks of the same
name take precedence (the registry looks there first).

Each block also carries marks: ``unavailable`` (with the reason) for ops that cannot run here (removed
from the current GraphDef version, or no CPU kernel), ``io`` for ops that run only when the user allows it
(``--allow-io``): those the allowlist (``blocks/op_classes.tsv``, read by ``blocks.op_classes``) classes as
reading or writing files or acting on the host, and every op it does not know; and ``dangerous`` for ops
that can crash or hang the process they run in (found by ``bench/catalogue_sweep.py``).

The whole declaration is written as JSON to a cache file keyed by TensorFlow's version (read from the
installed distribution's metadata, without importing TensorFlow) and by a digest of this generator, in
``$ENUFLOW_CACHE_DIR`` or ``$XDG_CACHE_HOME/enuflow`` (default ``~/.cache/enuflow``). Once the cache
exists, listing and resolving block types needs no TensorFlow import. A corrupt or foreign cache file
is ignored and rewritten.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.resources
import inspect
import json
import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from enuflow.blocks import atomic, op_classes
from enuflow.blocks.base import Attr, Block, Port
from enuflow.blocks.opblock import OpBlock

#: bump when the cache layout changes (the generator digest covers changes of this file's tables and of the
#: allowlist)
CACHE_SCHEMA = 2
CACHE_FORMAT = "enuflow.catalogue"

#: generated module -> category: enuSpace's group names where one exists (array_ops, math, nn,
#: sparse_ops, state, training, image_ops, io_ops, random, string, control_flow_ops, data_flow_ops),
#: then the names of TensorFlow's C++ op groups (linalg_ops, logging_ops, parsing_ops, ...).
CATEGORIES = {
    "gen_array_ops": "array_ops", "gen_manip_ops": "array_ops",
    "gen_math_ops": "math", "gen_count_ops": "math", "gen_special_math_ops": "math",
    "gen_bitwise_ops": "math",
    "gen_nn_ops": "nn", "gen_ctc_ops": "nn", "gen_cudnn_rnn_ops": "nn", "gen_rnn_ops": "nn",
    "gen_sparse_ops": "sparse_ops", "gen_sparse_csr_matrix_ops": "sparse_ops",
    "gen_state_ops": "state", "gen_resource_variable_ops": "state",
    "gen_training_ops": "training", "gen_sdca_ops": "training",
    "gen_image_ops": "image_ops",
    "gen_io_ops": "io_ops", "gen_checkpoint_ops": "io_ops", "gen_filesystem_ops": "io_ops",
    "gen_random_ops": "random", "gen_stateless_random_ops": "random", "gen_stateless_random_ops_v2": "random",
    "gen_stateful_random_ops": "random", "gen_random_index_shuffle_ops": "random",
    "gen_string_ops": "string",
    "gen_control_flow_ops": "control_flow_ops", "gen_functional_ops": "control_flow_ops",
    "gen_sync_ops": "control_flow_ops",
    "gen_data_flow_ops": "data_flow_ops", "gen_map_ops": "data_flow_ops", "gen_list_ops": "data_flow_ops",
    "gen_logging_ops": "logging_ops", "gen_summary_ops": "logging_ops",
    "gen_parsing_ops": "parsing_ops", "gen_decode_proto_ops": "parsing_ops", "gen_encode_proto_ops": "parsing_ops",
    "gen_candidate_sampling_ops": "candidate_sampling_ops",
    "gen_linalg_ops": "linalg_ops", "gen_spectral_ops": "spectral_ops",
    "gen_lookup_ops": "lookup_ops", "gen_set_ops": "set_ops", "gen_audio_ops": "audio_ops",
    "gen_user_ops": "user_ops", "gen_clustering_ops": "clustering_ops",
    "gen_dataset_ops": "dataset", "gen_experimental_dataset_ops": "dataset", "gen_optional_ops": "dataset",
    "gen_ragged_array_ops": "ragged", "gen_ragged_conversion_ops": "ragged", "gen_ragged_math_ops": "ragged",
    "gen_composite_tensor_ops": "ragged",
    "gen_boosted_trees_ops": "boosted_trees", "gen_batch_ops": "batch", "gen_collective_ops": "collective",
    "gen_nccl_ops": "collective", "gen_sendrecv_ops": "collective",
    "gen_uniform_quant_ops": "quantization", "gen_script_ops": "script", "gen_debug_ops": "debug",
    "gen_tpu_ops": "tpu", "gen_tpu_partition_ops": "tpu", "gen_xla_ops": "xla",
}

#: Ops that crash or hang the process they run in with ordinary inputs (a failed CHECK, a segfault
#: in shape inference, or a wait for data that never comes that a session timeout does not stop).
#: Seeded from the issue and completed from ``bench/catalogue_sweep.py`` runs (crashed / timed out).
DANGEROUS_OPS = frozenset({
    "Abort",
    "ParseExample", "ParseExampleV2", "ParseSingleExample", "ParseSequenceExample", "ParseSequenceExampleV2",
    "ParseSingleSequenceExample",
    "Unbatch", "UnbatchGrad",
    "BoostedTreesAggregateStats", "BoostedTreesSparseAggregateStats",
    "Unstage", "StagePeek", "MapPeek", "MapUnstage", "MapUnstageNoKey", "OrderedMapPeek", "OrderedMapUnstage",
    "OrderedMapUnstageNoKey",
    "QueueDequeue", "QueueDequeueV2", "QueueDequeueMany", "QueueDequeueManyV2", "QueueDequeueUpTo",
    "QueueDequeueUpToV2", "BarrierTakeMany", "AccumulatorTakeGradient", "ResourceAccumulatorTakeGradient",
    "SparseAccumulatorTakeGradient",
    "CollectiveReduce", "CollectiveReduceV2", "CollectiveReduceV3", "CollectiveGather", "CollectiveGatherV2",
    "CollectiveBcastSend", "CollectiveBcastSendV2", "CollectiveBcastRecv", "CollectiveBcastRecvV2",
    "CollectiveAllToAllV2", "CollectiveAllToAllV3", "CollectiveReduceScatterV2", "CollectiveAssignGroupV2",
    "CollectiveInitializeCommunicator",
    # found by the sweep: a failed CHECK (abort) on small inputs, through a page too
    "AvgPoolGrad", "Conv2DBackpropFilter", "DepthwiseConv2dNativeBackpropFilter",
    "DepthwiseConv2dNativeBackpropInput",
    # a failed CHECK (abort) when an argmax index lies past the output
    "MaxPoolGradWithArgmax", "MaxPoolGradGradWithArgmax",
})

#: Ops without a registered CPU kernel that still run: a graph rewrite replaces them before running.
RUNS_WITHOUT_KERNEL = frozenset({"AccumulateNV2"})

_NO_KERNEL_WHY = re.compile(r"TPU|Xla|Nccl|Cudnn|Infeed|Outfeed|SparseCore")
_NEEDS = {"TPU": "a TPU", "Xla": "XLA compilation for a TPU", "Nccl": "NCCL (several GPUs)",
          "Cudnn": "cuDNN (a GPU)", "Infeed": "a TPU", "Outfeed": "a TPU", "SparseCore": "a TPU's SparseCore"}


def category_of(module: str) -> str:
    """The block category of an op defined in the generated module ``module``."""
    short = module.rsplit(".", 1)[-1]
    if short in CATEGORIES:
        return CATEGORIES[short]
    short = short.removeprefix("gen_").removesuffix("_ops")
    return short or "other"


def raw_op_names() -> list[str]:
    from enuflow.blocks.tf import load

    tf = load()
    return sorted(n for n in dir(tf.raw_ops) if not n.startswith("_"))


def _has_cpu_kernel(name: str) -> bool:
    from tensorflow.python.framework import kernels

    try:
        kl = kernels.get_registered_kernels_for_op(name)
    except Exception:  # noqa: BLE001 - an op the kernel registry cannot answer for: assume it runs
        return True
    return any(k.device_type in ("CPU", "DEFAULT") for k in kl.kernel)


def unavailable_reason(op_def: Any, graph_def_version: int, has_cpu_kernel: bool) -> str:
    """Why the op cannot run here ("" when it can)."""
    if op_def.HasField("deprecation") and op_def.deprecation.version <= graph_def_version:
        why = op_def.deprecation.explanation.strip().rstrip(".")
        return (f"removed from TensorFlow graphs at GraphDef version {op_def.deprecation.version}"
                + (f" ({why})" if why else ""))
    if not has_cpu_kernel and op_def.name not in RUNS_WITHOUT_KERNEL:
        m = _NO_KERNEL_WHY.search(op_def.name)
        what = f"; it needs {_NEEDS[m.group(0)]}" if m else ""
        return f"TensorFlow has no CPU kernel for {op_def.name}{what}"
    return ""


def generate() -> dict[str, Block]:
    """Every ``tf.raw_ops`` op as a block, keyed by op name (imports TensorFlow)."""
    from enuflow.blocks.tf import load

    tf = load()
    from tensorflow.python.framework import op_def_registry

    gdv = int(tf.version.GRAPH_DEF_VERSION)
    out: dict[str, Block] = {}
    for name in raw_op_names():
        op_def = op_def_registry.get(name)
        if op_def is None:
            continue
        fn: Any = getattr(tf.raw_ops, name)
        try:
            params = [p for p in inspect.signature(fn).parameters if p != "name"]
        except (TypeError, ValueError):
            params = []
        input_names = params[: len(op_def.input_arg)]
        block = OpBlock(op_def, input_names, doc=inspect.getdoc(fn) or "",
                        category=category_of(getattr(fn, "__module__", "") or ""))
        block.unavailable = unavailable_reason(op_def, gdv, _has_cpu_kernel(name))
        block.io = op_classes.needs_io(name)
        block.dangerous = name in DANGEROUS_OPS
        out[name] = block
    return out


# -- the cache ----------------------------------------------------------------------------------

_DIST_NAMES = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel", "tf-nightly",
               "tf-nightly-cpu")


@functools.lru_cache(maxsize=1)
def tensorflow_version() -> str | None:
    """The installed TensorFlow's version from its distribution metadata (no import), or None."""
    for dist in _DIST_NAMES:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def cache_dir() -> Path:
    """``$ENUFLOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/enuflow``, else ``~/.cache/enuflow``."""
    env = os.environ.get("ENUFLOW_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg or Path.home() / ".cache") / "enuflow"


def cache_path(version: str | None = None) -> Path | None:
    """The cache file for TensorFlow ``version`` (default: the installed one); None if TF is not installed."""
    version = version or tensorflow_version()
    if version is None:
        return None
    safe = re.sub(r"[^A-Za-z0-9._+-]", "_", version)
    return cache_dir() / f"catalogue-tf{safe}.json"


_digest: str | None = None


def generator_digest() -> str:
    """A digest of the code that derives declarations: a cache made by other code is not trusted."""
    global _digest
    if _digest is None:
        h = hashlib.blake2b(digest_size=12)
        h.update(str(CACHE_SCHEMA).encode())
        here = importlib.resources.files(__package__)  # the installed package, wherever it lives
        for f in ("catalogue.py", "opblock.py", "base.py", "op_classes.py", op_classes.TABLE_NAME):
            try:
                h.update((here / f).read_bytes())
            except OSError:
                h.update(f.encode())
        _digest = h.hexdigest()
    return _digest


def block_json(b: Block) -> dict[str, Any]:
    """The complete declaration of a generated block, as stored in the cache."""
    return {
        "name": b.name, "op_name": b.op_name or b.name, "category": b.category, "doc": b.doc,
        "io": b.io, "dangerous": b.dangerous, "unavailable": b.unavailable,
        "deprecation": getattr(b, "deprecation", ""), "deprecated_version": getattr(b, "deprecated_version", 0),
        "stateful": getattr(b, "stateful", False),
        "inputs": [asdict(p) for p in b.inputs], "outputs": [asdict(p) for p in b.outputs],
        "attrs": [asdict(a) for a in b.attrs],
    }


def _port(d: dict[str, Any]) -> Port:
    d = dict(d)
    if d.get("allowed") is not None:
        d["allowed"] = tuple(d["allowed"])
    return Port(**d)


def _attr(d: dict[str, Any]) -> Attr:
    d = dict(d)
    if d.get("allowed") is not None:
        d["allowed"] = tuple(d["allowed"])
    return Attr(**d)


def block_from_json(d: dict[str, Any]) -> OpBlock:
    """An OpBlock from its cached declaration; raises KeyError/TypeError/ValueError if malformed."""
    fields = {k: d[k] for k in ("op_name", "category", "doc", "io", "dangerous", "unavailable", "deprecation",
                                "deprecated_version", "stateful")}
    if not isinstance(d["name"], str) or not d["name"]:
        raise ValueError("block without a name")
    return OpBlock.from_declaration(d["name"], tuple(_port(p) for p in d["inputs"]),
                                    tuple(_port(p) for p in d["outputs"]), tuple(_attr(a) for a in d["attrs"]),
                                    **fields)


def write_cache(blocks: dict[str, Block], path: Path, version: str) -> None:
    """Write the catalogue to ``path`` atomically (a temporary file in the same folder, then rename)."""
    doc = {"format": CACHE_FORMAT, "schema": CACHE_SCHEMA, "tensorflow": version,
           "generator": generator_digest(), "blocks": [block_json(b) for _, b in sorted(blocks.items())]}
    text = json.dumps(doc, separators=(",", ":"))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, text)


#: the last cache read: ((path, mtime, size, version), blocks), so a second read of an unchanged file is free
_memo: tuple[tuple[Any, ...], dict[str, Block] | None] | None = None


def read_cache(path: Path | None = None, version: str | None = None) -> dict[str, Block] | None:
    """The cached catalogue, or None when there is none or it is corrupt, foreign or stale."""
    global _memo
    version = version or tensorflow_version()
    path = path or cache_path(version)
    if path is None or version is None:
        return None
    try:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size, version)
        if _memo is not None and _memo[0] == key:
            return dict(_memo[1]) if _memo[1] is not None else None
        _memo = (key, None)  # until proven valid: an unchanged bad file is not parsed again
        doc = json.loads(path.read_text(encoding="utf-8"))
        if (not isinstance(doc, dict) or doc.get("format") != CACHE_FORMAT or doc.get("schema") != CACHE_SCHEMA
                or doc.get("tensorflow") != version or doc.get("generator") != generator_digest()):
            return None
        out: dict[str, Block] = {}
        for d in doc["blocks"]:
            b = block_from_json(d)
            out[b.name] = b
        if not out:
            return None
        _memo = (key, out)
        return dict(out)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def cache_ready() -> bool:
    """Whether a valid cache for the installed TensorFlow exists (the blocks read are kept for later)."""
    return read_cache() is not None


def load_catalogue() -> dict[str, Block]:
    """The catalogue from the cache when valid; otherwise generated (imports TensorFlow) and cached.

    A cache that cannot be written (read-only home) is not an error: the generated catalogue is returned.
    """
    version = tensorflow_version()
    path = cache_path(version)
    cached = read_cache(path, version)
    if cached is not None:
        return cached
    blocks = generate()
    if version is None:
        from enuflow.blocks.tf import load

        version = str(load().__version__)
        path = cache_path(version)
    if path is not None:
        try:
            write_cache(blocks, path, version)
        except OSError:
            pass
    return blocks
