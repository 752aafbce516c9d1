"""Benchmark facts for the wmt family (current AlgoPerf version, v0.6).

WMT17 German->English translation with the reference encoder-decoder
Transformer (6+6 layers, width 1024, 16 heads, MLP 1024, shared 32k
SentencePiece vocabulary, sinusoidal positions). Train/eval_train read
``wmt17_translate/de-en``; validation and test read ``wmt14_translate/de-en``
(newstest2013 and newstest2014), as the reference input pipeline does.
Variants only change model options (``model_kwargs``) and targets.
"""

from dataclasses import replace

from algoperf_ray.benchmark.meta import BatchField, WorkloadMeta
from algoperf_ray.spec import LossType

SEQ_LEN = 256
VOCAB_SIZE = 32000

# A training batch is packed: several sentence pairs per row, told apart by
# ``*_segmentation`` (1, 2, ...; 0 = padding) with per-pair ``*_position``.
_TOKENS = BatchField((SEQ_LEN,), "int32", high=VOCAB_SIZE)
_POSITIONS = BatchField((SEQ_LEN,), "int32", high=SEQ_LEN)
_SEGMENTS = BatchField((SEQ_LEN,), "int32", high=8)
BATCH_FIELDS = {
    "inputs": _TOKENS, "targets": _TOKENS,
    "inputs_position": _POSITIONS, "targets_position": _POSITIONS,
    "inputs_segmentation": _SEGMENTS, "targets_segmentation": _SEGMENTS,
    "weights": BatchField((SEQ_LEN,), "float32"),
}

_BASE = WorkloadMeta(
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
    # The reference rounds num_validation_examples up to a multiple of the
    # eval batch size (ceil(3000 / 128) * 128) for the train-subset eval.
    num_eval_train_examples=3072,
    num_validation_examples=3000,
    num_test_examples=3003,
    eval_batch_size=128,
    jax_class="algoperf_ray.workloads.wmt.wmt_jax:WmtJaxWorkload",
    torch_class="algoperf_ray.workloads.wmt.wmt_torch:WmtTorchWorkload",
    batch_fields=BATCH_FIELDS,
    num_params=133_521_408,
    model_kwargs={"pre_ln": True, "attention_temp": 1.0, "activation": "relu", "glu": False},
    description="Transformer-big-ish encoder-decoder on WMT17 de-en, scored by BLEU.",
)


def _variant(name: str, val: float, test: float, num_params: int, **model_kwargs) -> WorkloadMeta:
    return replace(_BASE, name=name, base="wmt", validation_target=val, test_target=test,
                   num_params=num_params, model_kwargs={**_BASE.model_kwargs, **model_kwargs},
                   description=f"wmt variant: {model_kwargs}")


WORKLOADS = [
    _BASE,
    # Post-LN drops the encoder/decoder final LayerNorms (2 x 2048 params).
    _variant("wmt_post_ln", 30.0779, 29.8982, 133_517_312, pre_ln=False),
    _variant("wmt_attention_temp", 29.3379, 29.4143, 133_521_408, attention_temp=4.0),
    # GLU adds one 1024x1024 (+bias) gate per MLP block (12 blocks).
    _variant("wmt_glu_tanh", 29.5779, 29.0515, 146_116_608, activation="tanh", glu=True),
]

# Small CPU-sized models for tests and scripts/bench_workloads.py: 32-token
# sequences, a 64-piece vocabulary, and eval splits capped at 16 examples
# (beam-search decoding dominates eval time on CPU).
REDUCED_SIZE_KWARGS = {
    w.name: {"vocab_size": 64, "emb_dim": 32, "num_heads": 4, "num_layers": 2,
             "qkv_dim": 32, "mlp_dim": 64, "seq_len": 32, "max_eval_examples": 16}
    for w in WORKLOADS
}
