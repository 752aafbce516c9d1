"""librispeech_deepspeech in JAX: the Flax DeepSpeech model behind the AlgoPerf API.

Params are the Flax ``params`` dict and the model state is ``{"batch_stats":
...}`` (masked batch norms; empty with LayerNorm everywhere), both replicated.
"""

from __future__ import annotations

from typing import Any

from algoperf_ray import spec
from algoperf_ray.workloads import _librispeech_common_leaf_jax as leaf
from algoperf_ray.workloads.librispeech_deepspeech import models_jax
from algoperf_ray.workloads.librispeech_deepspeech.workload import LibrispeechDeepspeechWorkload


class LibrispeechDeepspeechJaxWorkload(LibrispeechDeepspeechWorkload):
    """All four librispeech_deepspeech workloads in JAX."""

    framework = "jax"

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, Any]:
        del aux_dropout_rate  # one rate for input and FF dropout (reference)
        if dropout_rate is not None:
            self._dropout_rate = dropout_rate
        self._model = models_jax.Deepspeech(models_jax.DeepspeechConfig(**self.model_kwargs))
        return leaf.init_variables(self, self._model, rng)

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None
                 ) -> tuple[Any, Any]:
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
        del label_smoothing  # CTC has none (reference)
        return leaf.ctc_loss(self, label_batch, logits_batch, mask_batch)

    def _eval_outputs(self, params: Any, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        (logits, paddings), _ = self.model_fn(params, batch, model_state,
                                              spec.ForwardPassMode.EVAL, rng, False)
        return leaf.eval_outputs(self, logits, paddings, batch)
