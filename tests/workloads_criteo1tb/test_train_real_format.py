"""criteo1tb and its variants train on tiny real-format TSV shards, both frameworks."""

from __future__ import annotations

import math

import pytest

from algoperf_ray.workloads.criteo1tb.metadata import REDUCED_SIZE_KWARGS

NAMES = ["criteo1tb", "criteo1tb_layernorm", "criteo1tb_embed_init", "criteo1tb_resnet"]


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "pytorch"])
@pytest.mark.parametrize("name", NAMES)
def test_nadamw_trains_on_real_format_shards(train_few_steps, criteo_dir, name, framework):
    result = train_few_steps(name, framework, criteo_dir, REDUCED_SIZE_KWARGS[name])
    assert result.status == "completed", result.error
    assert result.global_step == 2
    losses = [row["validation/loss"] for row in result.eval_rows]
    assert losses and all(math.isfinite(v) for v in losses)
