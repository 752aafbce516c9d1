"""Benchmark facts for the mnist family (current AlgoPerf version, v0.6)."""

from algoperf_ray.meta import WorkloadMeta
from algoperf_ray.spec import LossType

WORKLOADS = [
    WorkloadMeta(
        name="mnist",
        family="mnist",
        target_metric_name="accuracy",
        validation_target=0.97,
        test_target=0.97,
        max_runtime_sec=60,
        eval_period_sec=10,
        step_hint=7813,
        loss_type=LossType.SOFTMAX_CROSS_ENTROPY,
        num_train_examples=50000,
        num_eval_train_examples=10000,
        num_validation_examples=10000,
        num_test_examples=10000,
        eval_batch_size=10000,
    ),
]
