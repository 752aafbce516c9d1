"""Framework-neutral metric and loss-masking logic, written once.

Losses must be differentiable in each framework, so :func:`masked_loss_dict`
and friends take the array namespace ``xp`` (``jax.numpy`` or ``torch``,
via :mod:`algoperf_ray.xp`). Eval metrics are computed on host numpy arrays
and summed over batches with :func:`sum_metrics`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np


def sum_metrics(batches: Iterable[Mapping[str, float | np.ndarray]]) -> dict[str, float]:
    """Sum per-batch summed metrics into totals (eval aggregation)."""
    totals: dict[str, float] = {}
    for metrics in batches:
        for k, v in metrics.items():
            totals[k] = totals.get(k, 0.0) + float(np.asarray(v, dtype=np.float64).sum())
    return totals


def normalize_by_count(totals: Mapping[str, float], num_examples: float) -> dict[str, float]:
    """Divide summed metrics by the number of evaluated examples."""
    return {k: v / num_examples for k, v in totals.items()}


def masked_sum(values: np.ndarray, mask: np.ndarray | None) -> float:
    if mask is None:
        return float(np.sum(values))
    return float(np.sum(values * mask))


def accuracy_sum(logits: np.ndarray, labels: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Number of correct predictions among valid (mask == 1) examples."""
    correct = (np.argmax(logits, axis=-1) == labels).astype(np.float64)
    return masked_sum(correct, mask)


def softmax_cross_entropy_np(logits: np.ndarray, labels: np.ndarray,
                             label_smoothing: float = 0.0) -> np.ndarray:
    """Per-example softmax cross entropy with optional label smoothing (numpy)."""
    logits = logits.astype(np.float64)
    num_classes = logits.shape[-1]
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    one_hot = np.eye(num_classes)[labels]
    smooth = one_hot * (1.0 - label_smoothing) + label_smoothing / num_classes
    return -(smooth * log_probs).sum(axis=-1)


def sigmoid_cross_entropy_np(logits: np.ndarray, targets: np.ndarray,
                             label_smoothing: float = 0.0) -> np.ndarray:
    """Elementwise, numerically stable sigmoid cross entropy (numpy)."""
    targets = targets * (1.0 - label_smoothing) + 0.5 * label_smoothing
    logits = logits.astype(np.float64)
    return np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))


def masked_loss_dict(per_example, mask, xp) -> dict:
    """AlgoPerf loss dict {'summed','n_valid_examples','per_example'} for any ``xp``.

    ``per_example`` has one loss per example; ``mask`` (or None) marks valid
    ones. Written once for jax.numpy and torch via the ``xp`` shim.
    """
    if mask is not None:
        per_example = xp.where(mask > 0, per_example, xp.zeros_like(per_example))
        n_valid = xp.sum(mask)
    else:
        n_valid = xp.full_like(xp.sum(per_example), per_example.shape[0])
    return {"summed": xp.sum(per_example), "n_valid_examples": n_valid,
            "per_example": per_example}
