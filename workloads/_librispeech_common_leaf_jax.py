"""JAX leaf code of the LibriSpeech families, written once for Conformer and DeepSpeech.

The two JAX leaves differ only in their Flax module, so init, the forward pass
(masked batch-norm state), the CTC loss (optax) and the per-batch eval outputs
live in :class:`JaxLibrispeech`, a mixin the leaf puts before its family class
(``class XJaxWorkload(JaxLibrispeech, XWorkload)``), as the classifier families do.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import sharding_jax


class JaxLibrispeech:
    """The AlgoPerf model API of a LibriSpeech family in JAX; leaves build the module."""

    framework = "jax"

    def build_model(self) -> nn.Module:
        raise NotImplementedError

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, Any]:
        """Replicated params and ``{"batch_stats"}`` state; traceable by ``jax.eval_shape``."""
        del aux_dropout_rate  # one rate for every dropout site (both references)
        if dropout_rate is not None:
            self._dropout_rate = dropout_rate
        self._model = self.build_model()
        fake = jnp.zeros((2, self.max_audio_length), jnp.float32)
        params_rng, _ = jax.random.split(jnp.asarray(rng, dtype=jnp.uint32))
        variables = jax.jit(functools.partial(self._model.init, train=False))(
            {"params": params_rng}, fake, fake)
        params = variables["params"]
        state = {"batch_stats": variables["batch_stats"]} if "batch_stats" in variables else {}
        self._param_shapes = param_utils.jax_param_shapes(params)
        self._param_types = param_utils.jax_param_types(self._param_shapes)
        return sharding_jax.replicate(params), sharding_jax.replicate(state)

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None
                 ) -> tuple[Any, Any]:
        """((logits, logit_paddings), model_state); a traced ``dropout_rate`` is fine."""
        batch = augmented_and_preprocessed_input_batch
        variables = {"params": params, **(model_state or {})}
        if mode == spec.ForwardPassMode.TRAIN:
            out, new_state = self._model.apply(
                variables, batch["inputs"], batch["input_paddings"], train=True,
                update_batch_norm=update_batch_norm, dropout_rate=self._rate(dropout_rate),
                rngs={"dropout": rng}, mutable=["batch_stats"])
            return out, {**(model_state or {}), **new_state}
        out = self._model.apply(variables, batch["inputs"], batch["input_paddings"], train=False)
        return out, model_state

    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        """Per-utterance CTC (optax, blank 0); ``n_valid_examples`` counts target tokens.

        Both references divide the summed utterance losses by the number of valid
        target tokens; a ``mask_batch`` [B] zeroes whole utterances (losses and tokens).
        """
        del label_smoothing  # CTC has none (reference)
        targets, target_paddings = self._label_parts(label_batch)
        if target_paddings is None:
            target_paddings = (targets == 0).astype(jnp.float32)
        if isinstance(logits_batch, (tuple, list)):
            logits, logit_paddings = logits_batch
        else:
            logits, logit_paddings = logits_batch, jnp.zeros(logits_batch.shape[:2], jnp.float32)
        per_example = optax.ctc_loss(logits, logit_paddings, targets.astype(jnp.int32),
                                     target_paddings, blank_id=0)
        tokens = jnp.sum(1.0 - target_paddings, axis=-1)
        if mask_batch is not None:
            per_example = per_example * mask_batch
            tokens = tokens * mask_batch
        return {"summed": per_example.sum(), "n_valid_examples": jnp.maximum(tokens.sum(), 1.0),
                "per_example": per_example}

    def _eval_outputs(self, params: Any, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        """Per-row argmax frames, logit paddings and CTC loss (traced under jit)."""
        (logits, paddings), _ = self.model_fn(params, batch, model_state,
                                              spec.ForwardPassMode.EVAL, rng, False)
        losses = self.loss_fn((batch["targets"], batch["target_paddings"]),
                              (logits, paddings))["per_example"]
        return {"frames": jnp.argmax(logits, axis=-1).astype(jnp.int32),
                "logit_paddings": paddings, "per_example_loss": losses}
