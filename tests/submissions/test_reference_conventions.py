"""Submissions load and size their batches the way the reference's runner does.

Public submissions rely on the reference runner's conventions: the working
directory (the repository root) is on ``sys.path``, a submission inside a
package is imported as a module of that package (relative imports work),
and ``get_batch_size`` is asked for the base workload's name when it
raises ``ValueError`` for a variant. Each test writes a real submission in
that style and loads it through the real loader.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid

import pytest

from algoperf_ray.benchmark.registry import all_workloads
from algoperf_ray.spec import SubmissionError
from algoperf_ray.submission.loader import batch_size_names, load_submission

# Only the benchmark's base names, as public submissions have them.
BENCHMARK_ONLY = """
BATCH = {"criteo1tb": 262144, "fastmri": 32, "imagenet_resnet": 1024, "imagenet_vit": 1024,
         "librispeech_conformer": 256, "librispeech_deepspeech": 256, "ogbg": 512,
         "wmt": 128, "mnist": 16, "finewebedu_lm": 64}

def get_batch_size(workload_name):
    if workload_name not in BATCH:
        raise ValueError(f"Unsupported workload name: {workload_name}.")
    return BATCH[workload_name]

def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
    return {}

def update_params(workload, current_param_container, current_params_types, model_state,
                  hyperparameters, batch, loss_type, optimizer_state, eval_results,
                  global_step, rng):
    return optimizer_state, current_param_container, model_state

def data_selection(workload, input_queue, optimizer_state, current_param_container,
                   model_state, hyperparameters, global_step, rng):
    return next(input_queue)
"""


def _write(path, body):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


@pytest.fixture(scope="module")
def benchmark_only(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench_only")
    return load_submission(_write(folder / "submission.py", BENCHMARK_ONLY))


VARIANTS = sorted(n for n, m in all_workloads().items() if m.base is not None)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_falls_back_to_its_base_workload(benchmark_only, variant):
    base = all_workloads()[variant].base
    assert batch_size_names(variant)[:2] == [variant, base]
    expected = benchmark_only.module.BATCH.get(base)
    if expected is None:  # a base the public table above does not list
        with pytest.raises(SubmissionError, match="knows none of the names"):
            benchmark_only.get_batch_size(variant)
    else:
        assert benchmark_only.get_batch_size(variant) == expected


def test_dev_workload_digits_uses_its_stand_in_mnist(benchmark_only):
    assert batch_size_names("digits") == ["digits", "mnist"]
    assert benchmark_only.get_batch_size("digits") == 16


def test_unknown_everywhere_names_every_try_and_the_fix(benchmark_only):
    with pytest.raises(SubmissionError) as info:
        benchmark_only.get_batch_size("cifar")
    assert "'cifar': ValueError: Unsupported workload name: cifar." in str(info.value)
    assert "Add the workload" in str(info.value)


def test_public_style_submission_trains_on_digits(tmp_path, benchmark_only):
    """The runner asks the submission for 'digits', gets mnist's batch, and trains."""
    from algoperf_ray.benchmark.registry import load_workload
    from algoperf_ray.runner import TrialConfig
    from algoperf_ray.runner.trial import run_loaded_trial

    workload = load_workload("digits", "pytorch", data_mode="real")
    config = TrialConfig.build(workload="digits", framework="pytorch",
                               submission_path=benchmark_only.path, ruleset="self",
                               max_global_steps=2, raise_on_error=True)
    result = run_loaded_trial(config, workload, benchmark_only)
    assert result.status == "completed" and result.global_step == 2


def test_package_relative_import(tmp_path):
    pkg = f"pkg_{uuid.uuid4().hex[:8]}"
    _write(tmp_path / pkg / "__init__.py", "")
    _write(tmp_path / pkg / "utils.py", "BATCH = 24\n")
    body = BENCHMARK_ONLY.replace("def get_batch_size(workload_name):",
                                  "from .utils import BATCH as _B\n\ndef get_batch_size(workload_name):\n    return _B\n\ndef _old(workload_name):")
    sub = load_submission(_write(tmp_path / pkg / "submission.py", body))
    assert sub.module.__name__ == f"{pkg}.submission"
    assert sub.get_batch_size("ogbg") == 24


def test_repository_root_imports_resolve_from_the_working_directory(tmp_path, monkeypatch):
    """``from submissions.self_tuning.<x>.muon import Muon`` as in a public submission."""
    root = tmp_path / f"repo_{uuid.uuid4().hex[:8]}"
    folder = root / "submissions" / "self_tuning" / "muon_x"
    _write(folder / "muon.py", "class Muon:\n    batch = 12\n")
    body = BENCHMARK_ONLY.replace(
        "def get_batch_size(workload_name):",
        "from submissions.self_tuning.muon_x.muon import Muon\n\n"
        "def get_batch_size(workload_name):\n    return Muon.batch\n\ndef _old(workload_name):")
    path = _write(folder / "submission.py", body)
    monkeypatch.chdir(root)
    for name in [m for m in sys.modules if m == "submissions" or m.startswith("submissions.")]:
        monkeypatch.delitem(sys.modules, name)
    sub = load_submission(path)
    assert sub.get_batch_size("wmt") == 12


def test_missing_module_error_names_it_and_three_causes(tmp_path):
    path = _write(tmp_path / "submission.py", "import not_a_real_module_xyz\n" + BENCHMARK_ONLY)
    with pytest.raises(SubmissionError) as info:
        load_submission(path)
    text = str(info.value)
    assert "'not_a_real_module_xyz' was not found" in text
    assert "(1) a package that is not installed" in text
    assert "(2) a module of your repository that is not on sys.path" in text
    assert "(3) a module that only the reference package provides" in text


def test_generic_names_workloads_and_submissions_are_not_installed():
    """Our folders must not shadow a user's own ``submissions`` / ``workloads`` packages."""
    code = ("import importlib.util, sys; sys.path = [p for p in sys.path if p not in ('', '.')]; "
            "print(importlib.util.find_spec('submissions'), importlib.util.find_spec('workloads'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd="/", timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "None None"
