"""Loading submissions: compat aliases, names, and one clear error per failure."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from algoperf_ray import compat, spec
from algoperf_ray.spec import SubmissionError
from algoperf_ray.submission.loader import find_search_space, load_submission, submission_name

GOOD = """
from algoperf import spec

def get_batch_size(workload_name):
    return 8

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


def write(tmp_path, body, name="submission.py"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def test_aliases_are_the_project_modules_and_install_is_idempotent():
    compat.install()
    compat.install()
    assert sum(isinstance(f, compat.AlgoperfCompatFinder) for f in sys.meta_path) == 1
    import algoperf.spec
    import algorithmic_efficiency.pytorch_utils
    from algoperf import jax_sharding_utils, param_utils, random_utils

    import algoperf_ray.compat.param_utils
    import algoperf_ray.compat.pytorch_utils
    import algoperf_ray.workload.rng
    import algoperf_ray.workload.sharding_jax

    assert algoperf.spec is spec
    assert algorithmic_efficiency.pytorch_utils is algoperf_ray.compat.pytorch_utils
    assert jax_sharding_utils is algoperf_ray.workload.sharding_jax
    assert param_utils is algoperf_ray.compat.param_utils
    assert random_utils is algoperf_ray.workload.rng
    assert spec.__spec__.name == "algoperf_ray.spec"  # the real module keeps its own spec
    for name in ("get_replicate_sharding", "get_batch_dim_sharding", "shard_along_batch_dim",
                 "replicate", "disp_shard_info", "display_shard_info"):
        assert callable(getattr(jax_sharding_utils, name)), name
    for name in ("pytorch_setup", "pytorch_init", "sync_ddp_time", "update_batch_norm_fn"):
        assert callable(getattr(algoperf_ray.compat.pytorch_utils, name)), name


# Names of the public algoperf.spec that submissions use (annotations are
# evaluated at import time, so a missing alias breaks the import).
PUBLIC_SPEC_NAMES = (
    "LossType", "ForwardPassMode", "ParameterType", "Tensor", "ShapeTuple", "Shape",
    "ParameterShapeTree", "ParameterKey", "ParameterContainer", "ParameterTypeTree",
    "RandomState", "OptimizerState", "Hyperparameters", "Timing", "Steps",
    "ModelAuxiliaryState", "ModelInitState", "Workload", "TrainingCompleteError",
    "InitOptimizerFn", "UpdateReturn", "UpdateParamsFn", "PrepareForEvalFn", "DataSelectionFn",
)


def test_alias_spec_has_every_public_name():
    compat.install()
    import algoperf.spec

    missing = [n for n in PUBLIC_SPEC_NAMES if not hasattr(algoperf.spec, n)]
    assert not missing
    assert callable(algoperf.spec.Workload.attach_metrics_logger)


def test_real_package_wins_over_the_aliases(tmp_path):
    real = tmp_path / "site" / "algoperf"
    real.mkdir(parents=True)
    (real / "__init__.py").write_text("")
    (real / "spec.py").write_text("REAL = True\n")
    code = ("from algoperf_ray import compat; compat.install(); "
            "import algoperf.spec; print(getattr(algoperf.spec, 'REAL', False)); "
            "import algorithmic_efficiency.spec as s; print(s.__name__)")
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(tmp_path / "site")},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "algoperf_ray.spec"]


UNINSTALL = """
import sys, algoperf_ray.compat as compat, algoperf_ray.submission.loader
print(any(type(f).__name__ == 'AlgoperfCompatFinder' for f in sys.meta_path))
compat.install()
import algoperf.spec
compat.uninstall()
print([m for m in sys.modules if m.partition('.')[0] == 'algoperf'])
try:
    import algoperf.spec
except ModuleNotFoundError as e:
    print(e.name)
"""


