"""Benchmark facts for the criteo1tb family (current AlgoPerf version, v0.6).

Numbers follow the reference ``algoperf/workloads/criteo1tb`` workloads:
the validation split is day 23's shards 19..35 (83,274,637 clicks) and the
test split its shards 0..18 (19 x 5M = 95,000,000). ``num_eval_train_examples``
is the validation size rounded up to whole eval batches, as in the reference,
so the eval-train pass needs no partial batch. The reference uses different
eval batch sizes per framework (JAX 131,072, PyTorch 8,192); the eval batch
size does not change any metric, so both frameworks here use the JAX one.

``model_kwargs`` are the variant switches of the model; constructor keyword
arguments (``vocab_size=...``) override them for small CPU-sized models.
"""

import math

from algoperf_ray.benchmark.meta import BatchField, WorkloadMeta
from algoperf_ray.spec import LossType

NUM_DENSE_FEATURES = 13
NUM_SPARSE_FEATURES = 26
VOCAB_SIZE = 32 * 128 * 1024  # 4,194,304 rows in the single unified embedding table

_EVAL_BATCH_SIZE = 131_072
_NUM_VALIDATION = 83_274_637

# The model configuration every variant starts from (reference DLRMsmall).
BASE_MODEL_KWARGS = {
    "vocab_size": VOCAB_SIZE,
    "mlp_bottom_dims": (512, 256, 128),
    "mlp_top_dims": (1024, 1024, 512, 256, 1),
    "embed_dim": 128,
    "use_layer_norm": False,
    "use_resnet": False,
    "embedding_init_multiplier": None,
}

_BATCH_FIELDS = {
    # 13 log-transformed dense features then 26 hashed categorical ids, all
    # float32 as the reference pipeline emits them (the model casts ids back).
    "inputs": BatchField((NUM_DENSE_FEATURES + NUM_SPARSE_FEATURES,), "float32"),
    "targets": BatchField((), "float32"),
}


# Reference parameter counts (embedding rows x 128 + MLPs [+ LayerNorms]):
# DLRMsmall = 4,194,304 * 128 + 2,396,545 MLP weights; LayerNorm adds 7,680;
# the ResNet variant's MLPs hold 1,250,561.
_PARAMS_SMALL = 539_267_457
_PARAMS_LAYERNORM = 539_275_137
_PARAMS_RESNET = 538_121_473
_PARAMS_TEST = 10_785_153  # DLRMsmall with a 65,536-row table


def _meta(name: str, val: float, test: float, model_kwargs: dict, num_params: int,
          base: str | None, description: str) -> WorkloadMeta:
    return WorkloadMeta(
        name=name,
        family="criteo1tb",
        target_metric_name="loss",
        validation_target=val,
        test_target=test,
        max_runtime_sec=7703,
        eval_period_sec=120,
        step_hint=10666,
        loss_type=LossType.SIGMOID_CROSS_ENTROPY,
        num_train_examples=4_195_197_692,
        num_eval_train_examples=math.ceil(_NUM_VALIDATION / _EVAL_BATCH_SIZE) * _EVAL_BATCH_SIZE,
        num_validation_examples=_NUM_VALIDATION,
        num_test_examples=95_000_000,
        eval_batch_size=_EVAL_BATCH_SIZE,
        jax_class="algoperf_ray.workloads.criteo1tb.criteo1tb_jax:Criteo1TbJaxWorkload",
        torch_class="algoperf_ray.workloads.criteo1tb.criteo1tb_torch:Criteo1TbTorchWorkload",
        base=base,
        batch_fields=_BATCH_FIELDS,
        num_params=num_params,
        model_kwargs=model_kwargs,
        description=description,
    )


_RESNET = {"use_resnet": True, "mlp_bottom_dims": (256, 256, 256),
           "mlp_top_dims": (256, 256, 256, 256, 1)}

WORKLOADS = [
    _meta("criteo1tb", 0.123735, 0.126041, {}, _PARAMS_SMALL, None,
          "Criteo 1TB click-through prediction with DLRMsmall."),
    _meta("criteo1tb_layernorm", 0.123757, 0.126152, {"use_layer_norm": True},
          _PARAMS_LAYERNORM, "criteo1tb",
          "DLRMsmall with LayerNorm after every hidden layer and on the embeddings."),
    _meta("criteo1tb_embed_init", 0.129657, 0.131967, {"embedding_init_multiplier": 1.0},
          _PARAMS_SMALL, "criteo1tb",
          "DLRMsmall with the embedding table drawn from U[0, 1) (no 1/sqrt(vocab) scale)."),
    _meta("criteo1tb_resnet", 0.12415, 0.12648, _RESNET, _PARAMS_RESNET,
          "criteo1tb",
          "Residual MLP DLRM (no dot interaction), 256-wide bottom and top MLPs."),
    _meta("criteo1tb_test", 0.123735, 0.126041, {"vocab_size": 32 * 128 * 16},
          _PARAMS_TEST, None,
          "Reference test workload: DLRMsmall with a 65,536-row table (not scored)."),
]

# Small CPU-sized models for `algoperf-ray run --reduced`, tests and
# scripts/bench_workloads.py: the same layer structure (so parameter names and
# the output layer stay those of the full model) at 1/8 width, a 8,192-row
# table (divisible by 4, the PyTorch row chunks) and 8,192 examples per eval
# split instead of ~90 M.
_SMALL_DLRM = {"vocab_size": 8192, "embed_dim": 16, "mlp_bottom_dims": (64, 32, 16),
               "mlp_top_dims": (128, 128, 64, 32, 1), "max_eval_examples": 8192}
_SMALL_RESNET = {"vocab_size": 8192, "embed_dim": 16, "mlp_bottom_dims": (32, 32, 32),
                 "mlp_top_dims": (32, 32, 32, 32, 1), "max_eval_examples": 8192}
REDUCED_SIZE_KWARGS = {m.name: dict(_SMALL_RESNET if m.model_kwargs.get("use_resnet")
                                    else _SMALL_DLRM) for m in WORKLOADS}
