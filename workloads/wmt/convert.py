"""Weight converters between the Flax and PyTorch wmt Transformers (numpy only).

The two reference layouts differ: Flax keeps q/k/v/out kernels per head as
``[in, heads, head_dim]`` / ``[heads, head_dim, out]`` and Dense kernels as
``[in, out]``; PyTorch fuses q/k/v (``in_proj``) or k/v (``kv_proj``) into
one ``[out, in]`` Linear weight. The mapping is written once as a table and
used in both directions, so equivalence tests can load one set of weights
into both frameworks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from algoperf_ray.workloads.wmt.config import ModelConfig


def _mlp(prefix_flax: str, prefix_torch: str, glu: bool) -> list[tuple[str, str, str]]:
    names = ["linear1", "linear_glu", "linear2"] if glu else ["linear1", "linear2"]
    rows = []
    for i, name in enumerate(names):
        rows.append((f"{prefix_flax}/MlpBlock_0/Dense_{i}/kernel", f"{prefix_torch}.{name}.weight",
                     "dense"))
        rows.append((f"{prefix_flax}/MlpBlock_0/Dense_{i}/bias", f"{prefix_torch}.{name}.bias",
                     "copy"))
    return rows


def _norms(prefix_flax: str, prefix_torch: str, n: int) -> list[tuple[str, str, str]]:
    rows = []
    for i in range(n):
        rows.append((f"{prefix_flax}/LayerNorm_{i}/scale", f"{prefix_torch}.norm{i + 1}.weight",
                     "copy"))
        rows.append((f"{prefix_flax}/LayerNorm_{i}/bias", f"{prefix_torch}.norm{i + 1}.bias",
                     "copy"))
    return rows


def mapping(cfg: ModelConfig) -> list[tuple[list[str], str, str]]:
    """Rows of ([flax paths], torch name, kind); several flax paths = fused weight."""
    rows: list[tuple[list[str], str, str]] = [
        (["shared_embedding/embedding"], "shared_embedding.weight", "copy")]
    for i in range(cfg.num_layers):
        f, t = f"encoder/encoderblock_{i}", f"encoder.encoder.layers.{i}"
        att = f"{f}/MultiHeadDotProductAttention_0"
        rows.append(([f"{att}/{p}/kernel" for p in ("query", "key", "value")],
                     f"{t}.self_attn.in_proj.weight", "attn_in"))
        rows.append(([f"{att}/out/kernel"], f"{t}.self_attn.out_proj.weight", "attn_out"))
        rows += [([a], b, k) for a, b, k in _norms(f, t, 2) + _mlp(f, t, cfg.glu)]
    for i in range(cfg.num_layers):
        f, t = f"decoder/encoderdecoderblock_{i}", f"decoder.decoder.layers.{i}"
        sa, ca = f"{f}/MultiHeadDotProductAttention_0", f"{f}/MultiHeadDotProductAttention_1"
        rows.append(([f"{sa}/{p}/kernel" for p in ("query", "key", "value")],
                     f"{t}.self_attn.in_proj.weight", "attn_in"))
        rows.append(([f"{sa}/out/kernel"], f"{t}.self_attn.out_proj.weight", "attn_out"))
        rows.append(([f"{ca}/query/kernel"], f"{t}.multihead_attn.q_proj.weight", "attn_in"))
        rows.append(([f"{ca}/{p}/kernel" for p in ("key", "value")],
                     f"{t}.multihead_attn.kv_proj.weight", "attn_in"))
        rows.append(([f"{ca}/out/kernel"], f"{t}.multihead_attn.out_proj.weight", "attn_out"))
        rows += [([a], b, k) for a, b, k in _norms(f, t, 3) + _mlp(f, t, cfg.glu)]
    if cfg.pre_ln:
        for side, f in (("encoder", "encoder/encoder_layernorm"),
                        ("decoder", "decoder/encoderdecoder_layernorm")):
            rows.append(([f"{f}/scale"], f"{side}.{side}.norm.weight", "copy"))
            rows.append(([f"{f}/bias"], f"{side}.{side}.norm.bias", "copy"))
    return rows


def _get(tree: Mapping[str, Any], path: str) -> np.ndarray:
    for part in path.split("/"):
        tree = tree[part]
    return np.asarray(tree)


def _set(tree: dict, path: str, value: np.ndarray) -> None:
    *parents, leaf = path.split("/")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def flax_to_torch(params: Mapping[str, Any], cfg: ModelConfig) -> dict[str, np.ndarray]:
    """Torch ``state_dict``-style arrays from a Flax params tree."""
    out = {}
    for flax_paths, torch_name, kind in mapping(cfg):
        arrays = [_get(params, p) for p in flax_paths]
        if kind == "dense":
            out[torch_name] = arrays[0].T
        elif kind == "attn_in":  # [in, heads, hd] -> [heads*hd, in], stacked q/k/v
            out[torch_name] = np.concatenate([a.reshape(a.shape[0], -1).T for a in arrays])
        elif kind == "attn_out":  # [heads, hd, out] -> [out, heads*hd]
            a = arrays[0]
            out[torch_name] = a.reshape(-1, a.shape[-1]).T
        else:
            out[torch_name] = arrays[0]
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def torch_to_flax(state: Mapping[str, Any], cfg: ModelConfig) -> dict:
    """Flax params tree from a torch ``state_dict`` (tensors or arrays)."""
    heads, hd = cfg.num_heads, cfg.qkv_dim // cfg.num_heads
    tree: dict = {}
    for flax_paths, torch_name, kind in mapping(cfg):
        w = np.asarray(state[torch_name].detach().cpu() if hasattr(state[torch_name], "detach")
                       else state[torch_name])
        if kind == "dense":
            _set(tree, flax_paths[0], w.T)
        elif kind == "attn_in":
            for p, part in zip(flax_paths, np.split(w, len(flax_paths)), strict=True):
                _set(tree, p, part.T.reshape(-1, heads, hd))
        elif kind == "attn_out":
            _set(tree, flax_paths[0], w.T.reshape(heads, hd, -1))
        else:
            _set(tree, flax_paths[0], w)
    return tree
