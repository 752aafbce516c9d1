"""Benchmark facts for the cifar family (current AlgoPerf version, v0.6)."""

from algoperf_ray.benchmark.meta import BatchField, WorkloadMeta
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
        eval_batch_size=1024,
        jax_class="algoperf_ray.workloads.cifar.cifar_jax:CifarJaxWorkload",
        torch_class="algoperf_ray.workloads.cifar.cifar_torch:CifarTorchWorkload",
        batch_fields={"inputs": BatchField((32, 32, 3), "float32"),
                      "targets": BatchField((), "int32", high=10)},
        # Reference ResNet-18 (CIFAR stem: 3x3 conv, no max-pool), 10 classes.
        num_params=11_173_962,
        train_mean=(0.49139968, 0.48215827, 0.44653124),
        train_stddev=(0.24703233, 0.24348505, 0.26158768),
        description="CIFAR-10 (TFDS), reference ResNet-18 with random crop + flip.",
    ),
]

# Same architecture with 8 instead of 64 base filters (~176k params).
REDUCED_SIZE_KWARGS: dict[str, dict] = {"cifar": {"num_filters": 8}}
