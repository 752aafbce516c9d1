"""Tiny ogbg-molpcba datasets in the real TFDS on-disk format.

The examples are consistent molecules-like graphs (edge indices within the
graph, some NaN labels), written through TFDS's own writer under the real
builder's name, version and features, so ``tfds.load('ogbg_molpcba:0.1.3')``
reads them exactly as it reads the prepared dataset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SPLIT_SIZES = {"train": 24, "validation": 13, "test": 9}


def make_examples(n: int, seed: int) -> list[dict[str, np.ndarray]]:
    """``n`` random connected graphs (a chain plus extra bonds), labels with NaN."""
    gen = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        nodes = int(gen.integers(2, 12))
        chain = np.stack([np.arange(nodes - 1), np.arange(1, nodes)], axis=1)
        extra = gen.integers(0, nodes, size=(int(gen.integers(0, 3)), 2))
        edge_index = np.concatenate([chain, extra]).astype(np.int64)
        labels = gen.integers(0, 2, size=128).astype(np.float32)
        labels[gen.random(128) < 0.3] = np.nan
        out.append({"num_nodes": np.array([nodes]), "num_edges": np.array([len(edge_index)]),
                    "node_feat": gen.integers(0, 6, size=(nodes, 9)).astype(np.float32),
                    "edge_feat": gen.integers(0, 3, size=(len(edge_index), 3)).astype(np.float32),
                    "edge_index": edge_index, "labels": labels})
    return out


def write_tfds(data_dir: Path, sizes: dict[str, int] = SPLIT_SIZES) -> dict[str, list[dict]]:
    """Write a prepared ``ogbg_molpcba:0.1.3`` under ``data_dir``; return the examples."""
    import tensorflow_datasets as tfds

    features = tfds.builder("ogbg_molpcba:0.1.3", data_dir=str(data_dir)).info.features
    examples = {split: make_examples(n, seed) for seed, (split, n) in enumerate(sizes.items())}
    tfds.dataset_builders.store_as_tfds_dataset(
        name="ogbg_molpcba", version="0.1.3", features=features, data_dir=str(data_dir),
        split_datasets={s: list(enumerate(ex)) for s, ex in examples.items()})
    return examples


@pytest.fixture(scope="session")
def ogbg_tfds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[dict]]]:
    data_dir = tmp_path_factory.mktemp("ogbg_tfds")
    return data_dir, write_tfds(data_dir)