def test_importing_compat_has_no_side_effect_and_uninstall_cleans_up():
    out = subprocess.run([sys.executable, "-c", UNINSTALL], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split("\n")[:3] == ["False", "[]", "algoperf"]


def test_good_submission_loads_with_defaults(tmp_path):
    path = write(tmp_path / "my_algo", GOOD)
    sub = load_submission(path)
    assert sub.name == "my_algo" and sub.path == str(path.resolve())
    assert sub.get_batch_size("mnist") == 8
    assert not sub.update_accepts_train_state and not sub.has_prepare_for_eval
    out = sub.prepare_for_eval(workload=None, current_param_container="p",
                               current_params_types=None, model_state="s", hyperparameters=None,
                               loss_type=None, optimizer_state="o", eval_results=[],
                               global_step=3, rng=None)
    assert out == ("o", "p", "s")
    assert load_submission(tmp_path / "my_algo").module is sub.module  # folder path, cached


def test_names_and_search_space_of_the_reference_layout(repo_root):
    path = repo_root / "submissions" / "nadamw" / "pytorch" / "submission.py"
    assert submission_name(path) == "nadamw"
    assert submission_name("x/my_opt.py") == "my_opt"
    assert find_search_space(path) == repo_root / "submissions" / "nadamw" / "tuning_search_space.json"
    with pytest.raises(SubmissionError, match=r"pass --framework \(jax/pytorch\)"):
        load_submission(repo_root / "submissions" / "nadamw")


@pytest.mark.parametrize("body, match", [
    (GOOD.replace("def data_selection", "def not_data_selection")
     .replace("def get_batch_size", "def no_batch_size"),
     r"does not define get_batch_size, data_selection"),
    ("import not_a_real_module_xyz\n" + GOOD,
     r"failed to import at line 1: ModuleNotFoundError.*not_a_real_module_xyz.*pip install"),
    ("from algoperf.workloads.mnist import workload\n" + GOOD,
     r"failed to import at line 1.*provides only these modules.*algoperf.pytorch_utils"),
    (GOOD + "\nraise RuntimeError('boom at import')\n",
     r"failed to import at line \d+: RuntimeError: boom at import"),
    (GOOD + "\ndef broken(:\n", r"failed to import.*SyntaxError"),
    (GOOD.replace("global_step, rng):\n    return optimizer_state", "rng):\n    return optimizer_state"),
     r"update_params cannot be called as update_params\(workload, .*global_step"),
    (GOOD + "\nget_batch_size = 64\n", r"get_batch_size is a int, not a function"),
    (GOOD.replace("global_step, rng):\n    return next", "rng):\n    return next"),
     r"data_selection cannot be called as data_selection\(workload, .*too many positional"),
], ids=["missing-functions", "missing-package", "unknown-algoperf-module", "raises-at-import",
        "syntax-error", "wrong-signature", "not-callable", "too-few-positional"])
def test_broken_submissions_get_one_clear_error(tmp_path, body, match):
    path = write(tmp_path, body)
    with pytest.raises(SubmissionError, match=match) as err:
        load_submission(path)
    assert str(path.resolve()) in str(err.value)


def test_bad_paths_are_named(tmp_path):
    with pytest.raises(SubmissionError, match=r"submission not found: .*missing\.py"):
        load_submission(tmp_path / "missing.py")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SubmissionError, match="is not a Python file"):
        load_submission(tmp_path / "notes.txt")
    with pytest.raises(SubmissionError, match="contains no submission.py"):
        load_submission(tmp_path)


def test_positionally_called_functions_may_rename_arguments(tmp_path):
    body = GOOD.replace("current_param_container,\n                   model_state, hyperparameters, global_step",
                        "model_params,\n                   model_state, hparams, step")
    assert "model_params,\n                   model_state, hparams, step" in body
    assert load_submission(write(tmp_path, body)).data_selection is not None


def test_submission_can_import_a_helper_next_to_it(tmp_path):
    write(tmp_path / "algo", "SCALE = 3\n", "helper_mod_for_test.py")
    path = write(tmp_path / "algo", GOOD.replace("return 8", "return 8 * helper_mod_for_test.SCALE")
                 .replace("from algoperf import spec", "from algoperf import spec\nimport helper_mod_for_test"))
    assert load_submission(path).get_batch_size("x") == 24
    assert sys.path[-1] == str(path.parent.resolve())  # kept, but last: shadows nothing
