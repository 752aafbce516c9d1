"""Conformer: full-size parameters equal the reference's; JAX <-> PyTorch equivalence.

``reference_params.json`` was produced by running the reference's own model
code (see its ``_how``); here ``describe`` builds our models without
allocating them (``jax.eval_shape`` / PyTorch's meta device).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import jax
import numpy as np
import pytest
import torch

from algoperf_ray.benchmark import describe, registry
from algoperf_ray.workloads import _librispeech_common_frontend as fe
from algoperf_ray.workloads._librispeech_common_jax import logmel_frontend
from algoperf_ray.workloads._librispeech_common_torch import LogMelFrontend
from algoperf_ray.workloads.librispeech_conformer import convert, models_jax, models_torch

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
    assert facts["num_params"] == registry.get_meta(name).num_params


def test_frontend_matches_numpy_oracle_in_both_frameworks() -> None:
    gen = np.random.default_rng(0)
    audio = gen.integers(-20000, 20000, (2, 8000)).astype(np.float32)
    pads = np.zeros_like(audio)
    pads[1, 5000:] = 1.0
    want, want_pad = fe.logmel_numpy(audio, pads)
    got_j, pad_j = logmel_frontend(audio, pads)
    got_t, pad_t = LogMelFrontend()(torch.from_numpy(audio), torch.from_numpy(pads))
    assert want.shape == (2, fe.num_frames(8000), 80)
    np.testing.assert_allclose(np.asarray(got_j), want, atol=2e-4)
    np.testing.assert_allclose(got_t.numpy(), want, atol=2e-4)
    assert np.array_equal(np.asarray(pad_j), want_pad) and np.array_equal(pad_t.numpy(), want_pad)
    # A frame is valid while its first sample is: 5000 valid samples -> 31 frames.
    assert want_pad[1].sum() == fe.num_frames(8000) - math.ceil(5000 / fe.FRAME_STEP)


SMALL = dict(encoder_dim=32, num_attention_heads=4, num_encoder_layers=2, vocab_size=16,
             use_specaug=False)


def _pair(**kw):
    """A Flax model, its variables (perturbed off the zero inits) and the PyTorch twin."""
    cfg = {**SMALL, **kw}
    jm = models_jax.Conformer(models_jax.ConformerConfig(**cfg))
    tm = models_torch.ConformerEncoderDecoder(models_torch.ConformerConfig(**cfg))
    gen = np.random.default_rng(1)
    audio = gen.integers(-8000, 8000, (3, 12000)).astype(np.float32)
    pads = np.zeros_like(audio)
    pads[1, 9000:], pads[2, 4000:] = 1.0, 1.0
    v = jm.init({"params": jax.random.PRNGKey(0)}, audio, pads, train=False)
    leaves, tree = jax.tree.flatten(v)
    v = jax.tree.unflatten(tree, [x + 0.05 * gen.standard_normal(x.shape).astype(np.float32)
                                  for x in leaves])
    sd = convert.flax_to_torch_state(v["params"], v["batch_stats"], cfg["num_encoder_layers"],
                                     cfg.get("use_post_layer_norm", True))
    tm.load_state_dict({k: torch.from_numpy(np.array(a)) for k, a in sd.items()}, strict=True)
    return jm, v, tm, audio, pads


# GELU: the reference's PyTorch conv module uses exact GELU, JAX the tanh form.
@pytest.mark.parametrize(("kw", "atol"), [
    ({}, 1e-4), ({"attention_temperature": 1.6}, 1e-4), ({"use_post_layer_norm": False}, 1e-4),
    ({"activation_function_name": "gelu"}, 2e-3)])
def test_same_weights_same_outputs(kw: dict, atol: float) -> None:
    jm, v, tm, audio, pads = _pair(**kw)
    tm.eval()
    out_j, pad_j = jm.apply(v, audio, pads, train=False)
    with torch.no_grad():
        out_t, pad_t = tm(torch.from_numpy(audio), torch.from_numpy(pads))
    valid = (1 - np.asarray(pad_j))[..., None]
    assert np.array_equal(np.asarray(pad_j), pad_t.numpy()) and valid.sum() > 0
    np.testing.assert_allclose(np.asarray(out_j) * valid, out_t.numpy() * valid, atol=atol)
    # Train mode (batch statistics, no dropout): outputs and updated running stats agree.
    tm.train()
    (out_j, _), new = jm.apply(v, audio, pads, train=True, dropout_rate=0.0,
                               mutable=["batch_stats"])
    out_t, _ = tm(torch.from_numpy(audio), torch.from_numpy(pads), dropout_rate=0.0)
    np.testing.assert_allclose(np.asarray(out_j) * valid, out_t.detach().numpy() * valid,
                               atol=20 * atol)
    bn = new["batch_stats"]["ConformerBlock_1"]["ConvolutionBlock_0"]["BatchNorm_0"]
    np.testing.assert_allclose(np.asarray(bn["var"]),
                               tm.conformers[1].conv.bn.running_var.numpy(), atol=1e-5)
    assert not np.allclose(np.asarray(bn["var"]),
                           v["batch_stats"]["ConformerBlock_1"]["ConvolutionBlock_0"]
                           ["BatchNorm_0"]["var"])


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_specaugment_masks_follow_the_reference_rule(framework: str) -> None:
    """Whole time steps / mel bins are zeroed, within the reference's size limits."""
    lengths = np.array([400, 250, 120])
    pads = (np.arange(400)[None, :] >= lengths[:, None]).astype(np.float32)
    ones = np.ones((3, 400, 80), np.float32)
    if framework == "jax":
        from algoperf_ray.workloads._librispeech_common_jax import SpecAug

        out = np.asarray(SpecAug().apply({}, ones, pads, rngs={"dropout": jax.random.PRNGKey(3)})[0])
    else:
        from algoperf_ray.workloads._librispeech_common_torch import SpecAug

        torch.manual_seed(3)
        out = SpecAug()(torch.from_numpy(ones), torch.from_numpy(pads))[0].numpy()
    for row, n in zip(out, lengths, strict=True):
        time_masked = (row == 0).all(axis=1)
        freq_masked = (row == 0).all(axis=0)
        assert set(np.unique(row)) <= {0.0, 1.0}
        assert not time_masked[n:].any()  # time masks stay inside the utterance
        # <= 10 masks of <= 5% of the length; <= 2 masks of <= 27 bins.
        assert time_masked.sum() <= 10 * max(1, int(0.05 * n))
        assert freq_masked.sum() <= 2 * 27
        kept = row[~time_masked][:, ~freq_masked]
        assert kept.size and (kept == 1).all()  # masks are whole rows/columns only
    assert (out == 0).any()
