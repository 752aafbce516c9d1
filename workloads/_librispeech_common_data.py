"""LibriSpeech data for both speech families: tokenizer, stored format, batches.

The on-disk format is the reference's (written by ``scripts/setup_librispeech.py``):

    <data_dir>/spm_model.vocab                 SentencePiece model (1024 pieces)
    <data_dir>/<split>.csv                     header ",id"; one row per utterance
    <data_dir>/<split>/<utt>_audio.npy         int64 PCM samples (<= 320000)
    <data_dir>/<split>/<utt>_targets.npy       int32 token ids, EOS-terminated

Batches are global numpy dicts: ``inputs`` / ``input_paddings`` float32
[B, max_audio_length] (1.0 marks padding), ``targets`` int32 / ``target_paddings``
float32 [B, max_target_length] (id 0 is both blank and padding), and on eval
batches ``weights`` float32 [B] (0 on rows that only pad the last batch).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from algoperf_ray.workloads._librispeech_common_frontend import (
    MAX_AUDIO_LENGTH,
    MAX_TARGET_LENGTH,
)

TOKENIZER_FILENAME = "spm_model.vocab"
TRAIN_SPLITS = ("train-clean-100", "train-clean-360", "train-other-500")
SPLITS = {
    "train": TRAIN_SPLITS,
    "eval_train": TRAIN_SPLITS,
    "validation": ("dev-clean", "dev-other"),
    "test": ("test-clean",),
}
EOS_ID = 2
NumpyBatch = dict[str, np.ndarray]


class Tokenizer:
    """The reference's SentencePiece model: EOS appended, no BOS, id 0 = <unk>/blank."""

    def __init__(self, path: str) -> None:
        import sentencepiece as spm

        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"librispeech: SentencePiece model {path} not found; run "
                "`python scripts/setup_librispeech.py --data_dir <dir>` (it trains or copies "
                "spm_model.vocab) or pass tokenizer_path=...")
        self._sp = spm.SentencePieceProcessor(model_file=path)
        self.vocab_size = int(self._sp.get_piece_size())

    def encode(self, text: str) -> np.ndarray:
        return np.asarray(self._sp.encode(text) + [EOS_ID], np.int32)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``; control ids (unk/bos/eos) and ids past the vocabulary vanish."""
        keep = [int(i) for i in ids if 0 < int(i) < self.vocab_size]
        return self._sp.decode(keep)


def split_ids(data_dir: str, split: str) -> list[str]:
    """``<subset>/<utt>`` ids of a benchmark split, in the CSV order of each subset."""
    ids: list[str] = []
    for subset in SPLITS[split]:
        path = os.path.join(data_dir, f"{subset}.csv")
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"librispeech: {path} is missing (split {split!r} needs {SPLITS[split]}); "
                "run scripts/setup_librispeech.py --data_dir <dir>.")
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        col = rows[0].index("id") if rows and "id" in rows[0] else 1
        ids += [f"{subset}/{row[col]}" for row in rows[1:] if row]
    return ids


def pad_example(audio: np.ndarray, targets: np.ndarray, max_audio: int,
                max_target: int) -> NumpyBatch:
    """One padded example; longer audio/targets are cut (only reduced-size runs cut)."""
    audio, targets = audio[:max_audio], targets[:max_target]
    a = np.zeros((max_audio,), np.float32)
    a[:len(audio)] = audio
    ap = np.ones((max_audio,), np.float32)
    ap[:len(audio)] = 0.0
    t = np.zeros((max_target,), np.int32)
    t[:len(targets)] = targets
    tp = np.ones((max_target,), np.float32)
    tp[:len(targets)] = 0.0
    return {"inputs": a, "input_paddings": ap, "targets": t, "target_paddings": tp}


def stack(rows: list[NumpyBatch], batch_size: int, with_weights: bool) -> NumpyBatch:
    """Stack rows; rows past ``len(rows)`` are copies of row 0 with weight 0.

    Padding rows copy a real example (not zeros) so every row has at least one
    valid audio frame, which packed LSTMs and CTC require.
    """
    n = len(rows)
    rows = rows + [rows[0]] * (batch_size - n)
    batch = {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    if with_weights:
        weights = np.zeros((batch_size,), np.float32)
        weights[:n] = 1.0
        batch["weights"] = weights
    return batch


def _load(data_dir: str, example_id: str, max_audio: int, max_target: int) -> NumpyBatch:
    audio = np.load(os.path.join(data_dir, f"{example_id}_audio.npy"))
    targets = np.load(os.path.join(data_dir, f"{example_id}_targets.npy"))
    return pad_example(audio, targets, max_audio, max_target)


def librispeech_batches(data_dir: str, split: str, seed: int, batch_size: int, train: bool,
                        max_audio: int = MAX_AUDIO_LENGTH,
                        max_target: int = MAX_TARGET_LENGTH,
                        num_threads: int = 8) -> Iterator[NumpyBatch]:
    """Global batches of the stored format.

    Train: reshuffled every epoch, full batches only, forever. Eval: one pass
    in order; the last batch padded with ``weights == 0`` rows.
    """
    ids = split_ids(data_dir, split)
    if not ids:
        raise ValueError(f"librispeech: split {split!r} under {data_dir} has no examples.")
    gen = np.random.default_rng(seed)
    with ThreadPoolExecutor(num_threads) as pool:
        def load(chunk: list[str]) -> list[NumpyBatch]:
            return list(pool.map(lambda i: _load(data_dir, i, max_audio, max_target), chunk))

        if not train:
            for start in range(0, len(ids), batch_size):
                yield stack(load(ids[start:start + batch_size]), batch_size, with_weights=True)
            return
        if len(ids) < batch_size:
            raise ValueError(f"librispeech: split {split!r} has {len(ids)} examples, fewer "
                             f"than one training batch of {batch_size}.")
        while True:
            order = gen.permutation(len(ids))
            for start in range(0, len(ids) - batch_size + 1, batch_size):
                chunk = [ids[i] for i in order[start:start + batch_size]]
                yield stack(load(chunk), batch_size, with_weights=False)


def synthetic_example(gen: np.random.Generator, max_audio: int, max_target: int,
                      vocab_size: int, max_tokens: int) -> NumpyBatch:
    """Random speech-like example: int16-range noise, valid lengths, feasible CTC targets."""
    n_audio = int(gen.integers(max(max_audio // 2, 1), max_audio + 1))
    audio = gen.normal(0.0, 3000.0, size=n_audio).clip(-32768, 32767).round()
    n_tokens = int(gen.integers(1, max(2, max_tokens) + 1))
    tokens = gen.integers(3, max(4, vocab_size), size=n_tokens - 1)
    targets = np.concatenate([tokens, [EOS_ID]]).astype(np.int32)
    return pad_example(audio, targets, max_audio, max_target)
