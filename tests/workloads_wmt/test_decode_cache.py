"""The cached beam search (per-layer key/value cache) against the uncached decoder.

The uncached decoder re-runs the whole prefix at every step; the cached one
feeds one token and re-ranks the cache with the beams. Both must give the
same per-step logits, the same translations token for token, and the same
BLEU on the real-format test split, in both frameworks.
"""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray.benchmark import registry
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.wmt import convert

FRAMEWORKS = ("jax", "pytorch")


def _workload(framework: str, wmt_facts, **extra):
    """A 2-layer tiny model; PyTorch gets the JAX model's weights (its own random
    init decodes one repeated token, which would make the comparison weak)."""
    import jax

    kw = {**wmt_facts.tiny, "max_eval_examples": 8, "num_layers": 2, **extra}
    wj = registry.load_workload("wmt", "jax", data_mode="real", **kw)
    pj, _ = wj.init_model_fn(rng_lib.PRNGKey(7))
    if framework == "jax":
        return wj, pj
    import torch

    wt = registry.load_workload("wmt", "pytorch", data_mode="real", **kw)
    pt, _ = wt.init_model_fn(rng_lib.PRNGKey(7))
    state = convert.flax_to_torch(jax.tree_util.tree_map(np.asarray, pj), wj.cfg)
    pt.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    return wt, pt


def _step_logits_jax(wl, params, inputs, targets):
    import jax
    import jax.numpy as jnp

    from algoperf_ray.workloads.wmt import models_jax

    model = models_jax.Transformer(wl.cfg, cached=True)
    encoded = wl._encode(params, jnp.asarray(inputs))
    cache = models_jax.init_cache(wl.cfg, inputs.shape[0], targets.shape[1], inputs.shape[1])
    shifted = np.pad(targets, ((0, 0), (1, 0)))[:, :-1]
    out = []
    for i in range(targets.shape[1]):
        logits, upd = model.apply({"params": params, "cache": cache}, encoded,
                                  jnp.asarray(inputs), jnp.asarray(shifted[:, i]), i,
                                  method=models_jax.Transformer.decode_step, mutable=["cache"])
        cache = upd["cache"]
        out.append(np.asarray(logits[:, 0]))
    full = wl._model.apply({"params": params}, inputs, targets, deterministic=True)
    del jax
    return np.stack(out, 1), np.asarray(full)


def _step_logits_torch(wl, params, inputs, targets):
    import torch

    model = params
    src, tgt = torch.from_numpy(inputs), torch.from_numpy(targets)
    shifted = np.pad(targets, ((0, 0), (1, 0)))[:, :-1]
    with torch.no_grad():
        encoded = model.encode(src)
        cache = model.init_cache(encoded, src, targets.shape[1])
        out = [model.decode_step(torch.from_numpy(shifted[:, i]), i, cache).numpy()
               for i in range(targets.shape[1])]
        # Teacher-forced, every target position valid, as in decoding.
        full = [model.decode(encoded, src, tgt, index=i)[:, 0].numpy()
                for i in range(targets.shape[1])]
    return np.stack(out, 1), np.stack(full, 1)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_cached_step_logits_equal_the_full_decoder(framework, wmt_data_dir, wmt_facts):
    wl, params = _workload(framework, wmt_facts)
    batch = next(wl.host_batches("test", 0, str(wmt_data_dir), 4, train=False))
    inputs = batch["inputs"]
    # A prefix with no padding (decoding treats every generated position as valid).
    targets = np.random.default_rng(0).integers(3, wmt_facts.tiny["vocab_size"],
                                                size=(4, 12)).astype(inputs.dtype)
    fn = _step_logits_jax if framework == "jax" else _step_logits_torch
    cached, full = fn(wl, params, inputs, targets)
    np.testing.assert_allclose(cached, full, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_cached_beam_search_gives_the_same_translations_and_bleu(framework, wmt_data_dir,
                                                                 wmt_facts):
    wl, params = _workload(framework, wmt_facts)
    data_dir, key = str(wmt_data_dir), rng_lib.PRNGKey(0)
    batch = next(wl.host_batches("test", 0, data_dir, 8, train=False))
    cached = wl._translate(params, batch["inputs"])
    cached_eval = wl._eval_model_on_split("test", 5, 8, params, None, key, data_dir)
    wl.decode_cache = False
    uncached = wl._translate(params, batch["inputs"])
    uncached_eval = wl._eval_model_on_split("test", 5, 8, params, None, key, data_dir)
    np.testing.assert_array_equal(cached, uncached)
    # Not a degenerate search: several distinct tokens were generated.
    assert len(np.unique(cached)) > 3
    assert cached_eval["bleu"] == pytest.approx(uncached_eval["bleu"], abs=1e-9)
    assert cached_eval == pytest.approx(uncached_eval)


def test_decode_cache_option_is_validated_and_defaults_on(wmt_facts):
    wl = registry.load_workload("wmt", "pytorch", data_mode="synthetic", **wmt_facts.tiny)
    assert wl.decode_cache is True
    off = registry.load_workload("wmt", "pytorch", data_mode="synthetic", decode_cache=False,
                                 **wmt_facts.tiny)
    assert off.decode_cache is False
