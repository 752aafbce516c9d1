"""Every JAX model takes ``dropout_rate`` as a traced value inside ``jax.jit``.

Public submissions pass ``dropout_rate`` through ``model_fn`` inside their
jitted train step (issue #10). Parametrized over the registry, so every
workload and variant with a JAX class is covered, new families included.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark import registry
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workload.dropout_jax import Dropout

JAX_WORKLOADS = sorted(n for n, m in registry.all_workloads().items() if m.class_path("jax"))
BATCH = 8


def _first_array(tree):
    return np.asarray(jax.tree_util.tree_leaves(tree)[0], np.float64)


def _forward(w):
    def forward(p, s, b, key, rate):
        logits, _ = w.model_fn(p, b, s, spec.ForwardPassMode.TRAIN, key, True,
                               dropout_rate=rate)
        return logits
    return forward


@pytest.mark.parametrize("name", JAX_WORKLOADS)
def test_model_fn_traces_with_a_traced_dropout_rate(name: str) -> None:
    """Every workload and variant: tracing with a traced rate raises nothing.

    The bugs of issue #10 (``float(rate)``, flax's ``rate == 0.0`` test) fail at
    trace time, so lowering the jitted TRAIN forward pass with an abstract rate
    (``jax.jit(...).lower``: traced, not compiled; params from ``jax.eval_shape``)
    catches them in about a second.
    """
    w = registry.load_workload(name, "jax", data_mode="synthetic",
                               **registry.reduced_size_kwargs(name))
    params, state = jax.eval_shape(w.init_model_fn, jax.random.PRNGKey(0))
    batch = next(w._build_input_queue(rng_lib.PRNGKey(1), "train", None, BATCH))
    rate = jax.ShapeDtypeStruct((), jnp.float32)  # traced: its value is unknown here
    lowered = jax.jit(_forward(w)).lower(params, state, batch, jax.random.PRNGKey(2), rate)
    assert "func.func public @main" in lowered.as_text()


# Compiles and runs each model (about a minute each on 2 cores): CI runs the models of
# issue #10 and one with batch norm; every other workload with --run-exhaustive.
_NUMERIC_CI = ("criteo1tb", "ogbg", "wmt", "imagenet_resnet")


def _numeric_cases() -> list:
    return [pytest.param(n, marks=[] if n in _NUMERIC_CI else [pytest.mark.exhaustive])
            for n in JAX_WORKLOADS]


@pytest.mark.slow
@pytest.mark.parametrize("name", _numeric_cases())
def test_model_fn_takes_a_traced_dropout_rate_under_jit(name: str) -> None:
    """The traced rate also means what it says: 0.0 is no dropout, 0.5 changes the output."""
    w = registry.load_workload(name, "jax", data_mode="synthetic",
                               **registry.reduced_size_kwargs(name))
    params, state = w.init_model_fn(jax.random.PRNGKey(0))
    # Some heads start at zero (ViT, as in the reference): nudge every weight so
    # that dropout upstream can show in the logits.
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(7), len(leaves))
    params = jax.tree_util.tree_unflatten(tree, [
        leaf + 0.02 * jax.random.normal(k, leaf.shape, leaf.dtype)
        if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf
        for leaf, k in zip(leaves, keys, strict=True)])
    batch = next(w._build_input_queue(rng_lib.PRNGKey(1), "train", None, BATCH))
    traces = []

    def forward(p, s, b, key, rate):
        traces.append(1)  # runs once per trace, not per call
        logits, _ = w.model_fn(p, b, s, spec.ForwardPassMode.TRAIN, key, True,
                               dropout_rate=rate)
        return logits

    step = jax.jit(forward)
    key = jax.random.PRNGKey(2)
    off = _first_array(step(params, state, batch, key, jnp.float32(0.0)))
    on = _first_array(step(params, state, batch, key, jnp.float32(0.5)))
    assert len(traces) == 1, "a new rate must not retrace the step"
    assert np.isfinite(off).all() and np.isfinite(on).all()
    # A traced 0.0 means no dropout: the same as the untraced Python float.
    plain = _first_array(forward(params, state, batch, key, 0.0))
    # Jitted vs eager differ by rounding only: bfloat16 models (finewebedu_lm) get bf16 tolerance.
    low_precision = jax.tree_util.tree_leaves(step(params, state, batch, key, 0.0))[0].dtype
    # Rounding error scales with the logits' size (large-BN-init variants), so the
    # absolute tolerance is relative to the largest logit; dropout at 0.5 moves
    # logits by far more than that.
    tol = 3e-2 if low_precision == jnp.bfloat16 else 2e-4
    scale = float(np.abs(plain).max()) or 1.0
    np.testing.assert_allclose(off, plain, rtol=tol, atol=tol * scale)
    jaxpr = str(jax.make_jaxpr(forward)(params, state, batch, key, jnp.float32(0.5)))
    if "random_bits" in jaxpr:  # the model has dropout: rate 0.5 must change the output
        assert not np.allclose(on, off), f"{name}: dropout_rate=0.5 changed nothing"


def test_dropout_layer_semantics() -> None:
    x = jnp.ones((4, 1000))
    layer = Dropout(broadcast_dims=(0,))
    keyed = {"dropout": jax.random.PRNGKey(0)}

    @jax.jit
    def apply(rate):
        return layer.apply({}, x, deterministic=False, rate=rate, rngs=keyed)

    half = np.asarray(apply(0.5))
    assert set(np.unique(half)) <= {0.0, 2.0}  # kept entries scaled by 1 / (1 - rate)
    assert 0.4 < (half[0] == 0).mean() < 0.6
    assert (half == half[0]).all()  # one mask shared along the broadcast dim
    np.testing.assert_array_equal(apply(0.0), x)
    np.testing.assert_array_equal(apply(1.0), np.zeros_like(x))
    grad = jax.grad(lambda r: layer.apply({}, x, deterministic=False, rate=r,
                                          rngs=keyed).sum())
    assert np.isfinite(float(jax.grad(lambda v: layer.apply(
        {}, v, deterministic=False, rate=1.0, rngs=keyed).sum())(x).sum()))
    assert np.isfinite(float(grad(0.3)))
    np.testing.assert_array_equal(layer.apply({}, x, deterministic=True, rate=0.9), x)


def test_dropout_layer_errors_name_the_fix() -> None:
    x = jnp.ones((2, 3))
    with pytest.raises(ValueError, match="rngs=\\{'dropout'"):
        Dropout().apply({}, x, deterministic=False, rate=0.5)
    with pytest.raises(ValueError, match="no rate given"):
        Dropout().apply({}, x, deterministic=False, rngs={"dropout": jax.random.PRNGKey(0)})
    # A concrete zero rate needs no key: nothing is dropped.
    np.testing.assert_array_equal(Dropout().apply({}, x, deterministic=False, rate=0.0), x)
