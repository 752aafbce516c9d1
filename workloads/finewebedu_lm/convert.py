"""Weight converters between the Flax and PyTorch finewebedu_lm models (numpy only).

Layouts differ in two places: Flax keeps per-head q/k/v kernels
``[model_dim, heads, head_dim]`` where PyTorch fuses them into one
``w_qkv`` weight ``[3 * model_dim, model_dim]``; and Dense kernels are
``[in, out]`` where Linear weights are ``[out, in]``. The table of
correspondences is written once (:func:`mapping`) and read in both
directions, so equivalence tests load one set of weights into both models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from algoperf_ray.workloads.finewebedu_lm.config import ModelConfig

# kinds: "copy" (same array), "dense" (transpose), "qkv" (3 head kernels <-> fused weight)
Row = tuple[list[str], str, str]


def mapping(cfg: ModelConfig) -> list[Row]:
    """Rows of ([flax paths], torch name, kind)."""
    rows: list[Row] = [(["embed/embedding"], "embed_tokens.weight", "copy")]
    for i in range(cfg.num_layers):
        f, t = f"blocks_{i}", f"layers.{i}"
        att = f"{f}/CausalAttn_0"
        rows += [
            ([f"{att}/attn_scale"], f"{t}.attn.attn_scale", "copy"),
            ([f"{att}/{p}/kernel" for p in ("query", "key", "value")], f"{t}.attn.w_qkv.weight",
             "qkv"),
            ([f"{att}/attn_out_proj/kernel"], f"{t}.attn.w_out.weight", "dense"),
            ([f"{f}/RMSNorm_0/scale"], f"{t}.attn_norm.weight", "copy"),
            ([f"{f}/Mlp_0/Dense_0/kernel"], f"{t}.mlp.fc1.weight", "dense"),
            ([f"{f}/Mlp_0/Dense_1/kernel"], f"{t}.mlp.fc2.weight", "dense"),
            ([f"{f}/RMSNorm_1/scale"], f"{t}.mlp_norm.weight", "copy"),
        ]
    rows.append((["out_ln/scale"], "out_norm.weight", "copy"))
    return rows


def _get(tree: Mapping[str, Any], path: str) -> np.ndarray:
    node: Any = tree
    for key in path.split("/"):
        if key not in node:
            raise KeyError(f"finewebedu_lm Flax params have no {path!r} (missing {key!r}).")
        node = node[key]
    return np.asarray(node, dtype=np.float32)


def _set(tree: dict[str, Any], path: str, value: np.ndarray) -> None:
    *parents, leaf = path.split("/")
    for key in parents:
        tree = tree.setdefault(key, {})
    tree[leaf] = value


def flax_to_torch(params: Mapping[str, Any], cfg: ModelConfig) -> dict[str, np.ndarray]:
    """PyTorch ``state_dict`` arrays (float32) from a Flax params tree."""
    out: dict[str, np.ndarray] = {}
    for paths, name, kind in mapping(cfg):
        arrays = [_get(params, p) for p in paths]
        if kind == "copy":
            out[name] = arrays[0]
        elif kind == "dense":
            out[name] = arrays[0].T
        else:  # [D, H, Dh] x 3 -> [3D, D]
            out[name] = np.concatenate([a.reshape(cfg.model_dim, -1).T for a in arrays], axis=0)
    out["lm_head.weight"] = out["embed_tokens.weight"]  # tied; state_dict lists it
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def torch_to_flax(state: Mapping[str, Any], cfg: ModelConfig) -> dict[str, Any]:
    """Flax params tree (float32 numpy) from a PyTorch state dict or named grads."""
    tree: dict[str, Any] = {}
    for paths, name, kind in mapping(cfg):
        value = state[name]
        value = np.asarray(value.detach().cpu().float() if hasattr(value, "detach") else value,
                           dtype=np.float32)
        if kind == "copy":
            _set(tree, paths[0], value)
        elif kind == "dense":
            _set(tree, paths[0], np.ascontiguousarray(value.T))
        else:
            for path, part in zip(paths, np.split(value, 3, axis=0), strict=True):
                kernel = part.T.reshape(cfg.model_dim, cfg.num_heads, cfg.head_dim)
                _set(tree, path, np.ascontiguousarray(kernel))
    return tree
