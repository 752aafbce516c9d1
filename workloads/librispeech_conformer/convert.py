"""Flax -> PyTorch weight conversion for the Conformer (numpy only).

Used by the equivalence tests: one set of weights is initialised in Flax and
loaded into the PyTorch twin. Layout differences: Dense kernels ``[in, out]``
vs Linear ``[out, in]``; per-head q/k/v kernels ``[in, heads, hd]`` vs one
fused ``in_proj`` ``[3 * d, in]``; conv kernels HWIO vs OIHW (2-D) and
``[k, 1, d]`` vs ``[d, 1, k]`` (depthwise 1-D).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def _flat(tree: Mapping, prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for k, v in tree.items():
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(_flat(v, key))
        else:
            out[key] = np.asarray(v)
    return out


def _ln(p: dict, f: str, t: str) -> dict[str, np.ndarray]:
    return {f"{t}.scale": p[f"{f}/scale"], f"{t}.bias": p[f"{f}/bias"]}


def _dense(p: dict, f: str, t: str) -> dict[str, np.ndarray]:
    return {f"{t}.weight": p[f"{f}/kernel"].T, f"{t}.bias": p[f"{f}/bias"]}


def _block(p: dict, f: str, t: str, post_ln: bool) -> dict[str, np.ndarray]:
    sd: dict[str, np.ndarray] = {}
    for i, ff in enumerate(("ff1", "ff2")):
        g = f"{f}/FeedForwardModule_{i}"
        sd |= _ln(p, f"{g}/LayerNorm_0", f"{t}.{ff}.ln")
        sd |= _dense(p, f"{g}/Dense_0", f"{t}.{ff}.linear1")
        sd |= _dense(p, f"{g}/Dense_1", f"{t}.{ff}.linear2")
    a = f"{f}/MultiHeadedSelfAttention_0"
    sd |= _ln(p, f"{a}/LayerNorm_0", f"{t}.mhsa.ln")
    att = f"{a}/MultiHeadDotProductAttention_0"
    d = p[f"{att}/query/kernel"].shape[0]
    sd[f"{t}.mhsa.self_attention.in_proj.weight"] = np.concatenate(
        [p[f"{att}/{n}/kernel"].reshape(d, -1).T for n in ("query", "key", "value")])
    sd[f"{t}.mhsa.self_attention.in_proj.bias"] = np.concatenate(
        [p[f"{att}/{n}/bias"].reshape(-1) for n in ("query", "key", "value")])
    sd[f"{t}.mhsa.self_attention.out_proj.weight"] = p[f"{att}/out/kernel"].reshape(-1, d).T
    sd[f"{t}.mhsa.self_attention.out_proj.bias"] = p[f"{att}/out/bias"]
    sd[f"{t}.mhsa.self_attention.qs.scale"] = p[f"{att}/QueryScaler_0/scale"]
    c = f"{f}/ConvolutionBlock_0"
    sd |= _ln(p, f"{c}/LayerNorm_0", f"{t}.conv.ln")
    for i, lin in enumerate(("lin1", "lin2", "lin3")):
        sd |= _dense(p, f"{c}/Dense_{i}", f"{t}.conv.{lin}")
    sd[f"{t}.conv.conv1.weight"] = np.transpose(p[f"{c}/Conv_0/kernel"], (2, 1, 0))
    sd[f"{t}.conv.bn.scale"] = p[f"{c}/BatchNorm_0/scale"]
    sd[f"{t}.conv.bn.bias"] = p[f"{c}/BatchNorm_0/bias"]
    if post_ln:
        sd |= _ln(p, f"{f}/LayerNorm_0", f"{t}.ln")
    return sd


def flax_to_torch_state(params: Mapping, batch_stats: Mapping | None,
                        num_layers: int, post_ln: bool) -> dict[str, np.ndarray]:
    """State dict (numpy) for ``ConformerEncoderDecoder`` from Flax variables."""
    p = _flat(params)
    sd: dict[str, np.ndarray] = {}
    for i in (0, 1):
        s = f"Subsample_0/Conv2dSubsampling_{i}"
        sd[f"subsample.conv{i + 1}.kernel"] = np.transpose(p[f"{s}/kernel"], (3, 2, 0, 1))
        sd[f"subsample.conv{i + 1}.bias"] = p[f"{s}/bias"]
    sd |= _dense(p, "Subsample_0/Dense_0", "subsample.linear")
    for i in range(num_layers):
        sd |= _block(p, f"ConformerBlock_{i}", f"conformers.{i}", post_ln)
    sd |= _ln(p, "LayerNorm_0", "ln")
    sd |= _dense(p, "Dense_0", "lin")
    if batch_stats:
        s = _flat(batch_stats)
        for i in range(num_layers):
            g = f"ConformerBlock_{i}/ConvolutionBlock_0/BatchNorm_0"
            sd[f"conformers.{i}.conv.bn.running_mean"] = s[f"{g}/mean"]
            sd[f"conformers.{i}.conv.bn.running_var"] = s[f"{g}/var"]
    return sd
