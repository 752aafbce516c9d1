"""scripts/setup_librispeech.py on tiny FLAC files written in the openslr layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from .conftest import UTTERANCES, VOCAB_SIZE, load_setup_module


@pytest.fixture(scope="module")
def setup_mod():
    return load_setup_module(Path(__file__).resolve().parents[2])


@pytest.fixture
def prepared(librispeech_data: Path, tmp_path: Path) -> Path:
    """A private copy of the session dataset that a test may damage."""
    return Path(shutil.copytree(librispeech_data, tmp_path / "data"))


def test_output_is_the_reference_format(setup_mod, librispeech_raw, prepared: Path):
    _, counts = librispeech_raw
    setup_mod.validate(prepared, expected=counts, vocab_size=VOCAB_SIZE)
    for split, kept in UTTERANCES.items():
        lines = (prepared / f"{split}.csv").read_text().splitlines()
        assert lines[0] == ",id" and len(lines) == kept + 1
        stats = json.loads((prepared / f".{split}.stats.json").read_text())
        assert stats == {"kept": kept, "dropped": counts[split] - kept}
    audio = np.load(next((prepared / "test-clean").glob("*_audio.npy")))
    assert audio.dtype == np.int64 and audio.ndim == 1 and np.abs(audio).max() > 1000


def test_real_counts_reject_tiny_dataset(setup_mod, prepared: Path):
    with pytest.raises(setup_mod.DatasetError,
                       match="'train-clean-100': 4 utterances .* expected 28539"):
        setup_mod.validate(prepared)


def test_missing_array_is_reported(setup_mod, librispeech_raw, prepared: Path):
    next((prepared / "dev-other").glob("*_targets.npy")).unlink()
    with pytest.raises(setup_mod.DatasetError, match="'dev-other': .*_targets.npy is missing"):
        setup_mod.validate(prepared, expected=librispeech_raw[1])


def test_rerun_resumes_a_half_finished_split(setup_mod, librispeech_raw, prepared: Path):
    raw, counts = librispeech_raw
    victim = next((prepared / "dev-clean").glob("*_audio.npy"))
    kept_file = next((prepared / "test-clean").glob("*_audio.npy"))
    stamp = kept_file.stat().st_mtime_ns
    victim.unlink()
    (prepared / "dev-clean.csv").unlink()  # dev-clean no longer finished
    assert setup_mod.main(["--data_dir", str(prepared), "--raw_dir", str(raw),
                           "--no_count_check", "--workers", "1"]) == 0
    assert victim.exists() and kept_file.stat().st_mtime_ns == stamp
    setup_mod.validate(prepared, expected=counts, vocab_size=VOCAB_SIZE)
