"""Search spaces: validation errors name file and field; draws are deterministic."""

from __future__ import annotations

import json
import math
import pickle

import pytest

from algoperf_ray.submission.search_space import (
    SearchSpaceError,
    load_hparams,
    load_search_space,
    make_hparams,
    split_into_studies,
)

SPACE = {
    "learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"},
    "warmup_factor": {"min": 0.0, "max": 0.1, "scaling": "linear"},
    "dropout_rate": {"feasible_points": [0.0, 0.1, 0.2]},
}


def write(tmp_path, data, name="tuning_search_space.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_halton_draws_are_deterministic_in_range_and_spread(tmp_path):
    space = load_search_space(write(tmp_path, SPACE))
    a, b = space.draw(64, seed=7), space.draw(64, seed=7)
    assert a == b
    assert space.draw(64, seed=8) != a
    lrs = [p["learning_rate"] for p in a]
    assert all(1e-4 <= x <= 1e-2 for x in lrs)
    assert all(0.0 <= p["warmup_factor"] <= 0.1 for p in a)
    assert {p["dropout_rate"] for p in a} == {0.0, 0.1, 0.2}
    # log scaling: about half the points fall below the geometric midpoint 1e-3
    below = sum(x < 1e-3 for x in lrs)
    assert 24 <= below <= 40
    # quasi-random: each quarter of the log range gets its share of 64 points
    quarters = [int((math.log10(x) + 4) / 0.5) for x in lrs]
    assert all(12 <= quarters.count(q) <= 20 for q in range(4))
    assert all(type(p["learning_rate"]) is float for p in a)  # JSON-serialisable


def test_draws_do_not_depend_on_key_order_in_the_file(tmp_path):
    reordered = dict(reversed(list(SPACE.items())))
    a = load_search_space(write(tmp_path, SPACE, "a.json")).draw(5, 3)
    b = load_search_space(write(tmp_path, reordered, "b.json")).draw(5, 3)
    assert a == b


@pytest.mark.parametrize("data", [SPACE, [{"lr": 0.1 * i} for i in range(6)]],
                         ids=["halton", "points"])
def test_point_k_does_not_depend_on_the_number_drawn(tmp_path, data):
    space = load_search_space(write(tmp_path, data))
    full = space.draw(6, seed=3)
    assert [space.draw(k + 1, seed=3)[k] for k in range(6)] == full


def test_split_into_studies_deals_one_halton_draw(tmp_path):
    space = load_search_space(write(tmp_path, SPACE))
    studies = split_into_studies(space, studies=3, trials=5, seed=11)
    assert [len(s) for s in studies] == [5, 5, 5]
    assert [p for s in studies for p in s] == space.draw(15, 11)


def test_fixed_points_are_sampled_without_replacement_per_study(tmp_path):
    points = [{"learning_rate": 0.001 * (i + 1), "warmup_factor": 0.05} for i in range(5)]
    space = load_search_space(write(tmp_path, points))
    assert space.kind == "points"
    studies = split_into_studies(space, studies=3, trials=5, seed=0)
    for study in studies:  # every study sees each point exactly once
        assert sorted(p["learning_rate"] for p in study) == [0.001 * (i + 1) for i in range(5)]
    assert len({tuple(p["learning_rate"] for p in s) for s in studies}) > 1  # orders differ
    assert split_into_studies(space, 3, 5, 0) == studies
    three = space.draw(3, seed=4)
    assert len({p["learning_rate"] for p in three}) == 3
    with pytest.raises(SearchSpaceError, match=r"lists 5 fixed points.*6 trials"):
        split_into_studies(space, studies=1, trials=6, seed=0)


@pytest.mark.parametrize("data, match", [
    ({"lr": {"max": 1.0, "scaling": "log"}}, r"field 'lr'.*missing field 'min'"),
    ({"lr": {"min": 1e-3, "scaling": "log"}}, r"field 'lr'.*missing field 'max'"),
    ({"lr": {"min": 1.0, "max": 0.1, "scaling": "linear"}}, r"field 'lr'.*min \(1.0\) is greater than max"),
    ({"lr": {"min": 0.0, "max": 0.1, "scaling": "log"}}, r"field 'lr'.min: log scaling needs min > 0"),
    ({"lr": {"min": 0.1, "max": 1, "scaling": "cubic"}}, r"field 'lr'.scaling: unknown scaling 'cubic'"),
    ({"lr": {"min": "a", "max": 1, "scaling": "linear"}}, r"field 'lr'.min: must be a finite number"),
    ({"lr": {"feasible_points": []}}, r"field 'lr'.feasible_points: must be a non-empty list"),
    ({"lr": {"feasible_points": [1], "min": 0}}, r"field 'lr'.*cannot be combined"),
    ({"lr": {"min": 0.1, "max": 1, "scaling": "log", "step": 2}}, r"field 'lr'.*unknown field"),
    ({"lr": 0.1}, r"field 'lr'.*must be an object"),
    ({"learning rate": {"feasible_points": [1]}}, r"must be a Python identifier"),
    ([], r"list of hyperparameter points is empty"),
    ([{"lr": 1}, 3], r"point \[1\] must be an object"),
    ([{"lr": 1}, {"lr": 1, "wd": 2}], r"point \[1\] has hyperparameters"),
    ("{\"lr\": ", r"not valid JSON at line 1"),
    ("42", r"must be a JSON object .* or a list of points"),
])
def test_malformed_spaces_get_clear_errors(tmp_path, data, match):
    path = write(tmp_path, data)
    with pytest.raises(SearchSpaceError, match=match) as err:
        load_search_space(path)
    assert str(path) in str(err.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SearchSpaceError, match=r"search space file not found: .*nope.json"):
        load_search_space(tmp_path / "nope.json")


def test_make_hparams_gives_attribute_access_and_pickles():
    hp = make_hparams({"learning_rate": 0.1, "label_smoothing": 0.2})
    assert hp.learning_rate == 0.1 and hasattr(hp, "label_smoothing")
    assert not hasattr(hp, "grad_clip")
    assert hp._asdict() == {"learning_rate": 0.1, "label_smoothing": 0.2}
    assert pickle.loads(pickle.dumps(hp)) == hp
    assert make_hparams(None) is None


def test_load_hparams_from_file_or_inline(tmp_path):
    path = write(tmp_path, {"learning_rate": 0.01}, "hp.json")
    assert load_hparams(path) == {"learning_rate": 0.01}
    assert load_hparams('{"learning_rate": 0.02}') == {"learning_rate": 0.02}
    assert load_hparams(write(tmp_path, [{"a": 1}], "one.json")) == {"a": 1}
    with pytest.raises(SearchSpaceError, match=r"looks like a search space.*--search-space"):
        load_hparams(write(tmp_path, SPACE, "space.json"))
    with pytest.raises(SearchSpaceError, match="hyperparameter file not found"):
        load_hparams(tmp_path / "missing.json")


@pytest.mark.parametrize("name", ["nadamw", "adamw", "sgd_momentum", "nesterov"])
def test_every_baseline_ships_a_valid_space(repo_root, name):
    space = load_search_space(repo_root / "submissions" / name / "tuning_search_space.json")
    points = space.draw(15, seed=0)
    assert len(points) == 15 and all("learning_rate" in p for p in points)
