"""Scoring knows which hardware class each trial ran on (issue #15).

``run``/``tune`` record the class whose budget applied in every trial row
(``extra.hardware``, tested through the CLI in ``tests/benchmark``). Here a
real store holds trials recorded on V100 and A100: ``score`` warns that the
classes are mixed, and ``speedup`` caps a miss with the budget of the class
the trials ran on, refusing an A100 miss without the operator's table.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from algoperf_ray.benchmark.identity import TrialKey
from algoperf_ray.benchmark.versions import NoHardwareBudgetError, get_version
from algoperf_ray.cli import app
from algoperf_ray.scoring.scoring import score_store, speedups
from algoperf_ray.store import Store

pytestmark = pytest.mark.filterwarnings("ignore::algoperf_ray.scoring.scoring.ScoringWarning")

V = get_version("0.6")
TARGET_WORKLOAD = "ogbg"


def _publish(store: Store, submission: str, hardware: str, reaches: bool) -> None:
    """Every base workload, one study, one trial; only ``reaches`` hits ogbg's target."""
    for workload in V.base_workloads:
        key = TrialKey("0.6", "external", submission, "jax", workload, 1, 1)
        t = V.target(workload)
        metric = f"validation/{t.target_metric_name}"
        better = t.validation_target * (0.9 if t.minimize else 1.1)
        worse = t.validation_target * (2.0 if t.minimize else 0.5)
        hit = reaches and workload == TARGET_WORKLOAD
        rows = [{"global_step": 10 * (i + 1), "accumulated_submission_time": 100.0 * (i + 1),
                 metric: better if hit and i == 1 else worse} for i in range(2)]
        store.publish_trial(key, rows, trial={
            "hparams": {"learning_rate": 0.1}, "status": "completed", "error": None,
            "seed": 0, "extra": {"hardware": hardware, "budget_sec": 1.0}})


@pytest.fixture
def mixed_store(tmp_path) -> Store:
    store = Store(str(tmp_path / "store"))
    _publish(store, "fast", "a100x8", reaches=True)
    _publish(store, "slow", "a100x8", reaches=False)
    _publish(store, "old", "v100x8", reaches=True)
    return store


def test_the_recorded_classes_reach_the_result(mixed_store):
    result = score_store(mixed_store, "external", "0.6")
    assert result.hardware == {"a100x8": ["fast", "slow"], "v100x8": ["old"]}
    only_a100 = score_store(mixed_store, "external", "0.6", submissions=["fast", "slow"])
    assert only_a100.hardware == {"a100x8": ["fast", "slow"]}


def test_score_warns_when_classes_are_mixed(mixed_store, tmp_path):
    res = CliRunner().invoke(app, ["score", "--store", mixed_store.uri, "--ruleset", "external",
                                   "--version", "0.6", "--out", str(tmp_path / "s.parquet")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "more than one hardware class (a100x8: fast, slow; v100x8: old)" in text


def test_speedup_caps_a_miss_with_the_budget_of_its_class(mixed_store):
    result = score_store(mixed_store, "external", "0.6", submissions=["fast", "slow"])
    with pytest.raises(NoHardwareBudgetError, match="no budget on a100x8"):
        speedups(result, "fast", hardware="a100x8")
    table = {w: 1000.0 for w in V.base_workloads}
    rows = {r["submission"]: r["speedup"]
            for r in speedups(result, "fast", hardware="a100x8", budgets=table).to_pylist()}
    # Every workload but ogbg is a miss for both (1001 s each); ogbg: 200 s vs 1001 s.
    n = len(V.base_workloads)
    assert rows["slow"] == pytest.approx((1001.0 / 200.0) ** (1 / n))
    v100 = {r["submission"]: r["speedup"] for r in speedups(result, "fast").to_pylist()}
    cap = V.max_runtime_sec(TARGET_WORKLOAD, "external") + 1
    assert v100["slow"] == pytest.approx((cap / 200.0) ** (1 / n))


def test_speedup_cli_uses_the_recorded_class_and_the_table(mixed_store, tmp_path):
    args = ["speedup", "--store", mixed_store.uri, "--ruleset", "external", "--version", "0.6",
            "--reference", "fast", "--submissions", "fast,slow"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "no budget on a100x8" in " ".join(res.output.split())
    budgets = tmp_path / "a100.json"
    budgets.write_text(json.dumps({w: 1000.0 for w in V.base_workloads}))
    out = tmp_path / "speedups.parquet"
    res = CliRunner().invoke(app, [*args, "--budgets", str(budgets), "--out", str(out)])
    assert res.exit_code == 0, res.output
    import pyarrow.parquet as pq

    got = dict(zip(*pq.read_table(out).to_pydict().values(), strict=True))
    assert got["slow"] == pytest.approx((1001.0 / 200.0) ** (1 / len(V.base_workloads)))
