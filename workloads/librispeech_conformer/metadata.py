"""Benchmark facts for the librispeech_conformer family (current AlgoPerf version, v0.6).

Conformer (4 blocks, width 512, 8 heads, CTC over a 1024-piece SentencePiece
vocabulary) on LibriSpeech 960 h, scored by word error rate. Models take raw
16 kHz waveforms padded to 320000 samples; transcripts are padded to 256
tokens. Variants change one model option (``model_kwargs``) and the targets.
"""

from dataclasses import replace

from algoperf_ray.benchmark.meta import BatchField, WorkloadMeta
from algoperf_ray.spec import LossType

MAX_AUDIO_LENGTH = 320000
MAX_TARGET_LENGTH = 256
VOCAB_SIZE = 1024

BATCH_FIELDS = {
    "inputs": BatchField((MAX_AUDIO_LENGTH,), "float32"),
    "input_paddings": BatchField((MAX_AUDIO_LENGTH,), "float32"),
    "targets": BatchField((MAX_TARGET_LENGTH,), "int32", high=VOCAB_SIZE),
    "target_paddings": BatchField((MAX_TARGET_LENGTH,), "float32"),
}

_BASE = WorkloadMeta(
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
    # The reference rounds num_validation_examples up to a multiple of the eval
    # batch size: ceil(5348 / 256) * 256.
    num_eval_train_examples=5376,
    num_validation_examples=5348,
    num_test_examples=2472,
    eval_batch_size=256,
    jax_class="algoperf_ray.workloads.librispeech_conformer.librispeech_conformer_jax:"
              "LibrispeechConformerJaxWorkload",
    torch_class="algoperf_ray.workloads.librispeech_conformer.librispeech_conformer_torch:"
                "LibrispeechConformerTorchWorkload",
    batch_fields=BATCH_FIELDS,
    num_params=32_321_792,  # same in both frameworks
    model_kwargs={"attention_temperature": 1.0, "use_post_layer_norm": True,
                  "activation_function_name": "swish"},
    description="Conformer CTC speech recognition on LibriSpeech, scored by WER.",
)


def _variant(name: str, val: float, test: float, num_params: int, **model_kwargs) -> WorkloadMeta:
    return replace(_BASE, name=name, base=_BASE.name, validation_target=val, test_target=test,
                   num_params=num_params, model_kwargs={**_BASE.model_kwargs, **model_kwargs},
                   description=f"librispeech_conformer variant: {model_kwargs}")


WORKLOADS = [
    _BASE,
    _variant("librispeech_conformer_attention_temperature", 0.109977, 0.068065, 32_321_792,
             attention_temperature=1.6),
    # No post-block LayerNorm: 4 blocks x (scale + bias) x 512 fewer parameters.
    _variant("librispeech_conformer_layernorm", 0.09731, 0.05996, 32_317_696,
             use_post_layer_norm=False),
    _variant("librispeech_conformer_gelu", 0.094114, 0.056629, 32_321_792,
             activation_function_name="gelu"),
]

# CPU-sized models for tests and scripts/bench_workloads.py: 2 s of audio
# (50 encoder steps), 24 target tokens, width 32, 2 blocks, 64 output pieces.
REDUCED_SIZE_KWARGS = {
    w.name: {"encoder_dim": 32, "num_attention_heads": 4, "num_encoder_layers": 2,
             "vocab_size": 64, "max_audio_length": 32000, "max_target_length": 24,
             "max_eval_examples": 8}
    for w in WORKLOADS
}
