"""Conformer on tiny LibriSpeech in the real stored format (written by the setup script).

The pipeline returns the stored audio and tokens, padded as the reference
pads them; one set of weights gives the same eval (CTC loss, WER) in both
frameworks; the NadamW baseline trains every workload a few steps.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile

from algoperf_ray.workloads import _librispeech_common_data as data
from algoperf_ray.workloads.librispeech_conformer import convert
from algoperf_ray.workloads.librispeech_conformer.metadata import REDUCED_SIZE_KWARGS

_spec = importlib.util.spec_from_file_location(
    "librispeech_real_format_check", Path(__file__).parent / "real_format_check.py")
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)


def test_eval_batches_hold_the_flac_audio_and_transcripts(librispeech_data, librispeech_raw):
    raw, _ = librispeech_raw
    tok = data.Tokenizer(str(librispeech_data / data.TOKENIZER_FILENAME))
    batches = list(data.librispeech_batches(str(librispeech_data), "validation", 0, 4,
                                            train=False, max_audio=32000, max_target=24))
    assert [b["weights"].tolist() for b in batches] == [[1, 1, 1, 1], [1, 1, 0, 0]]
    ids = data.split_ids(str(librispeech_data), "validation")
    assert len(ids) == 6 and ids[0].startswith("dev-clean/")  # the 2 too-long ones dropped
    rows = [(b, i) for b in batches for i in range(4) if b["weights"][i] > 0]
    for (batch, i), example_id in zip(rows, ids, strict=True):
        subset, utt = example_id.split("/")
        spk, chap, _ = utt.split("-")
        folder = raw / "LibriSpeech" / subset / spk / chap
        audio = soundfile.read(folder / f"{utt}.flac", dtype="int16")[0]
        n = len(audio)
        assert np.array_equal(batch["inputs"][i, :n], audio.astype(np.float32))
        assert batch["input_paddings"][i, :n].sum() == 0
        assert batch["input_paddings"][i, n:].min() == 1
        text = dict(line.split(" ", 1) for line in
                    (folder / f"{spk}-{chap}.trans.txt").read_text().splitlines())[utt]
        valid = batch["targets"][i][batch["target_paddings"][i] == 0]
        assert valid[-1] == data.EOS_ID and tok.decode(valid) == text


def test_train_batches_reshuffle_every_epoch(librispeech_data):
    it = data.librispeech_batches(str(librispeech_data), "train", 7, 4, train=True,
                                  max_audio=32000, max_target=24)
    epochs = [[tuple(b["inputs"][:, 0]) for b in (next(it) for _ in range(3))]
              for _ in range(2)]
    assert "weights" not in next(it)
    assert sorted(sum(epochs[0], ())) == sorted(sum(epochs[1], ()))  # all 12, each epoch
    assert epochs[0] != epochs[1]


def _to_torch(params, batch_stats, model_kwargs):
    return convert.flax_to_torch_state(params, batch_stats, model_kwargs["num_encoder_layers"],
                                       model_kwargs["use_post_layer_norm"])


@pytest.mark.parametrize("name", ["librispeech_conformer", "librispeech_conformer_gelu"])
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
