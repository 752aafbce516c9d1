"""FineWeb-Edu token streams -> packed next-token batches (numpy, framework-neutral).

On disk (written by ``scripts/setup_finewebedu_lm.py``) each split is one
flat ``uint16`` token stream, ``train.npy`` and ``val.npy``: the GPT-2
tokens of its documents, each document followed by ``<|endoftext|>``,
documents in the setup's shuffled order. ``finewebedu_lm.json`` records
the vocabulary, the EOS id and each split's token/document counts.

Packing is the reference's: the stream is cut into consecutive,
non-overlapping windows of ``seq_len + 1`` tokens (the tail that does not
fill a window is dropped); a window gives ``inputs = w[:-1]`` and
``targets = w[1:]``. Sequences cross document boundaries, as in the
reference. Splits are read through ``np.load(mmap_mode="r")`` so a 20 GB
stream costs no memory.

- ``train``: windows of ``train.npy`` through a 1,000-window shuffle buffer
  (the reference's ``SHUFFLE_BUFFER_SIZE``), reshuffled each epoch, forever.
- ``eval_train``: the first windows of ``train.npy``, in order.
- ``validation``: the first windows of ``val.npy``, in order.
Eval passes pad the last batch with zero tokens and ``weights == 0``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

MANIFEST = "finewebedu_lm.json"
FORMAT = "algoperf-ray/finewebedu_lm/1"
SPLIT_FILES = {"train": "train.npy", "eval_train": "train.npy", "validation": "val.npy"}
SHUFFLE_BUFFER_SIZE = 1000
SETUP_HINT = ("run `python scripts/setup_finewebedu_lm.py --source <fineweb-edu parquet dir> "
              "--tokenizer <gpt2 tokenizer.json> --output <data_dir>` (see README), or use "
              "--data synthetic")

Batch = dict[str, np.ndarray]


def load_manifest(data_dir: str | None) -> dict[str, Any]:
    """The dataset manifest; errors name the missing file and how to make it."""
    if not data_dir:
        raise ValueError(f"finewebedu_lm: no data_dir given; {SETUP_HINT}.")
    path = os.path.join(data_dir, MANIFEST)
    if not os.path.exists(path):
        raise FileNotFoundError(f"finewebedu_lm: {path} not found; {SETUP_HINT}.")
    with open(path) as f:
        manifest = json.load(f)
    if manifest.get("format") != FORMAT:
        raise ValueError(f"finewebedu_lm: {path} has format {manifest.get('format')!r}, "
                         f"expected {FORMAT!r}; re-run the setup script.")
    return manifest


def token_stream(data_dir: str, split: str, vocab_size: int) -> np.ndarray:
    """Memory-mapped token stream of ``split``, checked against the manifest."""
    if split not in SPLIT_FILES:
        raise ValueError(f"finewebedu_lm: no split {split!r}; have {sorted(SPLIT_FILES)} "
                         "(there is no test split).")
    manifest = load_manifest(data_dir)
    if int(manifest["vocab_size"]) > vocab_size:
        raise ValueError(f"finewebedu_lm: {data_dir} was tokenised with a "
                         f"{manifest['vocab_size']}-token vocabulary but the model has "
                         f"vocab_size={vocab_size}.")
    name = SPLIT_FILES[split]
    tokens = np.load(os.path.join(data_dir, name), mmap_mode="r")
    expected = manifest["splits"][name.removesuffix(".npy")]["num_tokens"]
    if tokens.ndim != 1 or tokens.shape[0] != expected:
        raise ValueError(f"finewebedu_lm: {name} in {data_dir} holds {tokens.shape} tokens, "
                         f"the manifest says {expected}; re-run the setup script.")
    return tokens


def windows(tokens: np.ndarray, seq_len: int) -> np.ndarray:
    """View of the stream as ``[num_sequences, seq_len + 1]`` packed windows."""
    width = seq_len + 1
    count = tokens.shape[0] // width
    return tokens[:count * width].reshape(count, width)


def shuffled_indices(count: int, seed: int, buffer_size: int = SHUFFLE_BUFFER_SIZE
                     ) -> Iterator[int]:
    """Window indices through a shuffle buffer (tf.data semantics), every epoch anew."""
    gen = np.random.default_rng(seed)
    while True:
        buffer: list[int] = []
        for i in range(count):
            if len(buffer) < buffer_size:
                buffer.append(i)
                continue
            j = int(gen.integers(buffer_size))
            yield buffer[j]
            buffer[j] = i
        order = gen.permutation(len(buffer))
        yield from (buffer[j] for j in order)


def make_batch(rows: np.ndarray, real: int) -> Batch:
    """inputs/targets/weights of ``rows`` [n, L+1]; rows past ``real`` are padding."""
    rows = rows.astype(np.int32)
    weights = np.zeros(rows[:, 1:].shape, np.float32)
    weights[:real] = 1.0
    rows[real:] = 0
    return {"inputs": rows[:, :-1], "targets": rows[:, 1:], "weights": weights}


def train_batches(seqs: np.ndarray, batch_size: int, seed: int) -> Iterator[Batch]:
    """Shuffled full batches forever (epochs run into each other, nothing is dropped)."""
    if seqs.shape[0] == 0:
        raise ValueError(f"finewebedu_lm: the train split has no complete window of "
                         f"{seqs.shape[1]} tokens.")
    indices = shuffled_indices(seqs.shape[0], seed)
    while True:
        picked = np.fromiter(indices, np.int64, count=batch_size)
        yield make_batch(np.asarray(seqs[np.sort(picked)])[np.argsort(np.argsort(picked))],
                     batch_size)


def eval_batches(seqs: np.ndarray, num_examples: int, batch_size: int,
                 split: str) -> Iterator[Batch]:
    """One ordered pass over the first ``num_examples`` windows, last batch padded."""
    if seqs.shape[0] < num_examples:
        raise ValueError(f"finewebedu_lm: split {split!r} has {seqs.shape[0]} sequences, "
                         f"the eval needs {num_examples}; {SETUP_HINT} (or cap the eval with "
                         "max_eval_examples).")
    for start in range(0, num_examples, batch_size):
        real = min(batch_size, num_examples - start)
        rows = np.zeros((batch_size, seqs.shape[1]), seqs.dtype)
        rows[:real] = seqs[start:start + real]
        yield make_batch(rows, real)
