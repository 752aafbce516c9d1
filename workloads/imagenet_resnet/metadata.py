"""Benchmark facts for the imagenet_resnet family (current AlgoPerf version, v0.6)."""

from algoperf_ray.meta import WorkloadMeta
from algoperf_ray.spec import LossType

WORKLOADS = [
    WorkloadMeta(
        name="imagenet_resnet",
        family="imagenet_resnet",
        target_metric_name="accuracy",
        validation_target=0.77431,
        test_target=0.6560,
        max_runtime_sec=66159,
        eval_period_sec=510,
        step_hint=195999,
        loss_type=LossType.SOFTMAX_CROSS_ENTROPY,
        num_train_examples=1281167,
        num_eval_train_examples=50000,
        num_validation_examples=50000,
        num_test_examples=10000,
        eval_batch_size=1024,
    ),
]
