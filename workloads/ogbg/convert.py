"""Weight converters between the Flax and PyTorch ogbg GNNs (numpy in, numpy out).

Flax names layers by creation order (``Dense_i``/``LayerNorm_i``: per step
the edge, node, global MLP, each one Dense+LayerNorm per hidden width, then
the decoder); PyTorch names them by place. :func:`name_map` pairs the two,
so equivalence tests and checkpoint ports use one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

_MLPS = ("update_edge_fn", "update_node_fn", "update_global_fn")


def name_map(hidden_dims: tuple[int, ...], num_message_passing_steps: int) -> dict[str, str]:
    """``{flax layer name: torch module path}`` for Dense and LayerNorm layers."""
    pairs = {"node_embedding": "node_embedder", "edge_embedding": "edge_embedder"}
    i = 0
    for step in range(num_message_passing_steps):
        for mlp in _MLPS:
            for layer in range(len(hidden_dims)):
                pairs[f"Dense_{i}"] = f"graph_network.{step}.{mlp}.dense_{layer}"
                pairs[f"LayerNorm_{i}"] = f"graph_network.{step}.{mlp}.norm_{layer}"
                i += 1
    pairs[f"Dense_{i}"] = "decoder"
    return pairs


def jax_to_torch(params: Mapping[str, Any], hidden_dims: tuple[int, ...],
                 num_message_passing_steps: int) -> dict[str, np.ndarray]:
    """A Flax ``params`` tree -> a PyTorch ``state_dict`` of numpy arrays."""
    out: dict[str, np.ndarray] = {}
    names = name_map(hidden_dims, num_message_passing_steps)
    if set(params) != set(names):
        raise ValueError(f"ogbg params do not match the architecture: unexpected "
                         f"{sorted(set(params) - set(names))}, missing "
                         f"{sorted(set(names) - set(params))}.")
    for flax_name, torch_name in names.items():
        layer = {k: np.asarray(v) for k, v in params[flax_name].items()}
        if "kernel" in layer:  # Dense: Flax [in, out] vs torch [out, in]
            out[f"{torch_name}.weight"] = layer["kernel"].T.copy()
        else:  # LayerNorm
            out[f"{torch_name}.weight"] = layer["scale"]
        out[f"{torch_name}.bias"] = layer["bias"]
    return out


def torch_to_jax(state_dict: Mapping[str, Any], hidden_dims: tuple[int, ...],
                 num_message_passing_steps: int) -> dict[str, dict[str, np.ndarray]]:
    """A PyTorch ``state_dict`` -> a Flax ``params`` tree of numpy arrays."""
    sd = {k.removeprefix("module."): np.asarray(v.detach().cpu() if hasattr(v, "detach") else v)
          for k, v in state_dict.items()}
    params: dict[str, dict[str, np.ndarray]] = {}
    for flax_name, torch_name in name_map(hidden_dims, num_message_passing_steps).items():
        weight, bias = sd[f"{torch_name}.weight"], sd[f"{torch_name}.bias"]
        if flax_name.startswith("LayerNorm"):
            params[flax_name] = {"scale": weight, "bias": bias}
        else:
            params[flax_name] = {"kernel": weight.T.copy(), "bias": bias}
    return params
