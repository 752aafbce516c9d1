"""Benchmark facts for the criteo1tb family (current AlgoPerf version, v0.6)."""

from algoperf_ray.meta import WorkloadMeta
from algoperf_ray.spec import LossType

WORKLOADS = [
    WorkloadMeta(
        name="criteo1tb",
        family="criteo1tb",
        target_metric_name="loss",
        validation_target=0.123735,
        test_target=0.126041,
        max_runtime_sec=7703,
        eval_period_sec=120,
        step_hint=10666,
        loss_type=LossType.SIGMOID_CROSS_ENTROPY,
        num_train_examples=4195197692,
        num_eval_train_examples=89137319,
        num_validation_examples=89137318,
        num_test_examples=89274637,
        eval_batch_size=524288,
    ),
]
