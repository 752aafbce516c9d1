"""Legacy pmap submissions are recognised from their source, and the mode switch is clear.

No JAX computation here: detection is source analysis, and the mode decision
is made before any workload is built.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from algoperf_ray.compat import legacy_pmap
from algoperf_ray.spec import SubmissionError
from algoperf_ray.submission.loader import load_submission

FIXTURES = Path(__file__).resolve().parents[1] / "submissions" / "fixtures"


def test_pmap_fixture_is_detected_with_lines():
    found = legacy_pmap.detect(FIXTURES / "pmap_jax" / "submission.py")
    kinds = " | ".join(found)
    assert "calls jax.pmap" in kinds and "(replicate)" in kinds and "(psum)" in kinds
    assert all(f.startswith("submission.py:") for f in found)


@pytest.mark.parametrize("fixture", ["public_jax", "traced_dropout_jax"])
def test_jit_style_submissions_are_not_detected(fixture):
    assert legacy_pmap.detect(FIXTURES / fixture / "submission.py") == []


def test_replicate_or_pmean_alone_is_not_the_pmap_style(tmp_path):
    path = tmp_path / "submission.py"
    path.write_text(textwrap.dedent("""
        from flax import jax_utils
        from jax import lax
        state = jax_utils.replicate({})
        lax.pmean(1.0, axis_name='batch')
    """))
    assert legacy_pmap.detect(path) == []


def test_decorated_and_partial_pmap_are_detected(tmp_path):
    path = tmp_path / "submission.py"
    path.write_text(textwrap.dedent("""
        import functools, jax
        @jax.pmap
        def a(x):
            return x
        b = functools.partial(
            jax.pmap, axis_name='batch')(lambda x: x)
    """))
    found = legacy_pmap.detect(path)
    assert found == ["submission.py:3 uses jax.pmap", "submission.py:6 calls jax.pmap"]


def test_pmap_in_a_helper_module_of_the_api_functions_is_detected(tmp_path):
    """Old target-setting submissions import update_params from a shared pmap base."""
    (tmp_path / "legacy_pmap_base_fixture.py").write_text(textwrap.dedent("""
        import jax
        step = jax.pmap(lambda x: x, axis_name='batch')
        def update_params(**kwargs):
            return step
    """))
    sub = tmp_path / "submission.py"
    sub.write_text(textwrap.dedent("""
        from legacy_pmap_base_fixture import update_params
        def get_batch_size(workload_name):
            return 8
        def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
            return None
        def data_selection(workload, input_queue, optimizer_state, current_param_container,
                           model_state, hyperparameters, global_step, rng):
            return next(input_queue)
    """))
    assert legacy_pmap.detect(sub) == []  # the file itself does not show the style
    loaded = load_submission(sub, "jax")
    assert loaded.pmap_style == ("legacy_pmap_base_fixture.py:3 calls jax.pmap",)


@pytest.mark.parametrize("option, env, mode", [
    (None, None, "auto"), (None, "1", "on"), (None, "off", "off"), (None, "AUTO", "auto"),
    ("on", "0", "on"), (True, None, "on"), (False, "1", "off"), ("auto", "off", "auto"),
])
def test_mode_option_wins_over_environment(monkeypatch, option, env, mode):
    if env is None:
        monkeypatch.delenv(legacy_pmap.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(legacy_pmap.ENV_VAR, env)
    assert legacy_pmap.resolve_mode(option) == mode


def test_bad_mode_names_the_switch_and_the_values(monkeypatch):
    monkeypatch.setenv(legacy_pmap.ENV_VAR, "maybe")
    with pytest.raises(ValueError, match="ALGOPERF_RAY_LEGACY_PMAP='maybe'.*auto"):
        legacy_pmap.resolve_mode()


def _submission(findings=("submission.py:9 calls jax.pmap",)):
    return SimpleNamespace(path="/x/submission.py", pmap_style=tuple(findings))


def test_off_refuses_a_pmap_submission_with_what_was_found_and_how_to_turn_on(monkeypatch):
    monkeypatch.setenv(legacy_pmap.ENV_VAR, "off")
    with pytest.raises(SubmissionError) as err:
        legacy_pmap.wants_legacy(_submission(), "jax")
    message = str(err.value)
    for part in ("/x/submission.py", "submission.py:9 calls jax.pmap", "[devices, "
                 "per_device_batch", "ALGOPERF_RAY_LEGACY_PMAP=1", "legacy_pmap='on'"):
        assert part in message
    assert legacy_pmap.wants_legacy(_submission(()), "jax") is False


def test_auto_follows_detection_and_on_forces(monkeypatch):
    monkeypatch.delenv(legacy_pmap.ENV_VAR, raising=False)
    assert legacy_pmap.wants_legacy(_submission(), "jax") is True
    assert legacy_pmap.wants_legacy(_submission(()), "jax") is False
    assert legacy_pmap.wants_legacy(_submission(()), "jax", option="on") is True
    assert legacy_pmap.wants_legacy(_submission(), "pytorch") is False


def test_on_for_pytorch_is_a_clear_error():
    with pytest.raises(SubmissionError, match="for JAX submissions.*'pytorch'"):
        legacy_pmap.wants_legacy(_submission(()), "pytorch", option="on")


def test_configure_leaves_a_jit_trial_untouched(monkeypatch):
    monkeypatch.delenv(legacy_pmap.ENV_VAR, raising=False)
    workload = object()
    assert legacy_pmap.configure(workload, _submission(()), "jax") is workload
