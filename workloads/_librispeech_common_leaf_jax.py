"""JAX pieces of the LibriSpeech workload leaves, shared by Conformer and DeepSpeech.

Plain functions (no mixin class) so each family keeps a linear class chain:
model initialisation, the CTC loss (optax) and the per-batch eval outputs.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from algoperf_ray.compat import param_utils
from algoperf_ray.workload import sharding_jax


def init_variables(workload: Any, model: nn.Module, rng: Any) -> tuple[Any, Any]:
    """(replicated params, replicated model_state) of ``model``; sets param shapes/types.

    Traceable under ``jax.eval_shape`` (``describe`` counts full-size params
    without allocating them).
    """
    fake = jnp.zeros((2, workload.max_audio_length), jnp.float32)
    params_rng, _ = jax.random.split(jnp.asarray(rng, dtype=jnp.uint32))
    variables = jax.jit(functools.partial(model.init, train=False))(
        {"params": params_rng}, fake, fake)
    params = variables["params"]
    model_state = {"batch_stats": variables["batch_stats"]} if "batch_stats" in variables else {}
    workload._param_shapes = param_utils.jax_param_shapes(params)
    workload._param_types = param_utils.jax_param_types(workload._param_shapes)
    return sharding_jax.replicate(params), sharding_jax.replicate(model_state)


def ctc_loss(workload: Any, label_batch: Any, logits_batch: Any, mask_batch: Any = None
             ) -> dict[str, Any]:
    """Per-utterance CTC (optax, blank 0); ``n_valid_examples`` counts target tokens.

    Both references divide the summed utterance losses by the number of valid
    target tokens; a ``mask_batch`` [B] zeroes whole utterances (losses and tokens).
    """
    targets, target_paddings = workload._label_parts(label_batch)
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


def eval_outputs(workload: Any, logits: Any, logit_paddings: Any, batch: Any) -> dict[str, Any]:
    """Per-row argmax frames, logit paddings and CTC loss (traced under jit)."""
    losses = ctc_loss(workload, (batch["targets"], batch["target_paddings"]),
                      (logits, logit_paddings))["per_example"]
    return {"frames": jnp.argmax(logits, axis=-1).astype(jnp.int32),
            "logit_paddings": logit_paddings, "per_example_loss": losses}
