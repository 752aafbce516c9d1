"""Benchmark facts for the cifar family (current AlgoPerf version, v0.6)."""

from algoperf_ray.meta import WorkloadMeta
from algoperf_ray.spec import LossType

WORKLOADS = [
    WorkloadMeta(
        name="cifar",
        family="cifar",
        target_metric_name="accuracy",
        validation_target=0.85,
        test_target=0.85,
        max_runtime_sec=3600,
        eval_period_sec=600,
        step_hint=4883,
        loss_type=LossType.SOFTMAX_CROSS_ENTROPY,
        num_train_examples=45000,
        num_eval_train_examples=10000,
        num_validation_examples=5000,
        num_test_examples=10000,
        eval_batch_size=10000,
    ),
]
