"""Checks on the tiny real-format LibriSpeech, shared by both families (loaded by path)."""

from __future__ import annotations

import math

import numpy as np
import torch

from algoperf_ray.benchmark import registry
from algoperf_ray.workload import rng as rng_lib


def eval_same_in_both_frameworks(name: str, data_dir, reduced: dict, to_torch_state) -> dict:
    """Full eval of the validation split with one set of weights in JAX and PyTorch.

    ``to_torch_state(params, batch_stats, model_kwargs)`` converts Flax
    variables to a PyTorch state dict. Returns the JAX metrics.
    """
    import jax

    jw = registry.load_workload(name, "jax", data_mode="real", **reduced)
    tw = registry.load_workload(name, "pytorch", data_mode="real", **reduced)
    params, state = jw.init_model_fn(rng_lib.PRNGKey(0))
    # Move off the zero/unit inits so the logits are not degenerate.
    gen = np.random.default_rng(0)
    params = jax.tree.map(lambda x: x + 0.02 * gen.standard_normal(x.shape).astype(x.dtype),
                          params)
    model, _ = tw.init_model_fn(rng_lib.PRNGKey(0))
    sd = to_torch_state(params, (state or {}).get("batch_stats"), jw.model_kwargs)
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sd.items()})
    n = jw.num_validation_examples
    got_j = jw._eval_model_on_split("validation", n, 4, params, state, rng_lib.PRNGKey(1),
                                    str(data_dir))
    got_t = tw._eval_model_on_split("validation", n, 4, model, None, rng_lib.PRNGKey(1),
                                    str(data_dir))
    assert set(got_j) == set(got_t) == {"ctc_loss", "wer"}
    assert math.isfinite(got_j["ctc_loss"]) and got_j["ctc_loss"] > 0
    assert got_j["wer"] > 0
    np.testing.assert_allclose(got_t["ctc_loss"], got_j["ctc_loss"], rtol=1e-3)
    assert got_t["wer"] == got_j["wer"]
    return got_j
