"""finewebedu_lm decoders: reference parameter counts, JAX/PyTorch equivalence, train steps."""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark import registry
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.finewebedu_lm import convert
from algoperf_ray.workloads.finewebedu_lm.metadata import REDUCED_SIZE_KWARGS

NAME = "finewebedu_lm"
# Per block: q/k/v/out 4 x 1024^2, attn_scale, 2 RMSNorm scales, GLU 1024 x 8192 + 4096 x 1024.
BLOCK = 4 * 1024 ** 2 + 1 + 2 * 1024 + 1024 * 8192 + 4096 * 1024
REFERENCE_PARAMS = 50257 * 1024 + 12 * BLOCK + 1024


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_full_size_param_count_and_names_match_reference(framework):
    """Counted without allocating (jax.eval_shape / torch meta device)."""
    from algoperf_ray.benchmark.describe import describe

    facts = describe(NAME, framework)
    assert facts["num_params"] == REFERENCE_PARAMS == registry.get_meta(NAME).num_params
    shapes = facts["param_shapes"]
    if framework == "jax":
        assert shapes["embed/embedding"] == [50257, 1024]
        assert shapes["blocks_11/CausalAttn_0/query/kernel"] == [1024, 8, 128]
        assert shapes["blocks_0/CausalAttn_0/attn_out_proj/kernel"] == [1024, 1024]
        assert shapes["blocks_0/Mlp_0/Dense_0/kernel"] == [1024, 8192]
        assert shapes["blocks_0/Mlp_0/Dense_1/kernel"] == [4096, 1024]
        assert shapes["blocks_0/CausalAttn_0/attn_scale"] == []
        assert len(shapes) == 1 + 12 * 9 + 1
    else:
        assert shapes["embed_tokens.weight"] == [50257, 1024]
        assert shapes["layers.11.attn.w_qkv.weight"] == [3072, 1024]
        assert shapes["layers.0.mlp.fc1.weight"] == [8192, 1024]
        assert shapes["layers.0.mlp.fc2.weight"] == [1024, 4096]
        assert "lm_head.weight" not in shapes  # tied to embed_tokens
        assert len(shapes) == 1 + 12 * 7 + 1
    assert facts["target_metric_name"] == "ppl" and facts["target_direction"] == "min"
    assert facts["batch_shapes"]["inputs"] == {"shape": [1024], "dtype": "int32"}


def _pair(compute_dtype: str, **overrides):
    import jax
    import torch

    kw = {**REDUCED_SIZE_KWARGS[NAME], "compute_dtype": compute_dtype, **overrides}
    wj = registry.load_workload(NAME, "jax", data_mode="synthetic", **kw)
    wt = registry.load_workload(NAME, "pytorch", data_mode="synthetic", **kw)
    pj, _ = wj.init_model_fn(rng_lib.PRNGKey(0))
    pt, _ = wt.init_model_fn(rng_lib.PRNGKey(0))
    state = convert.flax_to_torch(jax.tree_util.tree_map(np.asarray, pj), wj.cfg)
    pt.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=True)
    return wj, pj, wt, pt


def _jax_step(wl):
    import jax

    def loss(p, batch, rng):
        logits, _ = wl.model_fn(p, batch, None, spec.ForwardPassMode.TRAIN, rng, True)
        out = wl.loss_fn(batch["targets"], logits, batch["weights"], 0.1)
        return out["summed"] / out["n_valid_examples"], logits

    return jax.jit(jax.value_and_grad(loss, has_aux=True))


def _torch_loss_logits(wl, model, batch):
    import torch

    tb = {k: torch.from_numpy(v) for k, v in batch.items()}
    logits, _ = wl.model_fn(model, tb, None, spec.ForwardPassMode.TRAIN, rng_lib.PRNGKey(1),
                            True)
    out = wl.loss_fn(tb["targets"], logits, tb["weights"], 0.1)
    return out["summed"] / out["n_valid_examples"], logits


def _batch(wl, rows: int = 3):
    batch = next(wl.host_batches("validation", 1, None, rows + 1, train=False))
    assert batch["weights"][-1].sum() == 0 or wl.num_validation_examples > rows
    return batch


@pytest.fixture(scope="module")
def pair32():
    """Reduced float32 models with equal weights, shared by the tests below (init is slow)."""
    return _pair("float32", max_eval_examples=3)


def test_float32_train_step_agrees_between_jax_and_pytorch(pair32):
    """Same weights -> same logits, loss and gradients (forward + backward, padded rows)."""
    import jax

    wj, pj, wt, pt = pair32
    pt.zero_grad()
    batch = _batch(wj)
    assert batch["weights"][3].sum() == 0  # one padding row
    (value_j, logits_j), grads_j = _jax_step(wj)(pj, batch, rng_lib.PRNGKey(1))
    value_t, logits_t = _torch_loss_logits(wt, pt, batch)
    value_t.backward()
    np.testing.assert_allclose(np.asarray(logits_j), logits_t.detach().numpy(), atol=1e-4,
                               rtol=1e-4)
    assert float(value_j) == pytest.approx(float(value_t.detach()), rel=1e-5)
    grads_t = convert.torch_to_flax({k: p.grad for k, p in pt.named_parameters()}, wj.cfg)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(np.asarray(a, np.float32), b, atol=2e-5,
                                                rtol=1e-3), grads_j, grads_t)
    assert all(np.abs(np.asarray(g, np.float32)).sum() > 0
               for g in jax.tree_util.tree_leaves(grads_j))
    back = convert.torch_to_flax(pt.state_dict(), wj.cfg)
    jax.tree_util.tree_map(lambda x, y: np.testing.assert_array_equal(
        np.asarray(x, np.float32), y), pj, back)


