"""Benchmark facts for the ogbg family (current AlgoPerf version, v0.6)."""

from algoperf_ray.meta import WorkloadMeta
from algoperf_ray.spec import LossType

WORKLOADS = [
    WorkloadMeta(
        name="ogbg",
        family="ogbg",
        target_metric_name="mean_average_precision",
        validation_target=0.28098,
        test_target=0.268729,
        max_runtime_sec=12011,
        eval_period_sec=240,
        step_hint=52000,
        loss_type=LossType.SIGMOID_CROSS_ENTROPY,
        num_train_examples=350343,
        num_eval_train_examples=43793,
        num_validation_examples=43793,
        num_test_examples=43793,
        eval_batch_size=32768,
    ),
]
