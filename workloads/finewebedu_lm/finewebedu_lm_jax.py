"""finewebedu_lm in JAX/Flax.

Params are the Flax ``variables['params']`` tree (float32, replicated over
the local devices); there is no model state. ``model_fn`` casts the
parameters to the compute dtype (bfloat16) for the forward pass and
returns bfloat16 logits, as the reference's mixed-precision policy does;
``loss_fn`` upcasts the logits to float32 before the softmax.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import sharding_jax
from algoperf_ray.workloads.finewebedu_lm import models_jax
from algoperf_ray.workloads.finewebedu_lm.workload import BaseFinewebeduLmWorkload


def token_cross_entropy(logits: Any, targets: Any, weights: Any | None,
                        label_smoothing: float) -> dict[str, Any]:
    """Per-token CE (float32) with the reference's label-smoothing rule, masked by weights.

    Smoothed CE = -(1 - a) * log p[target] - (a / vocab) * sum_v log p[v].
    """
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    target_lp = jnp.take_along_axis(log_probs, targets[..., None].astype(jnp.int32),
                                    axis=-1)[..., 0]
    per_token = -((1.0 - label_smoothing) * target_lp
                  + label_smoothing / logits.shape[-1] * log_probs.sum(axis=-1))
    if weights is None:
        weights = jnp.ones(targets.shape, jnp.float32)
    per_token = jnp.where(weights > 0, per_token * weights, 0.0)
    return {"summed": per_token.sum(), "n_valid_examples": weights.sum(),
            "per_example": per_token}


class FinewebeduLmJaxWorkload(BaseFinewebeduLmWorkload):
    """The reference decoder-only LM on FineWeb-Edu (perplexity)."""

    framework = "jax"

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, None]:
        del aux_dropout_rate
        if dropout_rate is not None:
            self._dropout_rate = dropout_rate
        self._model = models_jax.TransformerDo(self.cfg)
        params_rng, _ = jax.random.split(jnp.asarray(rng, dtype=jnp.uint32))
        fake = jnp.ones((1, self.cfg.seq_len), jnp.int32)
        params = jax.jit(self._model.init)({"params": params_rng}, fake)["params"]
        self._param_shapes = param_utils.jax_param_shapes(params)
        self._param_types = param_utils.jax_param_types(self._param_shapes)
        return sharding_jax.replicate(params), None

    def is_output_params(self, param_key: Any) -> bool:
        # Tied embeddings: the embedding matrix is also the output projection.
        return param_key in ("embed", "embedding", "embed/embedding")

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None
                 ) -> tuple[Any, None]:
        del model_state, update_batch_norm
        train = mode == spec.ForwardPassMode.TRAIN
        rate = self._dropout_rate if dropout_rate is None else dropout_rate
        compute = jnp.dtype(self.cfg.compute_dtype)
        logits = self._model.apply(
            {"params": models_jax.cast_floats(params, compute)},
            augmented_and_preprocessed_input_batch["inputs"],
            dropout_rate=rate, deterministic=not train,
            rngs={"dropout": jnp.asarray(rng, dtype=jnp.uint32)} if train else None)
        return logits, None

    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any | None = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        return token_cross_entropy(logits_batch, label_batch, mask_batch, label_smoothing)

    def _eval_metrics(self, params: Any, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        logits, _ = self.model_fn(params, batch, model_state, spec.ForwardPassMode.EVAL, rng,
                                  False)
        out = token_cross_entropy(logits, batch["targets"], batch["weights"], 0.0)
        return {"loss": out["summed"], "denominator": out["n_valid_examples"]}