def test_bfloat16_logits_agree_within_bf16_tolerance():
    """The reference compute dtype: bf16 activations over fp32 params in both frameworks."""
    import jax
    import jax.numpy as jnp
    import torch

    wj, pj, wt, pt = _pair("bfloat16")
    batch = _batch(wj)
    logits_j = jax.jit(lambda p, b: wj.model_fn(p, b, None, spec.ForwardPassMode.EVAL, None,
                                                False)[0])(pj, batch)
    logits_t, _ = wt.model_fn(pt, {k: torch.from_numpy(v) for k, v in batch.items()},
                              None, spec.ForwardPassMode.EVAL, None, False)
    assert logits_j.dtype == jnp.bfloat16 and logits_t.dtype == torch.bfloat16
    a = np.asarray(logits_j, np.float32)
    b = logits_t.float().numpy()
    assert np.abs(a - b).max() < 0.05 * max(1.0, np.abs(a).max())
    assert np.abs(a - b).max() > 0  # bf16 rounding really happened


@pytest.mark.slow
def test_full_size_models_agree_on_a_short_sequence():
    """Full width/depth/vocabulary (253M params each), 8 tokens, float32."""
    import jax
    import torch

    wj = registry.load_workload(NAME, "jax", data_mode="synthetic", compute_dtype="float32")
    wt = registry.load_workload(NAME, "pytorch", data_mode="synthetic",
                                compute_dtype="float32")
    pj, _ = wj.init_model_fn(rng_lib.PRNGKey(0))
    pt, _ = wt.init_model_fn(rng_lib.PRNGKey(0))
    pt.load_state_dict({k: torch.tensor(v) for k, v in
                        convert.flax_to_torch(jax.tree_util.tree_map(np.asarray, pj),
                                              wj.cfg).items()})
    tokens = np.random.default_rng(0).integers(0, 50257, (1, 8)).astype(np.int32)
    lj, _ = wj.model_fn(pj, {"inputs": tokens}, None, spec.ForwardPassMode.EVAL, None, False)
    lt, _ = wt.model_fn(pt, {"inputs": torch.from_numpy(tokens)}, None,
                        spec.ForwardPassMode.EVAL, None, False)
    assert lj.shape == (1, 8, 50257)
    np.testing.assert_allclose(np.asarray(lj), lt.numpy(), atol=2e-4, rtol=1e-3)


def test_param_kinds_and_output_params(pair32):
    import jax

    wj, _, wt, pt = pair32
    kinds_j = wj.model_params_types
    att = kinds_j["blocks_0"]["CausalAttn_0"]
    assert att["query"]["kernel"] == spec.ParameterType.ATTENTION_Q
    assert att["attn_out_proj"]["kernel"] == spec.ParameterType.ATTENTION_OUT
    assert kinds_j["embed"]["embedding"] == spec.ParameterType.EMBEDDING
    assert kinds_j["out_ln"]["scale"] == spec.ParameterType.LAYER_NORM_SCALE
    assert spec.ParameterType.WEIGHT in jax.tree_util.tree_leaves(kinds_j)
    kinds_t = wt.model_params_types
    assert set(kinds_t) == {n for n, _ in pt.named_parameters()}
    assert kinds_t["layers.0.attn.w_qkv.weight"] == spec.ParameterType.ATTENTION_QKV
    assert kinds_t["layers.0.attn_norm.weight"] == spec.ParameterType.LAYER_NORM_SCALE
    assert kinds_t["embed_tokens.weight"] == spec.ParameterType.EMBEDDING
    assert wj.is_output_params("embed") and wt.is_output_params("embed_tokens.weight")
    assert not wt.is_output_params("layers.0.mlp.fc1.weight")


def test_dropout_is_off_by_default_and_applies_when_asked(pair32):
    """The reference LM has no dropout (default 0); a traced rate works under jit."""
    import jax
    import torch

    wj, pj, wt, pt = pair32
    batch = next(wj.host_batches("train", 1, None, 2, train=True))
    assert wj._dropout_rate == 0.0 == wt._dropout_rate

    @jax.jit
    def jax_loss(rate, key):
        logits, _ = wj.model_fn(pj, batch, None, spec.ForwardPassMode.TRAIN,
                                jax.random.PRNGKey(key), True, dropout_rate=rate)
        return wj.loss_fn(batch["targets"], logits, batch["weights"])["summed"]

    assert float(jax_loss(0.0, 1)) == float(jax_loss(0.0, 2))
    assert float(jax_loss(0.3, 1)) != pytest.approx(float(jax_loss(0.3, 2)))
    tb = {k: torch.from_numpy(v) for k, v in batch.items()}
    base, _ = wt.model_fn(pt, tb, None, spec.ForwardPassMode.TRAIN, None, True)
    again, _ = wt.model_fn(pt, tb, None, spec.ForwardPassMode.TRAIN, None, True)
    dropped, _ = wt.model_fn(pt, tb, None, spec.ForwardPassMode.TRAIN, None, True,
                             dropout_rate=0.3)
    assert torch.equal(base, again) and not torch.allclose(base, dropped)
