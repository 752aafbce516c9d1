"""Benchmark facts for the librispeech_conformer family (current AlgoPerf version, v0.6)."""

from algoperf_ray.benchmark.meta import WorkloadMeta
from algoperf_ray.spec import LossType

WORKLOADS = [
    WorkloadMeta(
        name="librispeech_conformer",
        family="librispeech_conformer",
        target_metric_name="wer",
        validation_target=0.085884,
        test_target=0.052981,
        max_runtime_sec=58015,
        eval_period_sec=1440,
        step_hint=76000,
        loss_type=LossType.CTC_LOSS,
        num_train_examples=263840,
        num_eval_train_examples=512,
        num_validation_examples=5348,
        num_test_examples=2472,
        eval_batch_size=256,
    ),
]
