"""Planning is pure Python: deterministic specs, clear errors, no Ray."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from algoperf_ray.tune.plan import (
    PlanError,
    TrialSpec,
    make_plan,
    pending,
    resolve_submission,
    trial_seed,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _plan(**kw):
    ref = resolve_submission(FIXTURES / "sgd_torch", "pytorch")
    args = dict(ruleset="external", submissions=[ref], workloads=["digits"],
                framework="pytorch", studies=3, trials=5, seed=7)
    return make_plan(**{**args, **kw})


def test_external_plan_is_deterministic_and_complete():
    a, b = _plan(), _plan()
    assert a == b and len(a) == 15
    assert {(s.key.study, s.key.trial) for s in a} == {(i, j) for i in range(3) for j in range(5)}
    lrs = [s.hparams["learning_rate"] for s in a]
    assert len(set(lrs)) == 15 and all(0.02 <= lr <= 0.2 for lr in lrs)
    assert len({s.seed for s in a}) == 15  # every trial its own seed
    assert _plan(seed=8) != a  # the seed drives the draw
    assert len({s.trial_id for s in a}) == 15
    assert {s.key.version for s in a} == {"0.6"}  # the current version unless told


def test_planning_imports_no_framework_and_no_ray():
    code = ("import sys; from algoperf_ray.tune.plan import make_plan, resolve_submission; "
            "print(sorted(m for m in ('ray', 'torch', 'jax', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_spec_round_trips_through_plain_data():
    spec = _plan()[3]
    assert TrialSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.key.submission == "sgd_torch" and spec.trial_id == spec.key.trial_id


def test_self_tuning_has_one_trial_per_study_and_no_hparams():
    specs = _plan(ruleset="self", trials=1)
    assert len(specs) == 3 and all(s.hparams is None and s.key.trial == 0 for s in specs)


def test_fixed_point_lists_are_sampled_without_replacement(tmp_path):
    space = tmp_path / "points.json"
    space.write_text(json.dumps([{"learning_rate": 0.01 * i} for i in range(1, 7)]))
    ref = resolve_submission(FIXTURES / "sgd_torch", "pytorch", search_space=space)
    specs = make_plan(ruleset="external", submissions=[ref], workloads=["digits"],
                      framework="pytorch", studies=2, trials=3, seed=0)
    for study in (0, 1):
        lrs = [s.hparams["learning_rate"] for s in specs if s.key.study == study]
        assert len(set(lrs)) == 3


def test_pending_skips_completed_keys():
    specs = _plan()
    done = [specs[0].key, specs[4].key]  # any iterable of keys, read once
    assert pending(specs, done) == [s for i, s in enumerate(specs) if i not in (0, 4)]


def test_studies_and_trials_default_to_the_version_rules():
    """Planning asks the version: v0.5 ran 5 studies, v0.6 runs 3; self-tuning 1 trial."""
    from algoperf_ray.benchmark.versions import get_version

    for name in ("0.5", "0.6"):
        v = get_version(name)
        for ruleset in v.rulesets:
            specs = _plan(ruleset=ruleset, studies=None, trials=None, version=name)
            trials = v.trials_per_study(ruleset)
            assert len(specs) == v.studies_per_workload(ruleset) * trials
            assert {s.key.version for s in specs} == {name}
    assert len(_plan(studies=None, trials=None, version="0.5")) == 25
    assert len(_plan(ruleset="self", studies=None, trials=None, version="0.6")) == 3


def test_trial_seed_is_stable_and_31_bit():
    assert trial_seed(0, "a", 1) == trial_seed(0, "a", 1) != trial_seed(0, "a", 2)
    assert 0 <= trial_seed(123, "x") < 2**31


@pytest.mark.parametrize("bad,match", [
    ({"workloads": ["nope"]}, "Valid workloads"),
    ({"ruleset": "other"}, "unknown ruleset"),
    ({"studies": 0}, ">= 1"),
    ({"framework": "tf"}, "framework"),
    ({"version": "0.9"}, "Valid versions"),
])
def test_bad_requests_get_clear_errors(bad, match):
    with pytest.raises((PlanError, KeyError, ValueError), match=match):
        _plan(**bad)


def test_missing_submission_and_search_space_errors(tmp_path):
    with pytest.raises(PlanError, match="does not exist"):
        resolve_submission(tmp_path / "nope", "jax")
    (tmp_path / "sub").mkdir()
    with pytest.raises(PlanError, match="no submission for framework"):
        resolve_submission(tmp_path / "sub", "jax")
    (tmp_path / "sub" / "submission.py").write_text("")
    ref = resolve_submission(tmp_path / "sub", "jax")
    with pytest.raises(PlanError, match="tuning_search_space.json"):
        make_plan(ruleset="external", submissions=[ref], workloads=["digits"],
                  framework="pytorch")


def test_malformed_search_space_fails_before_anything_starts(tmp_path):
    from algoperf_ray.submission.search_space import SearchSpaceError

    space = tmp_path / "space.json"
    space.write_text(json.dumps({"learning_rate": {"min": 1.0, "max": 0.1, "scaling": "log"}}))
    ref = resolve_submission(FIXTURES / "sgd_torch", "pytorch", search_space=space)
    with pytest.raises(SearchSpaceError, match="space.json"):
        make_plan(ruleset="external", submissions=[ref], workloads=["digits"],
                  framework="pytorch")
