"""--torch-compile: the reference runner's table, and eager vs compiled digits runs agree."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from algoperf_ray.benchmark.identity import TrialSpec  # noqa: E402
from algoperf_ray.runner import TrialConfig, run_trial  # noqa: E402
from algoperf_ray.runner.backend import get_backend  # noqa: E402
from algoperf_ray.store import TrialKey  # noqa: E402


class _Workload:
    def loss_fn(self, *args):
        return args


@pytest.mark.parametrize("name, model_compiled, loss_compiled", [
    ("mnist", True, False),
    ("wmt", True, True),  # the reference compiles wmt's loss too
    ("ogbg", False, False),  # left eager by the reference (compile errors)
    ("ogbg_gelu", False, False),  # variants follow their base workload
    ("imagenet_vit", False, False),
])
def test_compile_table_follows_the_reference(name, model_compiled, loss_compiled):
    model, workload = torch.nn.Linear(2, 2), _Workload()
    plain_loss = workload.loss_fn
    out = get_backend("pytorch").compile_model(workload, model, name)
    assert (out is not model) == model_compiled
    assert hasattr(out, "_orig_mod") == model_compiled  # torch.compile's wrapper
    assert (workload.loss_fn != plain_loss) == loss_compiled


def _digits_rows(tmp_path, compiled: bool) -> list[dict]:
    key = TrialKey(version="0.6", ruleset="external", submission="nadamw", framework="pytorch",
                   workload="digits", study=0, trial=int(compiled))
    hp = {"learning_rate": 3e-3, "one_minus_beta1": 0.1, "beta2": 0.999, "weight_decay": 0.01,
          "warmup_factor": 0.05, "label_smoothing": 0.0, "dropout_rate": 0.0}
    config = TrialConfig(TrialSpec(key, "submissions/nadamw", seed=3, hparams=hp),
                         max_global_steps=4, eval_period_sec=0.0, torch_compile=compiled,
                         max_runtime_sec=3600.0,  # CPU compile time must not end the trial
                         checkpoint_dir=str(tmp_path / f"ckpt{int(compiled)}"))
    result = run_trial(config)
    assert result.status == "completed", result.error
    return result.eval_rows


@pytest.mark.slow
def test_compiled_digits_matches_eager_within_tolerance(tmp_path):
    torch.manual_seed(0)
    eager = _digits_rows(tmp_path, compiled=False)
    compiled = _digits_rows(tmp_path, compiled=True)
    assert [r["global_step"] for r in eager] == [r["global_step"] for r in compiled] == [1, 2, 3, 4]
    for a, b in zip(eager, compiled, strict=True):
        for column in ("train/loss", "validation/loss", "validation/accuracy"):
            assert math.isclose(a[column], b[column], rel_tol=1e-3, abs_tol=1e-4), column
    # compilation happens on the first forward: inside the timed first step, as the reference
    assert compiled[0]["accumulated_submission_time"] > eager[0]["accumulated_submission_time"]
    # the checkpoint of a compiled model holds the bare module's weights
    saved = torch.load(tmp_path / "ckpt1" / "checkpoint.pt", weights_only=False)
    assert not any(k.startswith("_orig_mod") for k in saved["params"])
