"""DeepSpeech on tiny LibriSpeech in the real stored format (written by the setup script).

One set of weights gives the same eval (CTC loss, WER) in both frameworks,
and the NadamW baseline trains every workload a few steps. The pipeline
itself is shared with the Conformer and tested there.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from algoperf_ray.workloads.librispeech_deepspeech import convert
from algoperf_ray.workloads.librispeech_deepspeech.metadata import REDUCED_SIZE_KWARGS

_spec = importlib.util.spec_from_file_location(
    "librispeech_real_format_check",
    Path(__file__).parents[1] / "workloads_librispeech_conformer" / "real_format_check.py")
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)


def _to_torch(params, batch_stats, kw):
    return convert.flax_to_torch_state(params, batch_stats, kw["num_lstm_layers"],
                                       kw["num_ffn_layers"], kw["layernorm_everywhere"],
                                       kw["enable_decoder_layer_norm"])


@pytest.mark.parametrize("name", ["librispeech_deepspeech",
                                  "librispeech_deepspeech_norm_and_spec_aug"])
def test_eval_gives_the_same_wer_in_both_frameworks(librispeech_data, name):
    check.eval_same_in_both_frameworks(name, librispeech_data, REDUCED_SIZE_KWARGS[name],
                                       _to_torch)


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "pytorch"])
@pytest.mark.parametrize("name", list(REDUCED_SIZE_KWARGS))
def test_nadamw_trains_on_real_format(train_few_steps, librispeech_data, name, framework):
    result = train_few_steps(name, framework, librispeech_data, REDUCED_SIZE_KWARGS[name],
                             batch_size=4, steps=2)
    assert result.status == "completed", result.error
    assert result.global_step == 2
    for row in result.eval_rows:
        for split in ("train", "validation", "test"):
            assert math.isfinite(row[f"{split}/ctc_loss"]) and row[f"{split}/ctc_loss"] > 0
            assert row[f"{split}/wer"] > 0.5  # two steps from scratch cannot transcribe
