"""ogbg eval metrics over host numpy arrays, written once for both frameworks.

All metrics count (graph, task) entries with ``weights > 0`` only: NaN labels
and padding graphs carry weight 0. Mean average precision follows the
reference: per task, sklearn's ``average_precision_score`` on the labelled
entries, for tasks whose (NaN-zeroed) label column holds both a 0 and a 1;
the mean skips undefined tasks.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import average_precision_score

from algoperf_ray.workload.metrics import sigmoid_cross_entropy_np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # overflow-free logistic


def mean_average_precision(logits: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    """Mean over tasks of average precision on labelled entries (NaN if none defined)."""
    probs = _sigmoid(logits.astype(np.float64))
    labelled = weights > 0
    defined = ((labels == 0).any(axis=0)) & ((labels == 1).any(axis=0))
    aps = np.full(labels.shape[1], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on tasks without a labelled positive
        for task in np.flatnonzero(defined):
            rows = labelled[:, task]
            aps[task] = average_precision_score(labels[rows, task], probs[rows, task])
    if np.isnan(aps).all():
        return float("nan")
    return float(np.nanmean(aps))


def eval_metrics(logits: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """``loss``, ``accuracy`` (sign of logit vs label) and ``mean_average_precision``."""
    if not logits.shape == labels.shape == weights.shape:
        raise ValueError(f"ogbg metrics: shapes differ: logits {logits.shape}, labels "
                         f"{labels.shape}, weights {weights.shape}.")
    mask = (weights > 0).astype(np.float64)
    count = mask.sum()
    if count == 0:
        return {"loss": float("nan"), "accuracy": float("nan"),
                "mean_average_precision": float("nan")}
    losses = sigmoid_cross_entropy_np(logits, labels)
    correct = ((logits > 0) == (labels > 0.5)).astype(np.float64)
    return {"loss": float((losses * mask).sum() / count),
            "accuracy": float((correct * mask).sum() / count),
            "mean_average_precision": mean_average_precision(logits, labels, weights)}
