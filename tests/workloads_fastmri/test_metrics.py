"""SSIM and L1: skimage agreement, the reference's guards, and one definition for three xp."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from algoperf_ray.workloads.fastmri import metrics

skimage_metrics = pytest.importorskip("skimage.metrics")


def _pair(seed: int, shape: tuple[int, ...] = (3, 40, 33), noise: float = 0.3):
    gen = np.random.default_rng(seed)
    target = np.abs(gen.standard_normal(shape)).cumsum(1)
    return target + noise * gen.standard_normal(shape), target


@pytest.mark.parametrize("noise", [0.05, 0.5, 5.0])
def test_matches_skimage_with_volume_max_as_data_range(noise: float) -> None:
    """Where both are defined the same way (SSIM within [-1, 1]) they agree to 1e-12."""
    out, tgt = _pair(0, noise=noise)
    volume_max = np.array([tgt[0].max(), 3.0, 50.0])
    ours = metrics.ssim(out, tgt, np.zeros(3), np.ones(3), volume_max, np)
    ref = [skimage_metrics.structural_similarity(out[i], tgt[i], data_range=volume_max[i])
           for i in range(3)]
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_denormalises_before_comparing() -> None:
    """SSIM is computed on ``x * std + mean``, not on the normalised images."""
    out, tgt = _pair(1)
    mean, std = np.array([2.0, -1.0, 0.5]), np.array([0.1, 3.0, 1.0])
    vmax = np.array([4.0, 9.0, 2.0])
    ours = metrics.ssim(out, tgt, mean, std, vmax, np)
    m, s = mean[:, None, None], std[:, None, None]
    ref = [skimage_metrics.structural_similarity(out[i] * s[i] + m[i], tgt[i] * s[i] + m[i],
                                                 data_range=vmax[i]) for i in range(3)]
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_zero_volume_max_means_range_one_and_identical_images_score_one() -> None:
    out, tgt = _pair(2)
    zero = metrics.ssim(out, tgt, np.zeros(3), np.ones(3), np.zeros(3), np)
    one = metrics.ssim(out, tgt, np.zeros(3), np.ones(3), np.ones(3), np)
    np.testing.assert_array_equal(zero, one)
    np.testing.assert_allclose(metrics.ssim(tgt, tgt, np.zeros(3), np.ones(3),
                                            np.ones(3), np), 1.0)


def test_result_is_the_clipped_raw_ssim_and_anticorrelation_scores_negative() -> None:
    """The reference clips to [-1, 1] (a guard against round-off; skimage does not clip)."""
    gen = np.random.default_rng(3)
    tgt = 10.0 + gen.standard_normal((2, 16, 16))
    out = np.stack([20.0 - tgt[0], tgt[1]])  # mirrored around the same mean
    raw = metrics.structural_similarity(out, tgt, np.ones(2), np)
    ours = metrics.ssim(out, tgt, np.zeros(2), np.ones(2), np.ones(2), np)
    np.testing.assert_array_equal(ours, np.clip(raw, -1.0, 1.0))
    assert -1.0 <= ours[0] < -0.9 and ours[1] == pytest.approx(1.0)


def test_same_values_in_numpy_jax_and_torch() -> None:
    out, tgt = _pair(4, shape=(4, 32, 29))
    args = [out, tgt, np.full(4, 0.5), np.full(4, 2.0), np.array([10.0, 0.0, 5.0, 20.0])]
    ref = metrics.ssim(*args, np)
    as32 = [a.astype(np.float32) for a in args]
    got_jax = jax.jit(lambda *a: metrics.ssim(*a, jnp))(*as32)
    got_torch = metrics.ssim(*[torch.from_numpy(a) for a in as32], torch)
    np.testing.assert_allclose(np.asarray(got_jax), ref, atol=2e-5)
    np.testing.assert_allclose(got_torch.numpy(), ref, atol=2e-5)


def test_eval_sums_skip_padding_rows_even_when_they_hold_nan() -> None:
    out, tgt = _pair(5, shape=(3, 16, 16))
    out[2] = np.nan
    batch = {"targets": tgt, "mean": np.zeros(3), "std": np.ones(3),
             "volume_max": np.full(3, 10.0), "weights": np.array([1.0, 1.0, 0.0])}
    sums = metrics.eval_sums(out, batch, np)
    per = metrics.ssim(out[:2], tgt[:2], np.zeros(2), np.ones(2), np.full(2, 10.0), np)
    assert sums["ssim"] == pytest.approx(per.sum())
    assert sums["loss"] == pytest.approx(np.abs(out[:2] - tgt[:2]).mean((1, 2)).sum())


def test_images_smaller_than_the_window_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least 7 pixels"):
        metrics.ssim(np.zeros((1, 5, 9)), np.zeros((1, 5, 9)), np.zeros(1), np.ones(1),
                     np.ones(1), np)
