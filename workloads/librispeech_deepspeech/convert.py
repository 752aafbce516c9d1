"""Flax -> PyTorch weight conversion for DeepSpeech (numpy only).

Used by the equivalence tests. The LSTM maps gate by gate (order i, f, g, o
in both): Flax ``ii..io`` input kernels ``[in, h]`` stack into ``weight_ih``
``[4h, in]``, ``hi..ho`` into ``weight_hh``; Flax's single gate bias becomes
``bias_ih`` and ``bias_hh`` is zero (the extra PyTorch parameters).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from algoperf_ray.workloads.librispeech_conformer.convert import _dense, _flat

_GATES = ("i", "f", "g", "o")


def _lstm(p: dict, f: str, t: str) -> dict[str, np.ndarray]:
    sd: dict[str, np.ndarray] = {}
    for enc, suffix in (("LSTMSequenceEncoder_0", ""), ("LSTMSequenceEncoder_1", "_reverse")):
        cell = f"{f}/LSTM_0/LSTM/{enc}/cell"
        sd[f"{t}.lstm.weight_ih_l0{suffix}"] = np.concatenate(
            [p[f"{cell}/i{g}/kernel"].T for g in _GATES])
        sd[f"{t}.lstm.weight_hh_l0{suffix}"] = np.concatenate(
            [p[f"{cell}/h{g}/kernel"].T for g in _GATES])
        bias = np.concatenate([p[f"{cell}/h{g}/bias"] for g in _GATES])
        sd[f"{t}.lstm.bias_ih_l0{suffix}"] = bias
        sd[f"{t}.lstm.bias_hh_l0{suffix}"] = np.zeros_like(bias)
    return sd


def _norm(p: dict, s: dict, f: str, t: str, layernorm: bool) -> dict[str, np.ndarray]:
    if layernorm:
        return {f"{t}.normalization_layer.scale": p[f"{f}/LayerNorm_0/scale"],
                f"{t}.normalization_layer.bias": p[f"{f}/LayerNorm_0/bias"]}
    g = f"{t}.bn_normalization_layer"
    out = {f"{g}.weight": p[f"{f}/BatchNorm_0/scale"], f"{g}.bias": p[f"{f}/BatchNorm_0/bias"]}
    if s:
        out |= {f"{g}.running_mean": s[f"{f}/BatchNorm_0/mean"],
                f"{g}.running_var": s[f"{f}/BatchNorm_0/var"]}
    return out


def flax_to_torch_state(params: Mapping, batch_stats: Mapping | None, num_lstm_layers: int,
                        num_ffn_layers: int, layernorm_everywhere: bool,
                        decoder_layer_norm: bool) -> dict[str, np.ndarray]:
    """State dict (numpy) for ``DeepspeechEncoderDecoder`` from Flax variables."""
    p, s = _flat(params), _flat(batch_stats or {})
    sd: dict[str, np.ndarray] = {}
    for i in (0, 1):
        c = f"Subsample_0/Conv2dSubsampling_{i}"
        sd[f"subsample.conv{i + 1}.kernel"] = np.transpose(p[f"{c}/kernel"], (3, 2, 0, 1))
        sd[f"subsample.conv{i + 1}.bias"] = p[f"{c}/bias"]
    sd |= _dense(p, "Subsample_0/Dense_0", "subsample.lin")
    for i in range(num_lstm_layers):
        sd |= _norm(p, s, f"BatchRNN_{i}", f"lstms.{i}", layernorm_everywhere)
        sd |= _lstm(p, f"BatchRNN_{i}", f"lstms.{i}")
    for i in range(num_ffn_layers):
        sd |= _norm(p, s, f"FeedForwardModule_{i}", f"ffns.{i}", layernorm_everywhere)
        sd |= _dense(p, f"FeedForwardModule_{i}/Dense_0", f"ffns.{i}.lin")
    if decoder_layer_norm:
        sd |= {"ln.scale": p["LayerNorm_0/scale"], "ln.bias": p["LayerNorm_0/bias"]}
    sd |= _dense(p, "Dense_0", "lin")
    return sd
