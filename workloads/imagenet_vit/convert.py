"""Flax -> PyTorch weights for the ViT (equivalence tests, porting).

Returns a PyTorch ``state_dict`` (numpy arrays) for
:mod:`.models_torch` from the Flax ``params`` of :mod:`.models_jax`.
Layout rules: Dense kernel ``[in, out]`` -> Linear weight ``[out, in]``;
Conv kernel HWIO -> OIHW; attention kernels ``[width, heads, head_dim]``
(query/key/value) and ``[heads, head_dim, width]`` (out) are flattened to
square matrices; the attention-pooling head's separate key and value
projections become the PyTorch model's fused ``kv_proj``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def _dense(p: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Dense or attention projection -> Linear (``[out, in]`` weight, flat bias)."""
    kernel, bias = np.asarray(p["kernel"]), np.asarray(p["bias"])
    if kernel.ndim == 3 and bias.ndim == 2:  # query/key/value: [width, heads, head_dim]
        kernel = kernel.reshape(kernel.shape[0], -1)
    elif kernel.ndim == 3:  # out: [heads, head_dim, width]
        kernel = kernel.reshape(-1, kernel.shape[-1])
    return {"weight": kernel.T, "bias": bias.reshape(-1)}


def _norm(p: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {"weight": np.asarray(p["scale"]), "bias": np.asarray(p["bias"])}


def _mlp(p: Mapping[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    glu = "Dense_2" in p
    out = {"linear1": _dense(p["Dense_0"]), "linear2": _dense(p["Dense_2" if glu else "Dense_1"])}
    if glu:
        out["glu_linear"] = _dense(p["Dense_1"])
    return out


def _block(p: Mapping[str, Any]) -> dict[str, Any]:
    attn = p["MultiHeadDotProductAttention_1"]
    return {"layer_norm0": _norm(p["LayerNorm_0"]), "layer_norm2": _norm(p["LayerNorm_2"]),
            "self_attention1": {k: _dense(attn[k]) for k in ("query", "key", "value", "out")},
            "mlp3": _mlp(p["MlpBlock_3"])}


def _map_head(p: Mapping[str, Any]) -> dict[str, Any]:
    attn = p["MultiHeadDotProductAttention_0"]
    key, value = _dense(attn["key"]), _dense(attn["value"])
    kv = {"weight": np.concatenate([key["weight"], value["weight"]], axis=0),
          "bias": np.concatenate([key["bias"], value["bias"]])}
    return {"probe": np.asarray(p["probe"]), "layer_norm": _norm(p["LayerNorm_0"]),
            "mha": {"q_proj": _dense(attn["query"]), "kv_proj": kv, "out_proj": _dense(attn["out"])},
            "mlp": _mlp(p["MlpBlock_0"])}


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = np.ascontiguousarray(value, dtype=np.float32)
    return out


def torch_state_from_flax(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The PyTorch ViT's state dict holding the same weights as Flax ``params``."""
    enc = params["Transformer"]
    blocks = sorted((k for k in enc if k.startswith("encoderblock_")),
                    key=lambda k: int(k.split("_")[-1]))
    conv = params["conv_patch_extract"]
    tree: dict[str, Any] = {
        "pre_logits": _dense(params["pre_logits"]),
        "conv_patch_extract": {"weight": np.asarray(conv["kernel"]).transpose(3, 2, 0, 1),
                               "bias": np.asarray(conv["bias"])},
        "encoder": {"net": {str(i): _block(enc[k]) for i, k in enumerate(blocks)}},
        "head": _dense(params["head"]),
    }
    if "encoder_layernorm" in enc:
        tree["encoder"]["encoder_norm"] = _norm(enc["encoder_layernorm"])
    if "MAPHead_0" in params:
        tree["map"] = _map_head(params["MAPHead_0"])
    return _flatten(tree)
