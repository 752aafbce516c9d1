"""Framework-neutral parts of the baselines: batch sizes, hparams, schedules.

Schedules take the array namespace ``xp`` (``numpy`` for PyTorch's
``LambdaLR``, ``jax.numpy`` inside optax), so the JAX and PyTorch baselines
follow the same learning-rate curve by construction.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

# Global batch sizes of the reference baselines; dev workloads sized for CPU.
BATCH_SIZES: dict[str, int] = {
    "criteo1tb": 262_144, "fastmri": 32, "imagenet_resnet": 1024, "imagenet_vit": 1024,
    "librispeech_conformer": 256, "librispeech_deepspeech": 256, "ogbg": 512, "wmt": 128, "finewebedu_lm": 64,
    "mnist": 16, "cifar": 128, "digits": 64,
    # Variants with their own size in the reference baselines; others use their base's.
    "imagenet_resnet_silu": 512, "imagenet_resnet_gelu": 512,
}


def get_batch_size(workload_name: str) -> int:
    """Global batch size; variants (``imagenet_resnet_silu``) use their base's."""
    known = [n for n in BATCH_SIZES if workload_name == n or workload_name.startswith(n + "_")]
    if not known:
        raise ValueError(f"no batch size for workload {workload_name!r}; known: "
                         f"{', '.join(sorted(BATCH_SIZES))}.")
    return BATCH_SIZES[max(known, key=len)]


def data_selection(workload: Any, input_queue: Iterator[dict[str, Any]], optimizer_state: Any,
                   current_param_container: Any, model_state: Any, hyperparameters: Any,
                   global_step: int, rng: Any) -> dict[str, Any]:
    """Take the next batch of the pre-shuffled, repeating input queue."""
    return next(input_queue)


def resolve_hparams(hyperparameters: Any, fixed_point: Mapping[str, Any]) -> dict[str, Any]:
    """The fixed point overridden by the given hyperparameters (None: self-tuning)."""
    out = dict(fixed_point)
    if hyperparameters is None:
        return out
    if hasattr(hyperparameters, "_asdict"):
        out.update(hyperparameters._asdict())
    elif isinstance(hyperparameters, Mapping):
        out.update(hyperparameters)
    else:
        out.update(vars(hyperparameters))
    return out


def warmup_cosine(step: Any, warmup_steps: int, total_steps: int, xp: Any) -> Any:
    """LR factor: linear 0 -> 1 over warmup, then cosine to 0 at ``total_steps``, then 0."""
    step = xp.asarray(step, dtype=xp.float32)
    warm = step / max(warmup_steps, 1)
    progress = xp.clip((step - warmup_steps) / max(total_steps - warmup_steps, 1), 0.0, 1.0)
    cosine = 0.5 * (1.0 + xp.cos(math.pi * progress))
    return xp.where(step < warmup_steps, warm, cosine)


def warmup_linear_decay(step: Any, warmup_steps: int, decay_steps: int, end_factor: float,
                        xp: Any) -> Any:
    """LR factor: linear warmup, linear decay to ``end_factor`` at ``decay_steps``, then flat."""
    step = xp.asarray(step, dtype=xp.float32)
    warm = step / max(warmup_steps, 1)
    progress = xp.clip((step - warmup_steps) / max(decay_steps - warmup_steps, 1), 0.0, 1.0)
    decay = 1.0 + (end_factor - 1.0) * progress
    return xp.where(step < warmup_steps, warm, decay)


def schedule_fn(hp: Mapping[str, Any], step_hint: int, xp: Any) -> Any:
    """The LR factor schedule a baseline's hyperparameters ask for.

    With ``decay_steps_factor`` (SGD-style baselines): warmup + linear decay to
    ``end_factor``; otherwise warmup + cosine decay over ``step_hint`` steps.
    """
    warmup = int(hp.get("warmup_factor", 0.0) * step_hint)
    if "decay_steps_factor" in hp:
        decay_steps = int(hp["decay_steps_factor"] * step_hint)
        end = float(hp.get("end_factor", 0.0))
        return lambda step: warmup_linear_decay(step, warmup, decay_steps, end, xp)
    return lambda step: warmup_cosine(step, warmup, step_hint, xp)


# Self-tuning fixed points (used when hyperparameters is None), per baseline.
# nadamw: the AlgoPerf NAdamW self-tuning baseline's point.
FIXED_POINTS: dict[str, dict[str, Any]] = {
    "nadamw": {"learning_rate": 0.0017486387539278373, "one_minus_beta1": 0.06733926164,
               "beta2": 0.9955159689799007, "weight_decay": 0.08121616522670176,
               "warmup_factor": 0.02, "dropout_rate": 0.1, "label_smoothing": 0.0},
    "adamw": {"learning_rate": 0.002, "one_minus_beta1": 0.1, "beta2": 0.999,
              "weight_decay": 0.05, "warmup_factor": 0.05, "dropout_rate": 0.0,
              "label_smoothing": 0.0},
    "sgd_momentum": {"learning_rate": 0.1, "one_minus_beta1": 0.1, "weight_decay": 1e-5,
                     "warmup_factor": 0.05, "decay_steps_factor": 0.9, "end_factor": 0.01,
                     "dropout_rate": 0.0, "label_smoothing": 0.0},
    "nesterov": {"learning_rate": 0.1, "one_minus_beta1": 0.1, "weight_decay": 1e-5,
                 "warmup_factor": 0.05, "decay_steps_factor": 0.9, "end_factor": 0.01,
                 "dropout_rate": 0.0, "label_smoothing": 0.0},
}
