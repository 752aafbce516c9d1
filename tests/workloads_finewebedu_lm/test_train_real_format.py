"""The NadamW baseline trains on tiny real-format FineWeb-Edu data and evaluates end to end."""

from __future__ import annotations

import math

import pytest


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_trains_and_evaluates_on_real_format_data(framework, lm_data_dir, lm_facts,
                                                  train_few_steps):
    result = train_few_steps("finewebedu_lm", framework, lm_data_dir, lm_facts.tiny,
                             batch_size=4, steps=3)
    assert result.status == "completed", result.error
    assert result.global_step == 3
    last = result.eval_rows[-1]
    for split in ("train", "validation"):
        loss, ppl = last[f"{split}/loss"], last[f"{split}/ppl"]
        assert 0 < loss < 2 * math.log(lm_facts.vocab_size)
        assert ppl == pytest.approx(math.exp(loss), rel=1e-9)
    assert not any(k.startswith("test/") for k in last)
