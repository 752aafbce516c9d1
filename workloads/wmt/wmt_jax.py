"""wmt workloads (base and variants) in JAX/Flax.

One class serves every variant: the variant's model options come from
``WorkloadMeta.model_kwargs``. Params are the Flax ``variables['params']``
pytree, replicated over the local mesh; there is no model state.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import sharding_jax
from algoperf_ray.workloads.wmt import models_jax
from algoperf_ray.workloads.wmt.workload import WmtWorkload

# model keyword -> batch key (packed training batches; absent in eval batches)
_PACKING_KEYS = {"inputs_positions": "inputs_position", "targets_positions": "targets_position",
                 "inputs_segmentation": "inputs_segmentation",
                 "targets_segmentation": "targets_segmentation"}


def weighted_cross_entropy(logits: Any, targets: Any, weights: Any | None,
                           label_smoothing: float) -> dict[str, Any]:
    """Per-token CE against smoothed one-hot targets (optax.smooth_labels rule)."""
    vocab = logits.shape[-1]
    onehot = jax.nn.one_hot(targets, vocab, dtype=logits.dtype)
    smoothed = onehot * (1.0 - label_smoothing) + label_smoothing / vocab
    per_token = -jnp.sum(smoothed * jax.nn.log_softmax(logits), axis=-1)
    if weights is None:
        weights = jnp.ones_like(targets, dtype=logits.dtype)
    per_token = jnp.where(weights > 0, per_token, 0.0)
    return {"summed": per_token.sum(), "n_valid_examples": weights.sum(),
            "per_example": per_token}


class WmtJaxWorkload(WmtWorkload):
    """The reference Transformer on WMT17 de-en (BLEU via beam search)."""

    framework = "jax"

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, None]:
        del aux_dropout_rate  # the reference uses one rate for residual and attention dropout
        if dropout_rate is not None:
            self._dropout_rate = dropout_rate
        self._model = models_jax.Transformer(self.cfg)
        fake = jnp.ones((2, self.seq_len), jnp.int32)
        params_rng, _ = jax.random.split(jnp.asarray(rng, dtype=jnp.uint32))
        variables = jax.jit(self._model.init)({"params": params_rng}, fake, fake)
        params = variables["params"]
        self._param_shapes = param_utils.jax_param_shapes(params)
        self._param_types = param_utils.jax_param_types(self._param_shapes)
        return sharding_jax.replicate(params), None

    def is_output_params(self, param_key: Any) -> bool:
        return param_key == "shared_embedding"

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None
                 ) -> tuple[Any, None]:
        del model_state, update_batch_norm
        batch = augmented_and_preprocessed_input_batch
        train = mode == spec.ForwardPassMode.TRAIN
        rate = self._dropout_rate if dropout_rate is None else dropout_rate
        extra = {arg: batch.get(key) for arg, key in _PACKING_KEYS.items()}
        logits = self._model.apply(
            {"params": params}, batch["inputs"], batch["targets"], **extra,
            dropout_rate=rate, deterministic=not train,
            rngs={"dropout": jnp.asarray(rng, dtype=jnp.uint32)} if train else None)
        return logits, None

    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any | None = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        return weighted_cross_entropy(logits_batch, label_batch, mask_batch, label_smoothing)

    @functools.cached_property
    def _jitted_row_metrics(self) -> Any:
        def rows(params: Any, inputs: Any, targets: Any, weights: Any) -> dict[str, Any]:
            logits = self._model.apply({"params": params}, inputs, targets, deterministic=True)
            per_token = weighted_cross_entropy(logits, targets, weights, 0.0)["per_example"]
            correct = (jnp.argmax(logits, -1) == targets) * weights
            return {"loss": per_token.sum(-1), "correct": correct.sum(-1),
                    "tokens": weights.sum(-1)}
        return jax.jit(rows)

    def _row_metrics(self, params: Any, batch: dict[str, Any]) -> dict[str, np.ndarray]:
        out = self._jitted_row_metrics(params, batch["inputs"], batch["targets"],
                                       batch["weights"])
        return {k: np.asarray(v) for k, v in out.items()}

    # ---- beam-search decoding -----------------------------------------------------------
    @functools.cached_property
    def _encode(self) -> Any:
        return jax.jit(lambda params, inputs: self._model.apply(
            {"params": params}, inputs, method=models_jax.Transformer.encode))

    @functools.cached_property
    def _next_top_k(self) -> Any:
        def step(params: Any, encoded: Any, inputs: Any, prefix: Any, index: Any,
                 k: int) -> Any:
            logits = self._model.apply({"params": params}, encoded, inputs, prefix, index=index,
                                       method=models_jax.Transformer.decode)
            return jax.lax.top_k(jax.nn.log_softmax(logits[:, 0].astype(jnp.float32)), k)
        return jax.jit(step, static_argnums=5)

    @functools.cached_property
    def _cached_step(self) -> Any:
        model = models_jax.Transformer(self.cfg, cached=True)

        def step(params: Any, cache: Any, encoded: Any, inputs: Any, token: Any, index: Any,
                 parents: Any, k: int) -> Any:
            # Re-rank the cache with the beams, then feed only the newest token.
            cache = jax.tree_util.tree_map(
                lambda c: jnp.take(c, parents, axis=0) if c.ndim else c, cache)
            logits, updated = model.apply(
                {"params": params, "cache": cache}, encoded, inputs, token, index,
                method=models_jax.Transformer.decode_step, mutable=["cache"])
            top = jax.lax.top_k(jax.nn.log_softmax(logits[:, 0].astype(jnp.float32)), k)
            return updated["cache"], top
        return jax.jit(step, static_argnums=7, donate_argnums=1)

    def _translate(self, params: Any, inputs: np.ndarray) -> np.ndarray:
        # Beams of one example sit next to each other: [e0, e0, .., e1, e1, ..].
        flat_inputs = jnp.asarray(np.repeat(inputs, self.beam_size, axis=0))
        encoded = jnp.repeat(self._encode(params, jnp.asarray(inputs)), self.beam_size, axis=0)
        if not self.decode_cache:
            return self._beam_search(self._uncached_top_k(params, encoded, flat_inputs),
                                     inputs.shape[0])
        state = {"cache": models_jax.init_cache(self.cfg, flat_inputs.shape[0],
                                                self.max_predict_length, inputs.shape[1])}

        def next_top_k(prefix: np.ndarray, index: int, k: int,
                       parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # The decoder input at ``index`` is the token generated at index - 1.
            token = prefix[:, index - 1] if index else np.zeros(prefix.shape[0], np.int32)
            state["cache"], (values, ids) = self._cached_step(
                params, state["cache"], encoded, flat_inputs, jnp.asarray(token, jnp.int32),
                jnp.int32(index), jnp.asarray(parents, jnp.int32), k)
            return np.asarray(values), np.asarray(ids)

        return self._beam_search(next_top_k, inputs.shape[0])

    def _uncached_top_k(self, params: Any, encoded: Any, flat_inputs: Any) -> Any:
        """The decoder re-run over the whole prefix at every step (``decode_cache=False``)."""
        def next_top_k(prefix: np.ndarray, index: int, k: int,
                       parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            del parents  # nothing cached to reorder
            values, ids = self._next_top_k(params, encoded, flat_inputs, jnp.asarray(prefix),
                                           jnp.int32(index), k)
            return np.asarray(values), np.asarray(ids)
        return next_top_k
