"""The per-workload detail (``score --details``) on hand-written and real stores."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from algoperf_ray.cli import app
from algoperf_ray.scoring.details import workload_details
from algoperf_ray.scoring.scoring import score_store
from algoperf_ray.store import Store, TrialKey

pytestmark = pytest.mark.filterwarnings("ignore::algoperf_ray.scoring.errors.ScoringWarning")

NAN = float("nan")


def _evals(times, steps, metric, values) -> list[dict]:
    return [{"accumulated_submission_time": t, "global_step": s, metric: v}
            for t, s, v in zip(times, steps, values, strict=True)]


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(str(tmp_path / "store"))
    ssim = "validation/ssim"  # fastmri target ~0.7237, maximised
    trials = {
        (0, 0): _evals([10, 30, 60], [100, 200, 300], ssim, [0.5, 0.8, 0.75]),
        (0, 1): _evals([10, 40], [50, 100], ssim, [NAN, 0.95]),  # best value, a NaN eval
        (1, 0): _evals([5, 15], [100, 200], ssim, [0.1, 0.2]),  # never reaches
        (2, 0): _evals([25], [250], ssim, [0.9]),
    }
    for (study, trial), rows in trials.items():
        s.write_evals(TrialKey("0.6", "external", "sub", "jax", "fastmri", study, trial), rows)
    s.write_evals(TrialKey("0.6", "external", "sub", "jax", "wmt", 0, 0),
                  _evals([100], [1000], "validation/bleu", [20.0]))
    return s


def test_detail_values_from_hand_written_evals(store):
    result = score_store(store, "external", "0.6")
    rows = {r["workload"]: r for r in workload_details(store, result).to_pylist()}
    fm = rows["fastmri"]
    # Study times: study 0 ties at eval 1 -> the faster trial (30); study 1 inf; study 2 25.
    assert fm["time_to_target"] == 30.0 and fm["target_reached"] is True
    assert (fm["studies"], fm["trials"], fm["trials_reached"]) == (3, 4, 3)
    assert (fm["best_value"], fm["time_to_best"]) == (0.95, 40.0)  # the NaN eval ignored
    # Step time: median of d(time)/d(step) per eval, each trial's first eval from 0.
    ratios = [10 / 100, 20 / 100, 30 / 100, 10 / 50, 30 / 50, 5 / 100, 10 / 100, 25 / 250]
    assert fm["step_time"] == pytest.approx(float(np.median(ratios)))
    assert fm["step_hint"] == 18094 and fm["metric"] == "validation/ssim"
    wmt = rows["wmt"]
    assert wmt["target_reached"] is False and math.isinf(wmt["time_to_target"])
    assert (wmt["best_value"], wmt["time_to_best"], wmt["step_time"]) == (20.0, 100.0, 0.1)
    assert wmt["step_hint"] == 120000


def test_minimised_metric_best_is_the_smallest(tmp_path):
    s = Store(str(tmp_path))
    rows = _evals([1, 2, 3], [10, 20, 30], "validation/loss", [0.3, 0.12, 0.2])
    s.write_evals(TrialKey("0.6", "external", "sub", "jax", "criteo1tb", 0, 0), rows)
    (row,) = workload_details(s, score_store(s, "external", "0.6")).to_pylist()
    assert (row["best_value"], row["time_to_best"], row["time_to_target"]) == (0.12, 2.0, 2.0)


def test_cli_details_writes_and_prints(store, tmp_path):
    out = tmp_path / "res" / "scores.parquet"
    res = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["score", "--store", store.uri, "--ruleset", "external", "--version", "0.6",
              "--out", str(out), "--details"])
    assert res.exit_code == 0, res.output
    assert "Per-workload detail" in res.output and "18094" in res.output
    table = pq.read_table(tmp_path / "res" / "scores_workloads.parquet")
    assert table.schema.metadata[b"algoperf_ray.ruleset"] == b"external"
    assert sorted(table.column("workload").to_pylist()) == ["fastmri", "wmt"]
    res = CliRunner().invoke(app, ["score", "--store", store.uri, "--ruleset", "external",
                                   "--version", "0.6", "--out", str(tmp_path / "b.parquet")])
    assert res.exit_code == 0 and not (tmp_path / "b_workloads.parquet").exists()


def test_v05_details_agree_with_the_leaderboard(v05_store):
    result = score_store(v05_store, "external", "0.5")
    details = workload_details(v05_store, result).to_pandas().set_index(
        ["submission", "workload"])
    wt = result.workload_times.to_pandas().dropna().set_index(["submission", "workload"]).time
    assert len(wt) > 100
    assert np.array_equal(details.loc[wt.index, "time_to_target"].to_numpy(), wt.to_numpy())
    assert (details["trials_reached"] <= details["trials"]).all()
    reached = details[details["target_reached"]]
    assert (reached["trials_reached"] > 0).all()
    assert (details["step_time"].dropna() > 0).all()


def test_score_details_and_speedup_need_no_pandas(store, tmp_path):
    """pandas is a dev extra only: the scoring commands must run without it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "class NoPandas:  # any import of pandas now fails, as if it were not installed\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'pandas':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, NoPandas())\n"
        "from typer.testing import CliRunner\n"
        "from algoperf_ray.cli import app\n"
        "base = ['--store', sys.argv[1], '--ruleset', 'external', '--version', '0.6']\n"
        "r = CliRunner().invoke(app, ['score', *base, '--details', '--out', sys.argv[2]])\n"
        "assert r.exit_code == 0, (r.output, r.exception)\n"
        "r = CliRunner().invoke(app, ['speedup', *base, '--reference', 'sub'])\n"
        "assert r.exit_code == 0, (r.output, r.exception)\n")
    out = tmp_path / "np" / "s.parquet"
    subprocess.run([sys.executable, "-c", code, store.uri, str(out)], check=True)
    assert (tmp_path / "np" / "s_workloads.parquet").exists()
