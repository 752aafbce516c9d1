"""The perplexity metric is corpus-level: summed token losses over summed real tokens."""

from __future__ import annotations

import math

import numpy as np
import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark import registry
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.finewebedu_lm.workload import lm_metrics


def test_lm_metrics_is_the_token_weighted_mean():
    # two batches with different token counts: the mean is over tokens, not batches
    totals = {"loss": 2.0 * 10 + 4.0 * 30, "denominator": 40.0}
    out = lm_metrics(totals)
    assert out["loss"] == pytest.approx(3.5) and out["ppl"] == pytest.approx(math.exp(3.5))
    with pytest.raises(ValueError, match="no real tokens"):
        lm_metrics({"loss": 0.0, "denominator": 0.0})


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_eval_equals_numpy_cross_entropy_over_all_real_tokens(framework):
    """Padded last batch: padding rows never count; result = exp(mean token CE)."""
    kw = {"vocab_size": 37, "seq_len": 8, "model_dim": 16, "num_heads": 2, "num_layers": 1,
          "mlp_dim": 16, "multiple_of": 16, "compute_dtype": "float32",
          "max_eval_examples": 5}
    wl = registry.load_workload("finewebedu_lm", framework, data_mode="synthetic", **kw)
    params, state = wl.init_model_fn(rng_lib.PRNGKey(0))
    got = wl.eval_model(2, params, state, rng_lib.PRNGKey(1), None, None, 0)
    import zlib

    batches = list(wl.host_batches("validation", zlib.crc32(b"validation"), None, 2,
                                   train=False))
    assert len(batches) == 3
    nll, count = 0.0, 0.0
    for b in batches:
        dev = b
        if framework == "pytorch":
            import torch

            dev = {k: torch.from_numpy(v) for k, v in b.items()}
        logits, _ = wl.model_fn(params, dev, state, spec.ForwardPassMode.EVAL, None, False)
        logits = np.asarray(logits.detach() if hasattr(logits, "detach") else logits,
                            np.float64)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        tok = np.take_along_axis(logp, b["targets"][..., None], -1)[..., 0]
        nll -= (tok * b["weights"]).sum()
        count += b["weights"].sum()
    assert count == 5 * 8
    assert got["validation/loss"] == pytest.approx(nll / count, rel=1e-5)
    assert got["validation/ppl"] == pytest.approx(math.exp(nll / count), rel=1e-5)
    assert "test/ppl" not in got  # no test split, as in the reference
    assert wl.has_reached_test_target(got)
    assert wl.has_reached_validation_target({"validation/ppl": 22.2995})
    assert not wl.has_reached_validation_target({"validation/ppl": 22.3})
