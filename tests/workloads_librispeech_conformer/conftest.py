"""Tiny LibriSpeech in the real on-disk layouts, shared by both speech families' tests.

``write_raw_librispeech`` writes the openslr layout (speaker/chapter folders,
FLAC files via soundfile, ``*.trans.txt``); the ``librispeech_data`` session
fixture runs ``scripts/setup_librispeech.py`` on it, giving the reference's
stored format (npy arrays, CSVs, SentencePiece model). The DeepSpeech tests
load this module by path to share it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

WORDS = ["THE", "CAT", "SAT", "ON", "A", "MAT", "AND", "DOG", "RAN", "HOME", "IT", "WAS",
         "LATE", "SHE", "SAID", "NO", "YES", "HE'S", "HERE", "NOW"]
# Kept utterances per split; dev-clean also gets two that the setup must drop.
UTTERANCES = {"train-clean-100": 4, "train-clean-360": 4, "train-other-500": 4,
              "dev-clean": 3, "dev-other": 3, "test-clean": 3}
DROPPED = {"dev-clean": 2}
VOCAB_SIZE = 28


def _tone(gen: np.random.Generator, seconds: float) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000.0
    freqs = gen.uniform(200, 3000, size=3)
    wave = sum(np.sin(2 * np.pi * f * t) for f in freqs) / 3
    return (wave * 8000 + gen.normal(0, 300, t.shape)).clip(-32768, 32767).astype(np.int16)


def write_raw_librispeech(root: Path, seed: int = 0) -> dict[str, int]:
    """LibriSpeech/<split>/<spk>/<chap>/ with FLAC + transcripts; returns expected counts."""
    import soundfile

    gen = np.random.default_rng(seed)
    counts = {}
    for s, split in enumerate(UTTERANCES):
        spk, chap = str(100 + s), str(2000 + s)
        folder = root / "LibriSpeech" / split / spk / chap
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        n_keep, n_drop = UTTERANCES[split], DROPPED.get(split, 0)
        for i in range(n_keep + n_drop):
            utt = f"{spk}-{chap}-{i:04d}"
            text = " ".join(gen.choice(WORDS, size=int(gen.integers(2, 5))))
            if split == "train-clean-100":  # all words (so all characters) reach the tokenizer
                text = " ".join(WORDS[5 * i:5 * i + 5])
            # >= 1 s: short targets stay CTC-feasible in the reduced models' 25+ steps.
            seconds = float(gen.uniform(1.0, 1.9))
            if i == n_keep:  # too long a transcript (> 256 characters)
                text = " ".join(["WORD"] * 60)
            elif i == n_keep + 1:  # too long audio (> 320000 samples)
                seconds = 20.5
            soundfile.write(folder / f"{utt}.flac", _tone(gen, seconds), 16000, format="FLAC",
                            subtype="PCM_16")
            lines.append(f"{utt} {text}")
        (folder / f"{spk}-{chap}.trans.txt").write_text("\n".join(lines) + "\n")
        counts[split] = n_keep + n_drop
    return counts


def load_setup_module(repo_root: Path):
    spec = importlib.util.spec_from_file_location(
        "setup_librispeech", repo_root / "scripts" / "setup_librispeech.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def librispeech_raw(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("librispeech_raw")
    return root, write_raw_librispeech(root)


@pytest.fixture(scope="session")
def librispeech_data(librispeech_raw, tmp_path_factory) -> Path:
    """The stored format produced by the setup script from the tiny raw dataset."""
    repo_root = Path(__file__).resolve().parents[2]
    raw, _ = librispeech_raw
    out = tmp_path_factory.mktemp("librispeech")
    mod = load_setup_module(repo_root)
    assert mod.main(["--data_dir", str(out), "--raw_dir", str(raw), "--vocab_size",
                     str(VOCAB_SIZE), "--no_count_check", "--workers", "2"]) == 0
    return out
