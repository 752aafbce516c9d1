"""Benchmark facts for the librispeech_deepspeech family (current AlgoPerf version, v0.6).

DeepSpeech2-style model (conv subsampling, 6 bidirectional LSTM layers, 3
feed-forward layers, width 512, CTC over 1024 SentencePiece pieces) on
LibriSpeech 960 h, scored by word error rate. Same data as the Conformer.

``num_params`` is the JAX count. PyTorch's ``nn.LSTM`` has two bias vectors
per gate where Flax's LSTM cell has one, so the PyTorch model (as the
reference's) has 12,288 more: 18,393,600 (18,392,576 for norm_and_spec_aug).
"""

from dataclasses import replace

from algoperf_ray.benchmark.meta import WorkloadMeta
from algoperf_ray.spec import LossType
from algoperf_ray.workloads.librispeech_conformer.metadata import BATCH_FIELDS

TORCH_EXTRA_LSTM_BIASES = 6 * 2 * 4 * 256  # layers x directions x gates x hidden

_BASE = WorkloadMeta(
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
    num_eval_train_examples=5376,  # ceil(5348 / eval batch) * eval batch, as the reference
    num_validation_examples=5348,
    num_test_examples=2472,
    eval_batch_size=256,
    jax_class="algoperf_ray.workloads.librispeech_deepspeech.librispeech_deepspeech_jax:"
              "LibrispeechDeepspeechJaxWorkload",
    torch_class="algoperf_ray.workloads.librispeech_deepspeech.librispeech_deepspeech_torch:"
                "LibrispeechDeepspeechTorchWorkload",
    batch_fields=BATCH_FIELDS,
    num_params=18_381_312,
    model_kwargs={"use_tanh": False, "enable_residual_connections": True,
                  "enable_decoder_layer_norm": True, "layernorm_everywhere": False,
                  "freq_mask_count": 2, "time_mask_count": 10},
    description="DeepSpeech (conv + BiLSTM) CTC speech recognition on LibriSpeech, by WER.",
)


def _variant(name: str, val: float, test: float, num_params: int, eval_batch_size: int = 256,
             **model_kwargs) -> WorkloadMeta:
    return replace(_BASE, name=name, base=_BASE.name, validation_target=val, test_target=test,
                   num_params=num_params, eval_batch_size=eval_batch_size,
                   model_kwargs={**_BASE.model_kwargs, **model_kwargs},
                   description=f"librispeech_deepspeech variant: {model_kwargs}")


WORKLOADS = [
    _BASE,
    _variant("librispeech_deepspeech_tanh", 0.150883, 0.098613, 18_381_312, use_tanh=True),
    _variant("librispeech_deepspeech_no_resnet", 0.131564, 0.079297, 18_381_312,
             enable_residual_connections=False),
    # LayerNorm instead of every batch norm (no running stats), no decoder
    # LayerNorm, stronger SpecAugment; the reference halves its eval batch.
    _variant("librispeech_deepspeech_norm_and_spec_aug", 0.14342, 0.090976, 18_380_288,
             eval_batch_size=128, enable_decoder_layer_norm=False, layernorm_everywhere=True,
             freq_mask_count=4, time_mask_count=15),
]

# CPU-sized models for tests and scripts/bench_workloads.py: 2 s of audio
# (50 encoder steps), 24 target tokens, width 32, 2 LSTM + 2 FFN layers.
REDUCED_SIZE_KWARGS = {
    w.name: {"encoder_dim": 32, "num_lstm_layers": 2, "num_ffn_layers": 2, "vocab_size": 64,
             "max_audio_length": 32000, "max_target_length": 24, "max_eval_examples": 8}
    for w in WORKLOADS
}
