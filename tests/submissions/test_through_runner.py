"""Public-style submissions, unchanged, through the real runner on digits.

Also checks that their optimizer states (a JAX ``(optax state, update fn)``
pair, PyTorch ``{'optimizer', 'scheduler'}`` dicts) survive the runner's
checkpoint and resume.
"""

from __future__ import annotations

import pytest

from algoperf_ray.runner.config import TrialConfig
from algoperf_ray.runner.trial import run_trial


@pytest.mark.parametrize("fixture, framework, hparams, ruleset", [
    ("public_pytorch", "pytorch", {"learning_rate": 0.1, "one_minus_beta1": 0.1}, "external"),
    ("public_jax", "jax", {"learning_rate": 0.01}, "external"),
    ("legacy_pytorch", "pytorch", None, "self"),
])
def test_public_style_submission_trains_digits_and_resumes(fixtures_dir, tmp_path, fixture,
                                                           framework, hparams, ruleset):
    config = TrialConfig.build(workload="digits", framework=framework,
                               submission_path=str(fixtures_dir / fixture), hparams=hparams,
                               ruleset=ruleset, max_global_steps=10, eval_period_sec=1000.0,
                               checkpoint_dir=str(tmp_path / "ckpt"))
    first = run_trial(config)
    assert first.status == "completed", first.error
    assert first.global_step == 10 and first.preemption_count == 0
    initial, final = first.eval_rows[0], first.eval_rows[-1]
    assert final["validation/accuracy"] > initial["validation/accuracy"] + 0.3
    again = run_trial(config)  # restores params + the submission's optimizer state
    assert again.status == "completed", again.error
    assert again.preemption_count == 1 and again.global_step == 10
    assert [r["global_step"] for r in again.eval_rows] == [r["global_step"] for r in first.eval_rows]
