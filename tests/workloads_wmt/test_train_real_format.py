"""wmt and its variants train on tiny real-format TFDS data with a SentencePiece model."""

from __future__ import annotations

import math

import pytest

NAMES = ["wmt", "wmt_post_ln", "wmt_attention_temp", "wmt_glu_tanh"]


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "pytorch"])
@pytest.mark.parametrize("name", NAMES)
def test_nadamw_trains_on_real_format_pairs(train_few_steps, wmt_data_dir, wmt_facts, name,
                                            framework):
    kwargs = {**wmt_facts.tiny, "max_eval_examples": 4}
    result = train_few_steps(name, framework, wmt_data_dir, kwargs, batch_size=4)
    assert result.status == "completed", result.error
    assert result.global_step == 2
    rows = result.eval_rows
    assert rows and all(math.isfinite(r["validation/loss"]) for r in rows)
    assert all(r["validation/bleu"] >= 0 for r in rows)
