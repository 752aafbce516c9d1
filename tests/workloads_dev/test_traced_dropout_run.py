"""``algoperf-ray run`` with a public-style JAX submission that jits dropout_rate.

The fixture (tests/submissions/fixtures/traced_dropout_jax) passes its
``dropout_rate`` hyperparameter through ``model_fn`` inside its jitted train
step, as current public self-tuning submissions do; before issue #10 this
failed on ogbg, wmt and criteo1tb. Reduced models on synthetic data, 3 steps.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from algoperf_ray.cli import app
from algoperf_ray.store import Store

# digits always; the qualification families also run the public-style AdamW with a
# traced rate in tests/submissions/test_every_workload.py, so here they are exhaustive.
_REPEATS = [pytest.mark.slow, pytest.mark.exhaustive]


@pytest.mark.parametrize("workload", [pytest.param("ogbg", marks=_REPEATS),
                                      pytest.param("wmt", marks=_REPEATS),
                                      pytest.param("criteo1tb", marks=_REPEATS), "digits"])
def test_run_with_a_traced_dropout_rate(tmp_path, repo_root, workload):
    store = str(tmp_path / "store")
    sub = repo_root / "tests" / "submissions" / "fixtures" / "traced_dropout_jax"
    res = CliRunner().invoke(app, [
        "run", "--workload", workload, "--framework", "jax", "--submission", str(sub),
        "--ruleset", "self", "--data", "synthetic", "--reduced", "--max-steps", "3",
        "--eval-period", "100000", "--store", store])
    assert res.exit_code == 0, res.output
    (trial,) = Store(store).read_trials().to_pylist()
    assert trial["status"] == "completed", trial.get("error")
    steps = [r["global_step"] for r in Store(store).read_evals().to_pylist()]
    assert max(steps) == 3
