"""A block type for every op of ``tf.raw_ops``, generated from TensorFlow's own OpDefs.

Ports, attrs and docs come from each op's OpDef and ``tf.raw_ops`` docstring; the category from the
generated module that defines the op (``gen_math_ops`` -> ``math``). Hand-declared blocks of the same
name take precedence (the registry looks there first).
"""

from __future__ import annotations

import inspect
from typing import Any

from blocks.base import Block
from blocks.opblock import OpBlock
from blocks.tf import load

#: generated module -> category (enuSpace's group names where one exists)
CATEGORIES = {
    "gen_array_ops": "array_ops", "gen_math_ops": "math", "gen_nn_ops": "nn", "gen_sparse_ops": "sparse_ops",
    "gen_state_ops": "state", "gen_resource_variable_ops": "state", "gen_training_ops": "training",
    "gen_image_ops": "image_ops", "gen_io_ops": "io_ops", "gen_random_ops": "random",
    "gen_stateless_random_ops": "random", "gen_stateless_random_ops_v2": "random",
    "gen_stateful_random_ops": "random", "gen_string_ops": "string", "gen_control_flow_ops": "control_flow_ops",
    "gen_functional_ops": "control_flow_ops", "gen_data_flow_ops": "data_flow_ops",
    "gen_logging_ops": "logging_ops", "gen_parsing_ops": "parsing_op",
    "gen_candidate_sampling_ops": "candidate_sampling_ops", "gen_linalg_ops": "linalg",
    "gen_spectral_ops": "spectral", "gen_bitwise_ops": "bitwise", "gen_dataset_ops": "dataset",
    "gen_experimental_dataset_ops": "dataset", "gen_ctc_ops": "nn", "gen_list_ops": "list_ops",
    "gen_map_ops": "data_flow_ops", "gen_lookup_ops": "lookup", "gen_set_ops": "sets",
    "gen_sdca_ops": "training", "gen_boosted_trees_ops": "boosted_trees", "gen_audio_ops": "audio",
    "gen_batch_ops": "batch", "gen_clustering_ops": "clustering", "gen_collective_ops": "collective",
    "gen_count_ops": "math", "gen_cudnn_rnn_ops": "nn", "gen_encode_proto_ops": "proto",
    "gen_decode_proto_ops": "proto", "gen_manip_ops": "array_ops", "gen_nccl_ops": "nccl",
    "gen_script_ops": "script", "gen_sendrecv_ops": "sendrecv", "gen_summary_ops": "summary",
    "gen_tpu_ops": "tpu", "gen_user_ops": "user", "gen_checkpoint_ops": "training",
    "gen_debug_ops": "debug", "gen_ragged_array_ops": "ragged", "gen_ragged_conversion_ops": "ragged",
    "gen_ragged_math_ops": "ragged", "gen_uniform_quant_ops": "quantization",
}


def category_of(module: str) -> str:
    short = module.rsplit(".", 1)[-1]
    if short in CATEGORIES:
        return CATEGORIES[short]
    short = short.removeprefix("gen_").removesuffix("_ops")
    return short or "other"


def raw_op_names() -> list[str]:
    tf = load()
    return sorted(n for n in dir(tf.raw_ops) if not n.startswith("_"))


def generate() -> dict[str, Block]:
    """Every ``tf.raw_ops`` op as a block, keyed by op name (needs TensorFlow)."""
    tf = load()
    from tensorflow.python.framework import op_def_registry  # noqa: PLC0415

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
        out[name] = OpBlock(op_def, input_names, doc=inspect.getdoc(fn) or "",
                            category=category_of(getattr(fn, "__module__", "") or ""))
    return out
