"""DeepSpeech: full-size parameters equal each framework's reference; JAX <-> PyTorch.

The two reference models differ by design in parameter count (PyTorch's LSTM
has an input and a recurrent bias per gate, Flax's cell one), so each
framework is checked against its own reference (``reference_params.json``,
produced from the reference's model code, see its ``_how``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from algoperf_ray.benchmark import describe, registry
from algoperf_ray.workloads.librispeech_deepspeech import convert, models_jax, models_torch
from algoperf_ray.workloads.librispeech_deepspeech.metadata import TORCH_EXTRA_LSTM_BIASES

REFERENCE = json.loads((Path(__file__).parent / "reference_params.json").read_text())["workloads"]
VARIANTS = list(REFERENCE)
FRAMEWORKS = ["jax", "pytorch"]


def digest(shapes: dict) -> str:
    lines = "\n".join(f"{k}:{','.join(map(str, v))}" for k, v in sorted(shapes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("name", VARIANTS)
def test_full_size_params_equal_reference(name: str, framework: str) -> None:
    facts = describe.describe(name, framework)
    ref = REFERENCE[name][framework]
    shapes = facts["param_shapes"]
    if "shapes" in ref:
        assert shapes == ref["shapes"]
    assert (facts["num_params"], len(shapes), digest(shapes)) == (
        ref["num_params"], ref["num_tensors"], ref["sha256"])
    extra = TORCH_EXTRA_LSTM_BIASES if framework == "pytorch" else 0
    assert facts["num_params"] == registry.get_meta(name).num_params + extra


def test_reverse_within_length_reverses_only_the_valid_prefix() -> None:
    x = jnp.arange(12.0).reshape(3, 4, 1)
    lengths = jnp.array([1, 3, 4])
    out = np.asarray(models_jax.reverse_within_length(x, lengths))[..., 0]
    assert out[:, 0].tolist() == [0, 6, 11]
    assert out[1, :3].tolist() == [6, 5, 4] and out[2].tolist() == [11, 10, 9, 8]
    assert sorted(out[0, 1:]) == [1, 2, 3] and out[1, 3] == 7  # padding stays behind
    again = models_jax.reverse_within_length(jnp.asarray(out)[..., None], lengths)
    assert np.array_equal(np.asarray(again), np.asarray(x))


SMALL = dict(encoder_dim=16, num_lstm_layers=2, num_ffn_layers=2, vocab_size=16,
             use_specaug=False)


def _pair(**kw):
    cfg = {**SMALL, **kw}
    jm = models_jax.Deepspeech(models_jax.DeepspeechConfig(**cfg))
    tm = models_torch.DeepspeechEncoderDecoder(models_torch.DeepspeechConfig(**cfg))
    gen = np.random.default_rng(1)
    audio = gen.integers(-8000, 8000, (3, 12000)).astype(np.float32)
    pads = np.zeros_like(audio)
    pads[1, 9000:], pads[2, 4000:] = 1.0, 1.0
    v = jm.init({"params": jax.random.PRNGKey(0)}, audio, pads, train=False)
    leaves, tree = jax.tree.flatten(v)
    v = jax.tree.unflatten(tree, [x + 0.05 * gen.standard_normal(x.shape).astype(np.float32)
                                  for x in leaves])
    sd = convert.flax_to_torch_state(v["params"], v.get("batch_stats"), cfg["num_lstm_layers"],
                                     cfg["num_ffn_layers"], cfg.get("layernorm_everywhere", False),
                                     cfg.get("enable_decoder_layer_norm", True))
    tm.load_state_dict({k: torch.from_numpy(np.array(a)) for k, a in sd.items()}, strict=True)
    return jm, v, tm, audio, pads


@pytest.mark.parametrize("kw", [
    {}, {"use_tanh": True}, {"enable_residual_connections": False},
    {"layernorm_everywhere": True, "enable_decoder_layer_norm": False}])
def test_same_weights_same_outputs(kw: dict) -> None:
    """Valid steps agree (padded steps are zero in PyTorch, arbitrary in JAX, unused)."""
    jm, v, tm, audio, pads = _pair(**kw)
    tm.eval()
    out_j, pad_j = jm.apply(v, audio, pads, train=False)
    with torch.no_grad():
        out_t, pad_t = tm(torch.from_numpy(audio), torch.from_numpy(pads))
    valid = (1 - np.asarray(pad_j))[..., None]
    assert np.array_equal(np.asarray(pad_j), pad_t.numpy())
    np.testing.assert_allclose(np.asarray(out_j) * valid, out_t.numpy() * valid, atol=1e-4)
    tm.train()
    (out_j, _), _ = jm.apply(v, audio, pads, train=True, dropout_rate=0.0,
                             mutable=["batch_stats"])
    out_t, _ = tm(torch.from_numpy(audio), torch.from_numpy(pads), dropout_rate=0.0)
    np.testing.assert_allclose(np.asarray(out_j) * valid, out_t.detach().numpy() * valid,
                               atol=1e-3)
