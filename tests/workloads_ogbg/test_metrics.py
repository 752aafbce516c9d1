"""ogbg eval metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from algoperf_ray.workloads.ogbg import metrics


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def test_map_hand_computed_with_masked_entries() -> None:
    probs = np.array([[0.9, 0.2], [0.8, 0.9], [0.3, 0.6], [0.1, 0.7], [0.95, 0.5]])
    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [0, 1]], np.float32)
    weights = np.ones_like(labels)
    weights[4, 0] = 0  # task 0 ignores the confident false positive in row 4
    weights[1, 1] = 0  # task 1 ignores row 1
    # Task 0 ranking (labelled rows 0-3): 0.9(+) 0.8(-) 0.3(+) 0.1(-): AP = (1 + 2/3) / 2.
    # Task 1 ranking (rows 0,2,3,4): 0.7(-) 0.6(+) 0.5(+) 0.2(-): AP = (1/2 + 2/3) / 2.
    expected = ((1 + 2 / 3) / 2 + (1 / 2 + 2 / 3) / 2) / 2
    got = metrics.mean_average_precision(_logit(probs), labels, weights)
    assert got == pytest.approx(expected, abs=1e-12)


def test_tasks_without_both_classes_are_skipped() -> None:
    probs = np.array([[0.9, 0.3], [0.2, 0.6]])
    labels = np.array([[1, 1], [0, 1]], np.float32)  # task 1 has no negative: undefined
    got = metrics.mean_average_precision(_logit(probs), labels, np.ones_like(labels))
    assert got == pytest.approx(1.0)
    all_pos = np.ones((2, 2), np.float32)
    assert math.isnan(metrics.mean_average_precision(_logit(probs), all_pos, all_pos))


def test_loss_and_accuracy_count_only_weighted_entries() -> None:
    logits = np.array([[2.0, -1.0], [-3.0, 0.5]])
    labels = np.array([[1, 0], [1, 0]], np.float32)
    weights = np.array([[1, 1], [1, 0]], np.float32)
    out = metrics.eval_metrics(logits, labels, weights)

    def bce(x: float, y: float) -> float:
        return -(y * math.log(1 / (1 + math.exp(-x))) + (1 - y) * math.log(1 / (1 + math.exp(x))))

    assert out["loss"] == pytest.approx((bce(2, 1) + bce(-1, 0) + bce(-3, 1)) / 3)
    assert out["accuracy"] == pytest.approx(2 / 3)  # row 1 task 0 is wrong, (1,1) is masked


def test_shape_mismatch_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.eval_metrics(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 2)))
