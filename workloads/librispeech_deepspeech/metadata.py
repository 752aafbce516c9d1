"""Benchmark facts for the librispeech_deepspeech family (current AlgoPerf version, v0.6)."""

from algoperf_ray.benchmark.meta import WorkloadMeta
from algoperf_ray.spec import LossType

WORKLOADS = [
    WorkloadMeta(
        name="librispeech_deepspeech",
        family="librispeech_deepspeech",
        target_metric_name="wer",
        validation_target=0.119936,
        test_target=0.074143,
        max_runtime_sec=44405,
        eval_period_sec=1440,
        step_hint=38400,
        loss_type=LossType.CTC_LOSS,
        num_train_examples=263840,
        num_eval_train_examples=512,
        num_validation_examples=5348,
        num_test_examples=2472,
        eval_batch_size=256,
    ),
]
