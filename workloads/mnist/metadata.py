"""Benchmark facts for the mnist family (current AlgoPerf version, v0.6)."""

from algoperf_ray.benchmark.meta import BatchField, WorkloadMeta
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
        jax_class="algoperf_ray.workloads.mnist.mnist_jax:MnistJaxWorkload",
        torch_class="algoperf_ray.workloads.mnist.mnist_torch:MnistTorchWorkload",
        batch_fields={"inputs": BatchField((28, 28, 1), "float32"),
                      "targets": BatchField((), "int32", high=10)},
        # Reference MLP: 784*128 + 128 + 128*10 + 10.
        num_params=101_770,
        train_mean=0.1307,
        train_stddev=0.3081,
        description="MNIST (TFDS), reference MLP 784-128(sigmoid)-10.",
    ),
]

# The reference MLP already trains fast on a CPU.
REDUCED_SIZE_KWARGS: dict[str, dict] = {"mnist": {}}
