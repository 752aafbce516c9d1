"""The published v0.5 leaderboards, reproduced from the raw logs to 4 decimals."""

from __future__ import annotations

import csv

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from algoperf_ray.cli import app
from algoperf_ray.scoring.scoring import ScoringError, ScoringWarning, score_store, speedups

pytestmark = pytest.mark.filterwarnings("ignore::algoperf_ray.scoring.scoring.ScoringWarning")


def _published(shared_data) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {"external": {}, "self": {}}
    with open(shared_data / "leaderboard_v05_scores.csv") as f:
        for row in csv.DictReader(f):
            out[row["ruleset"]][row["submission"]] = float(row["score"])
    return out


@pytest.mark.parametrize("ruleset", ["external", "self"])
def test_every_published_v05_score(v05_store, shared_data, ruleset):
    expected = _published(shared_data)[ruleset]
    with pytest.warns(ScoringWarning):
        result = score_store(v05_store, ruleset, "0.5")
    got = dict(zip(result.scores.column("submission").to_pylist(),
                   result.scores.column("score").to_pylist(), strict=True))
    assert set(got) == set(expected)
    for name, score in expected.items():
        assert round(got[name], 4) == score, name
    # The per-trial summaries kept by the store and a rescore from every eval row agree.
    full = score_store(v05_store, ruleset, "0.5", use_summaries=False)
    assert full.scores.equals(result.scores)
    assert full.trial_times.sort_by([("submission", "ascending"), ("workload", "ascending"),
                                     ("study", "ascending"), ("trial", "ascending")]).equals(
        result.trial_times.sort_by([("submission", "ascending"), ("workload", "ascending"),
                                    ("study", "ascending"), ("trial", "ascending")]))


def test_documented_rule_differs_where_the_reference_code_does(v05_store):
    published = score_store(v05_store, "external", "0.5", rule="published")
    documented = score_store(v05_store, "external", "0.5", rule="documented")
    p, d = (r.trial_times.drop_columns(["winner"]).to_pandas() for r in (published, documented))
    assert p.equals(d)  # per-trial times do not depend on the rule
    diff = {s for s in published.scores.column("submission").to_pylist()
            if published.score_of(s) != documented.score_of(s)}
    assert "lawa_ema" in diff
    # Under the documented rule every study takes its fastest trial, so no
    # workload time can be slower than under the published rule.
    wp = published.workload_times.to_pandas().set_index(["submission", "workload"]).time
    wd = documented.workload_times.to_pandas().set_index(["submission", "workload"]).time
    assert ((wd <= wp) | (wd.isna() & wp.isna())).all()


def test_strict_fails_on_the_incomplete_v05_logs(v05_store):
    with pytest.raises(ScoringError, match=r"--strict.*lawa_ema/librispeech_deepspeech: "
                                           r"expected 5 studies, found 3"):
        score_store(v05_store, "external", "0.5", strict=True)


def test_submission_subset_and_unknown_submission(v05_store):
    result = score_store(v05_store, "self", "0.5", submissions=["baseline", "adamg"])
    assert result.scores.column("submission").to_pylist() == ["baseline", "adamg"]
    assert result.score_of("baseline") > 0
    with pytest.raises(ScoringError, match="nosuch"):
        score_store(v05_store, "self", "0.5", submissions=["nosuch"])


def test_speedups_are_consistent(v05_store):
    result = score_store(v05_store, "external", "0.5")
    base = {r["submission"]: r["speedup"] for r in speedups(result, "baseline").to_pylist()}
    nadamp = {r["submission"]: r["speedup"] for r in speedups(result, "nadamp").to_pylist()}
    assert base["baseline"] == pytest.approx(1.0)
    for sub in base:  # gmean of ratios: changing the reference divides by a constant
        assert base[sub] == pytest.approx(nadamp[sub] / nadamp["baseline"])
    with pytest.raises(ScoringError, match="reference submission 'nope'"):
        speedups(result, "nope")


def test_cli_score_writes_parquet_plot_and_table(v05_store, tmp_path):
    out = tmp_path / "res" / "scores.parquet"
    res = CliRunner(env={"COLUMNS": "160"}).invoke(
        app, ["score", "--store", v05_store.uri, "--ruleset", "self", "--version", "0.5",
              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "schedule_free_adamw" in res.output and "0.8542" in res.output
    scores = pq.read_table(out).to_pandas()
    assert list(scores.columns[:2]) == ["submission", "score"]
    assert len(scores.columns) == 2 + 8 and "imagenet_vit" in scores.columns
    assert np.isinf(scores.set_index("submission").loc["adamg"].drop("score")).all()
    prof = pq.read_table(tmp_path / "res" / "scores_profiles.parquet").to_pandas()
    assert prof.groupby("submission").size().eq(100).all()
    assert prof.tau.min() == 1.0 and prof.tau.max() == 4.0
    png = (tmp_path / "res" / "scores_profiles.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_speedup_and_clean_errors(v05_store, tmp_path):
    runner = CliRunner(env={"COLUMNS": "160"})
    res = runner.invoke(app, ["speedup", "--store", v05_store.uri, "--ruleset", "external",
                              "--version", "0.5", "--reference", "baseline"])
    assert res.exit_code == 0, res.output
    assert "shampoo_submission" in res.output
    res = runner.invoke(app, ["score", "--store", v05_store.uri, "--ruleset", "external",
                              "--version", "0.7", "--out", str(tmp_path / "x.parquet")])
    assert res.exit_code == 2 and "Valid versions: 0.5, 0.6" in res.output
    res = runner.invoke(app, ["score", "--store", v05_store.uri, "--ruleset", "external",
                              "--version", "0.6", "--out", str(tmp_path / "x.parquet")])
    assert res.exit_code == 2 and "v0.5/external" in res.output
