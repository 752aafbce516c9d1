"""Benchmark facts for the fastmri family (current AlgoPerf version, v0.6)."""

from algoperf_ray.meta import WorkloadMeta
from algoperf_ray.spec import LossType

WORKLOADS = [
    WorkloadMeta(
        name="fastmri",
        family="fastmri",
        target_metric_name="ssim",
        validation_target=0.723653,
        test_target=0.740633,
        max_runtime_sec=4430,
        eval_period_sec=80,
        step_hint=18094,
        loss_type=LossType.MEAN_ABSOLUTE_ERROR,
        num_train_examples=34742,
        num_eval_train_examples=3474,
        num_validation_examples=3554,
        num_test_examples=3581,
        eval_batch_size=256,
    ),
]
