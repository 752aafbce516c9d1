"""Benchmark facts for the wmt family (current AlgoPerf version, v0.6)."""

from algoperf_ray.meta import WorkloadMeta
from algoperf_ray.spec import LossType

WORKLOADS = [
    WorkloadMeta(
        name="wmt",
        family="wmt",
        target_metric_name="bleu",
        validation_target=30.8491,
        test_target=30.7219,
        max_runtime_sec=43336,
        eval_period_sec=840,
        step_hint=120000,
        loss_type=LossType.SOFTMAX_CROSS_ENTROPY,
        num_train_examples=5906184,
        num_eval_train_examples=3000,
        num_validation_examples=3000,
        num_test_examples=3003,
        eval_batch_size=128,
    ),
]
