"""Tiny Criteo 1TB data in the real on-disk format (tab-separated day_<d>_<NN> shards)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

TRAIN_SHARDS = {0: 2, 1: 1}  # day -> shard count
LINES_PER_SHARD = 6
DAY23_LINES_PER_SHARD = 3


def random_line(gen: np.random.Generator) -> str:
    """One raw Criteo line: label, 13 ints (some missing/-1/negative), 26 hex ids."""
    dense = []
    for _ in range(13):
        r = gen.random()
        dense.append("" if r < 0.1 else "-1" if r < 0.15 else str(int(gen.integers(-5, 5000))))
    cats = ["" if gen.random() < 0.1 else f"{int(gen.integers(0, 2**32)):08x}" for _ in range(26)]
    return "\t".join([str(int(gen.random() < 0.3)), *dense, *cats])


def write_shards(root: Path, seed: int = 0) -> Path:
    gen = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    shards = {**{(d, s): LINES_PER_SHARD for d, n in TRAIN_SHARDS.items() for s in range(n)},
              **{(23, s): DAY23_LINES_PER_SHARD for s in range(36)}}
    for (day, shard), lines in shards.items():
        text = "\n".join(random_line(gen) for _ in range(lines)) + "\n"
        (root / f"day_{day}_{shard:02d}").write_text(text)
    return root


@pytest.fixture(scope="session")
def criteo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shards(tmp_path_factory.mktemp("criteo1tb"))


@pytest.fixture(scope="session")
def criteo_counts() -> dict[str, int]:
    """Example counts of the tiny dataset written by :func:`write_shards`."""
    return {"train": sum(TRAIN_SHARDS.values()) * LINES_PER_SHARD,
            "validation": 17 * DAY23_LINES_PER_SHARD, "test": 19 * DAY23_LINES_PER_SHARD}
