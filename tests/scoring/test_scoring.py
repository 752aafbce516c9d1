"""The vectorized scorer against a plain-loop oracle, plus bad-input errors."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from algoperf_ray.benchmark.versions import (
    UnknownVersionError,
    UnknownVersionWorkloadError,
    get_version,
)
from algoperf_ray.scoring.scoring import (
    TAUS,
    ScoringError,
    ScoringWarning,
    score_store,
    score_table,
)
from algoperf_ray.store import Store, TrialKey
from algoperf_ray.store.synthetic import synthetic_evals

pytestmark = pytest.mark.filterwarnings("ignore::algoperf_ray.scoring.scoring.ScoringWarning")


def _oracle(df, version, rule):
    """The reference scoring, written as loops over submissions/workloads/studies/trials."""
    subs = sorted(df.submission.unique())
    scored = list(version.scored_workloads)
    times = {s: {w: math.nan for w in scored} for s in subs}
    for (sub, wl), g in df.groupby(["submission", "workload"]):
        tgt = version.target(wl)
        study_times = []
        for _, sg in g.groupby("study"):
            best = None  # (key, time, trial): ties go to the faster, then the lower trial
            for trial, tg in sg.groupby("trial"):
                tg = tg.sort_values("eval_index")
                vals = tg[tgt.metric_column].to_numpy(dtype=float)
                hit = vals <= tgt.validation_target if tgt.minimize else \
                    vals >= tgt.validation_target
                if not hit.any():
                    continue
                i = int(np.argmax(hit))
                t = float(tg.accumulated_submission_time.to_numpy()[i])
                key = i if rule == "published" else t
                if best is None or (key, t, trial) < best:
                    best = (key, t, trial)
            study_times.append(math.inf if best is None else best[1])
        if wl in scored:
            times[sub][wl] = float(np.median(study_times))
    t = np.array([[times[s][w] for w in scored] for s in subs])
    for h in version.held_out_workloads:
        hi, bi = scored.index(h), scored.index(version.target(h).base)
        for r in range(len(subs)):
            if not math.isfinite(t[r, bi]):
                t[r, hi] = math.inf
    for c in range(t.shape[1]):
        col = [x for x in t[:, c] if not math.isnan(x)]
        best = min(col) if col else math.nan
        for r in range(len(subs)):
            if t[r, c] > 4 * best:
                t[r, c] = math.inf
    for h in version.held_out_workloads:
        hi, bi = scored.index(h), scored.index(version.target(h).base)
        for r in range(len(subs)):
            if not math.isfinite(t[r, hi]):
                t[r, bi] = math.inf
    nb = len(version.base_workloads)
    scores = {}
    for r, s in enumerate(subs):
        rho = []
        for tau in TAUS:
            count = 0
            for c in range(nb):
                col = [x for x in t[:, c] if not math.isnan(x)]
                best = min(col) if col else math.nan
                ratio = t[r, c] / best if best == best else math.nan
                count += ratio <= tau
            rho.append(count / nb)
        scores[s] = float(np.trapezoid(rho, TAUS) / 3)
    return scores


def _table(version, n, seed, **kw):
    t = synthetic_evals(version, n, seed=seed, **kw)
    return t.cast(pa.schema([pa.field(f.name, pa.string()) if f.name in
                             ("submission", "workload") else f for f in t.schema]))


@pytest.mark.parametrize("version,rule,seed", [("0.5", "published", 1), ("0.5", "documented", 2),
                                               ("0.6", "published", 3)])
def test_matches_loop_oracle(version, rule, seed):
    v = get_version(version)
    table = _table(v, 5, seed, studies=3, trials=3, evals=12, nan_fraction=0.1)
    # Drop whole trials (a store's eval_index is always 0..n-1 within a trial),
    # a study and a workload, so counts and medians vary.
    df = table.to_pandas()
    trial_id = df.groupby(["submission", "workload", "study", "trial"]).ngroup().to_numpy()
    dropped = np.random.default_rng(seed).random(trial_id.max() + 1) < 0.1
    df = df[~dropped[trial_id]]
    df = df[~((df.submission == "sub0001") & (df.workload == v.base_workloads[2]))]
    df = df[~((df.submission == "sub0002") & (df.workload == "ogbg") & (df.study == 1))]
    table = pa.Table.from_pandas(df, preserve_index=False)
    result = score_table(table, v, "external", rule=rule)
    expected = _oracle(df, v, rule)
    for sub, score in expected.items():
        assert result.score_of(sub) == pytest.approx(score, abs=1e-12), sub
    assert len({round(s, 6) for s in expected.values()}) > 1  # the case is not degenerate


def _store_with(tmp_path, rows_by_trial, version="0.6", workload="mnist"):
    store = Store(str(tmp_path))
    for (study, trial), rows in rows_by_trial.items():
        store.write_evals(TrialKey(version, "external", "sub", "jax", workload, study, trial),
                          rows)
    return store


def test_nan_never_reaches_the_target(tmp_path):
    v = get_version("0.6")
    good = [{"accumulated_submission_time": 10.0, "validation/ssim": 0.1},
            {"accumulated_submission_time": 20.0, "validation/ssim": 0.9}]
    nan = [{"accumulated_submission_time": 5.0, "validation/ssim": float("nan")},
           {"accumulated_submission_time": 6.0, "validation/ssim": float("nan")}]
    store = _store_with(tmp_path, {(0, 0): good, (0, 1): nan, (1, 0): nan, (2, 0): good},
                        workload="fastmri")
    result = score_store(store, "external", "0.6")
    tt = result.trial_times.to_pandas().set_index(["study", "trial"]).time_to_target
    assert tt[(0, 0)] == 20.0 and math.isinf(tt[(0, 1)]) and math.isinf(tt[(1, 0)])
    times = result.workload_times.to_pandas().set_index("workload").time
    assert times["fastmri"] == 20.0  # median of (20, inf, 20)
    assert v.target("fastmri").validation_target < 0.9


def test_minimized_metric_uses_less_or_equal(tmp_path):
    rows = [{"accumulated_submission_time": 1.0, "validation/loss": 0.2},
            {"accumulated_submission_time": 2.0, "validation/loss": 0.123735}]
    store = _store_with(tmp_path, {(0, 0): rows}, workload="criteo1tb")
    tt = score_store(store, "external", "0.6").trial_times.column("time_to_target")
    assert tt.to_pylist() == [2.0]


def test_unknown_workload_lists_valid_names(tmp_path):
    store = _store_with(tmp_path, {(0, 0): [{"accumulated_submission_time": 1.0,
                                             "validation/accuracy": 0.5}]}, workload="imagenet_foo")
    with pytest.raises(UnknownVersionWorkloadError, match=r"unknown workload 'imagenet_foo'.*"
                                                         r"Valid workloads: .*criteo1tb"):
        score_store(store, "external", "0.6")


def test_missing_target_metric_column(tmp_path):
    store = _store_with(tmp_path, {(0, 0): [{"accumulated_submission_time": 1.0,
                                             "validation/loss": 0.5}]}, workload="wmt")
    with pytest.raises(ScoringError, match=r"sub/wmt needs 'validation/bleu'"):
        score_store(store, "external", "0.6")


def test_empty_store_and_unknown_version(tmp_path):
    with pytest.raises(ScoringError, match=r"no eval rows .* holds: nothing.*algoperf-ray ingest"):
        score_store(Store(str(tmp_path)), "external", "0.6")
    with pytest.raises(UnknownVersionError, match=r"'0.9'.*Valid versions: 0.5, 0.6"):
        score_store(Store(str(tmp_path)), "external", "0.9")
    with pytest.raises(ValueError, match="unknown ruleset 'fast'"):
        score_store(Store(str(tmp_path)), "fast", "0.6")


def test_missing_study_strict_and_warning():
    v = get_version("0.6")
    table = _table(v, 2, 0, studies=3, trials=5, evals=5, workloads=v.base_workloads)
    df = table.to_pandas()
    df = df[~((df.submission == "sub0000") & (df.workload == "ogbg") & (df.study == 2))]
    table = pa.Table.from_pandas(df, preserve_index=False)
    with pytest.raises(ScoringError, match=r"sub0000/ogbg: expected 3 studies, found 2.*"
                                           r"or score without --strict"):
        score_table(table, v, "external", strict=True)
    with pytest.warns(ScoringWarning, match="sub0000/ogbg: expected 3 studies, found 2"):
        result = score_table(table, v, "external")
    assert result.warnings == ["sub0000/ogbg: expected 3 studies, found 2"]


def test_unknown_rule():
    v = get_version("0.6")
    with pytest.raises(ScoringError, match="unknown rule 'best'"):
        score_table(_table(v, 1, 0, evals=2), v, "external", rule="best")


def test_versions_are_data():
    v05, v06 = get_version("0.5"), get_version("0.6")
    assert v05.base_workloads == v06.base_workloads and len(v05.held_out_workloads) == 6
    assert v06.held_out_workloads == ()
    assert v05.target("wmt_glu_tanh").base == "wmt"
    assert v05.max_runtime_sec("fastmri") == 8859
    assert v05.max_runtime_sec("fastmri", "self") == 3 * 8859
    assert v06.max_runtime_sec("fastmri", "self") == 1.5 * 4430
    assert get_version() is v06


def test_stale_summaries_fall_back_to_eval_rows(tmp_path):
    import pyarrow.ipc as ipc

    rows = [{"accumulated_submission_time": 1.0, "validation/ssim": 0.5},
            {"accumulated_submission_time": 2.0, "validation/ssim": 0.8}]
    store = _store_with(tmp_path, {(0, 0): rows}, workload="fastmri")
    (path,) = (tmp_path / "summaries").rglob("*.arrow")
    summary = ipc.open_file(pa.BufferReader(path.read_bytes())).read_all()
    assert summary.column("time_to_target").to_pylist() == [2.0]
    # Pretend the summary was written under an older, easier target.
    stale = summary.set_column(summary.schema.get_field_index("target"), "target",
                               pa.array([0.4])).set_column(
        summary.schema.get_field_index("time_to_target"), "time_to_target", pa.array([1.0]))
    with ipc.new_file(str(path), stale.schema) as w:
        w.write_table(stale)
    result = score_store(store, "external", "0.6")
    assert result.trial_times.column("time_to_target").to_pylist() == [2.0]
