"""The rulebook: every rules question answered by the version, and the nine-workload table."""

from __future__ import annotations

import math

import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark.identity import TrialKey, TrialSpec
from algoperf_ray.benchmark.versions import (
    CURRENT_VERSION,
    FINEWEBEDU_LM_V06_LM,
    RULESETS,
    VERSIONS,
    UnknownVersionError,
    UnknownVersionWorkloadError,
    get_version,
)

EIGHT = ("criteo1tb", "fastmri", "imagenet_resnet", "imagenet_vit", "librispeech_conformer",
         "librispeech_deepspeech", "ogbg", "wmt")


def test_versions_and_the_current_one():
    assert VERSIONS == ("0.5", "0.6", "0.6-lm") and CURRENT_VERSION == "0.6"
    assert get_version() is get_version("0.6") is get_version("v0.6")
    with pytest.raises(UnknownVersionError, match="Valid versions: 0.5, 0.6, 0.6-lm"):
        get_version("0.7")


@pytest.mark.parametrize("name, studies, factor", [("0.5", 5, 3.0), ("0.6", 3, 1.5),
                                                  ("0.6-lm", 3, 1.5)])
def test_counts_and_budget_factor_per_ruleset(name, studies, factor):
    v = get_version(name)
    assert v.rulesets == RULESETS == ("external", "self")
    assert v.studies_per_workload("external") == v.studies_per_workload("self") == studies
    assert v.trials_per_study("external") == 5 and v.trials_per_study("self") == 1
    assert v.budget_factor("external") == 1.0 and v.budget_factor("self") == factor
    budget = v.target("ogbg").max_runtime_sec
    assert v.max_runtime_sec("ogbg", "self") == budget * factor
    assert v.max_runtime_sec("ogbg", "self", runtime_sec=10) == 10 * factor
    with pytest.raises(ValueError, match="unknown ruleset"):
        v.budget_factor("open")


def test_v05_and_v06_budgets_and_eval_periods_differ_where_the_rules_did():
    v05, v06 = get_version("0.5"), get_version("0.6")
    assert v05.max_runtime_sec("ogbg") == 18_477 and v06.max_runtime_sec("ogbg") == 12_011
    assert v05.eval_period_sec("wmt") == v06.eval_period_sec("wmt") == 840
    assert v05.eval_period_sec("wmt_glu_tanh") == 840  # a variant uses its base's
    assert v06.eval_period_sec("a_fake", default=7.0) == 7.0
    with pytest.raises(ValueError, match="no eval period"):
        v06.eval_period_sec("a_fake")


def test_v06_keeps_the_published_eight_and_06lm_adds_finewebedu_lm():
    v06, lm = get_version("0.6"), get_version("0.6-lm")
    assert v06.base_workloads == EIGHT and v06.scored_workloads == EIGHT
    assert set(lm.base_workloads) == {*EIGHT, "finewebedu_lm"} and len(lm.base_workloads) == 9
    assert lm.held_out_workloads == () and lm.scored_workloads == lm.base_workloads
    t = lm.target("finewebedu_lm")
    assert (t.target_metric_name, t.validation_target, t.max_runtime_sec, t.eval_period_sec,
            t.step_hint) == ("ppl", 22.2995, 31_967, 2_571, 72_000)
    assert t.minimize and t.is_met(22.2995) and not t.is_met(22.3)
    # The other eight are v0.6's, unchanged.
    for w in EIGHT:
        assert lm.target(w) == v06.target(w)
    assert lm.missing_workloads(set(EIGHT)) == ("finewebedu_lm",)
    assert v06.missing_workloads(set(EIGHT)) == ()


def test_the_lm_family_metadata_agrees_with_the_pinned_version_row():
    """The version pins the reference's numbers; the family's metadata must train to them."""
    from algoperf_ray.benchmark.registry import all_workloads

    meta = all_workloads().get("finewebedu_lm")
    if meta is None:
        pytest.skip("workloads/finewebedu_lm/metadata.py is not registered in this checkout")
    t = FINEWEBEDU_LM_V06_LM
    assert (meta.target_metric_name, meta.validation_target, meta.max_runtime_sec,
            meta.eval_period_sec, meta.step_hint) == (
        t.target_metric_name, t.validation_target, t.max_runtime_sec, t.eval_period_sec,
        t.step_hint)


@pytest.mark.parametrize("metric, target, value, inclusive, strict", [
    ("accuracy", 0.97, 0.97, True, False),
    ("accuracy", 0.97, 0.971, True, True),
    ("accuracy", 0.97, 0.96, False, False),
    ("ppl", 22.2995, 22.2995, True, False),
    ("ppl", 22.2995, 22.0, True, True),
    ("loss", 0.12, math.nan, False, False),
    ("loss", 0.12, None, False, False),
])
def test_one_target_rule_inclusive_for_the_score_strict_for_stopping(metric, target, value,
                                                                     inclusive, strict):
    assert spec.meets_target(f"validation/{metric}", value, target) is inclusive
    assert spec.meets_target(f"validation/{metric}", value, target, strict=True) is strict


def test_dev_workloads_outside_a_version_use_their_own_numbers():
    v05 = get_version("0.5")
    with pytest.raises(UnknownVersionWorkloadError, match="Valid workloads"):
        v05.target("digits")
    digits = v05.rules_for("digits")  # the registered metadata
    assert digits.target_metric_name == "accuracy" and digits.max_runtime_sec == 30
    dev = v05.scoring_only(["digits"], studies={"external": 1})
    assert dev.base_workloads == ("digits",) and dev.studies_per_workload("external") == 1
    assert dev.max_runtime_sec("digits", "self") == 30 * 3.0  # v0.5's factor still applies


def test_trial_spec_is_a_key_plus_what_runs_and_round_trips():
    key = TrialKey("0.6-lm", "self", "nadamw", "jax", "finewebedu_lm", 2, 0).validate()
    s = TrialSpec(key, "submissions/nadamw", seed=5)
    assert TrialSpec.from_dict(s.to_dict()) == s and s.trial_id == key.trial_id
    with pytest.raises(ValueError, match="ruleset 'open' must be one of: external, self"):
        TrialKey("0.6", "open", "a", "jax", "ogbg", 0, 0).validate()
