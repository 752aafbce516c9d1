"""``algoperf-ray run``: one AlgoPerf trial in this process (or N, torchrun-style), no Ray.

Shows a line per eval while it trains, writes the eval rows and the trial
row into the results store, and ends with a one-line summary. Exit codes:
0 when the trial ran (whether or not it reached the target), 1 when it
failed (a diverged trial included), 2 on bad input.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from algoperf_ray.cli.common import (
    BudgetsOption,
    FrameworkOption,
    HardwareOption,
    RulesetOption,
    UserError,
    VersionOption,
    check_duration,
    hardware_budgets,
    user_errors,
)

LEGACY_PMAP_MODES = ("auto", "on", "off")

def _hparams(ruleset: str, submission: str, framework: str, search_space: str | None,
             trial: int, hparams: str | None, seed: int) -> tuple[dict[str, Any] | None, int]:
    """(hyperparameters, trial index) from --hparams, or the K-th point of a search space."""
    from algoperf_ray.submission import search_space as ss
    from algoperf_ray.submission.loader import find_search_space, resolve_submission_path

    if ruleset == "self":
        if hparams or search_space:
            raise UserError("self-tuning trials get no hyperparameters; drop --hparams / "
                            "--search-space or use --ruleset external")
        return None, 0
    if hparams and search_space:
        raise UserError("pass either --hparams or --search-space with --trial, not both")
    if hparams:
        return ss.load_hparams(hparams), trial
    path = search_space or find_search_space(resolve_submission_path(submission, framework))
    if path is None:
        raise UserError(f"no hyperparameters for an external-tuning trial: pass --hparams JSON "
                        f"or --search-space JSON (no tuning_search_space.json next to "
                        f"{submission})")
    if trial < 0:
        raise UserError(f"--trial must be >= 0, got {trial}")
    return ss.load_search_space(path).draw(trial + 1, seed)[trial], trial


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        workload: Annotated[str, typer.Option(help="Workload name, e.g. digits, mnist.")],
        framework: FrameworkOption,
        submission: Annotated[str, typer.Option(help="submission.py, or its folder.")],
        search_space: Annotated[str | None, typer.Option(
            help="tuning_search_space.json; with --trial K runs its K-th Halton point.")] = None,
        trial: Annotated[int, typer.Option(help="Index of the search-space point.")] = 0,
        hparams: Annotated[str | None, typer.Option(
            help="Hyperparameters: a JSON file or an inline JSON object.")] = None,
        ruleset: RulesetOption = "external",
        version: VersionOption = None,
        max_steps: Annotated[int | None, typer.Option(help="Stop after N steps.")] = None,
        data: Annotated[str, typer.Option(help="real or synthetic.")] = "real",
        data_dir: Annotated[str | None, typer.Option(help="Dataset directory.")] = None,
        store: Annotated[str, typer.Option(help="Results store (path or URI).")] = "results",
        checkpoint_dir: Annotated[str | None, typer.Option(
            help="Checkpoint at every eval here and resume from it.")] = None,
        seed: Annotated[int, typer.Option(help="Trial seed (also the search-space draw).")] = 0,
        study: Annotated[int, typer.Option(help="Study index recorded in the store.")] = 0,
        max_runtime: Annotated[float | None, typer.Option(
            help="Override the version's runtime budget (s), before the self-tuning "
                 "factor.")] = None,
        eval_period: Annotated[float | None, typer.Option(
            help="Override the version's eval period (s).")] = None,
        reduced: Annotated[bool, typer.Option(
            help="Use the workload's reduced (CPU-sized) model.")] = False,
        stop_on_nan: Annotated[int | None, typer.Option(
            help="End the trial after N consecutive evals with a NaN loss or target metric "
                 "(saves compute; off by default and in official-style runs, where a NaN "
                 "trial trains to its budget as in the reference).")] = None,
        nproc: Annotated[int | None, typer.Option(
            help="PyTorch: launch N processes torchrun-style (gloo on CPU, NCCL on GPU); "
                 "1 runs here with an initialized world-size-1 process group. Default: no "
                 "process group.")] = None,
        gpus: Annotated[int, typer.Option(
            help="GPUs this trial expects per process; it fails at once if the framework "
                 "cannot see them (a CPU-only install).")] = 0,
        torch_compile: Annotated[bool, typer.Option(
            help="torch.compile the model as the reference runner does (PyTorch).")] = False,
        hardware: HardwareOption = None,
        budgets: BudgetsOption = None,
        legacy_pmap: Annotated[str, typer.Option(
            help="JAX: run a pmap-style (v0.5/v0.6 era) submission with replicated params "
                 "and [devices, batch, ...] batches: auto (when detected), on or off.")] = "auto",
    ) -> None:
        """Run one trial locally (no Ray) and record it in the results store."""
        from algoperf_ray.spec import SubmissionError

        with user_errors(ValueError, KeyError, FileNotFoundError, ImportError, SubmissionError):
            config = _build_config(**locals())
        from algoperf_ray.cli.execute import execute

        if nproc is not None and nproc > 1:
            from algoperf_ray.cli.launch import launch

            code = launch(config, nproc)
        elif nproc == 1:
            from algoperf_ray.runner.distributed import init_from_env, shutdown

            init_from_env()
            try:
                code = execute(config)
            finally:
                shutdown()
        else:
            code = execute(config)
        if code:
            raise typer.Exit(code=1 if code < 0 else code)


def _build_config(**o: Any) -> Any:
    from algoperf_ray.benchmark.identity import TrialKey, TrialSpec
    from algoperf_ray.benchmark.registry import check_framework, get_meta
    from algoperf_ray.benchmark.versions import check_ruleset, get_version
    from algoperf_ray.runner import TrialConfig
    from algoperf_ray.submission.loader import load_submission, submission_name

    meta = get_meta(o["workload"])
    check_framework(o["framework"])
    check_ruleset(o["ruleset"])
    version = get_version(o["version"])
    check_duration("--max-runtime", o["max_runtime"])
    check_duration("--eval-period", o["eval_period"])
    _check_launch(o)
    from algoperf_ray.benchmark.hardware import budget_override

    hw, table = hardware_budgets(version.name, o["hardware"], o["budgets"], [o["workload"]],
                                 o["ruleset"], o["max_runtime"])
    from algoperf_ray.store import Store

    Store(o["store"])  # a --store that is a file fails here, before any training
    # Fail before any work with one clear error if the submission is unusable.
    load_submission(o["submission"], o["framework"])
    if o["data"] not in ("real", "synthetic"):
        raise UserError(f"--data must be real or synthetic, got {o['data']!r}")
    hp, trial = _hparams(o["ruleset"], o["submission"], o["framework"], o["search_space"],
                         o["trial"], o["hparams"], o["seed"])
    key = TrialKey(version=version.name, ruleset=o["ruleset"],
                   submission=submission_name(o["submission"]), framework=o["framework"],
                   workload=o["workload"], study=o["study"], trial=trial).validate()
    spec = TrialSpec(key=key, submission_path=o["submission"], seed=o["seed"], hparams=hp)
    return TrialConfig(
        spec, data_mode=o["data"], data_dir=o["data_dir"], max_global_steps=o["max_steps"],
        store_uri=o["store"], checkpoint_dir=o["checkpoint_dir"],
        max_runtime_sec=budget_override(o["workload"], o["max_runtime"], table),
        eval_period_sec=o["eval_period"],
        workload_kwargs={**_reduced_kwargs(meta, o["reduced"]), **_legacy(o["legacy_pmap"])},
        stop_on_nan=o["stop_on_nan"],
        gpus=o["gpus"], torch_compile=o["torch_compile"], hardware=hw)


def _check_launch(o: dict[str, Any]) -> None:
    """Usage errors of the launch options, before anything starts."""
    if o["stop_on_nan"] is not None and o["stop_on_nan"] < 1:
        raise UserError(f"--stop-on-nan must be >= 1 evals, got {o['stop_on_nan']}")
    if o["gpus"] < 0:
        raise UserError(f"--gpus must be >= 0, got {o['gpus']}")
    if o["nproc"] is not None:
        if o["nproc"] < 1:
            raise UserError(f"--nproc must be >= 1, got {o['nproc']}")
        if o["framework"] != "pytorch":
            raise UserError("--nproc launches PyTorch processes; a JAX trial uses every "
                            "local device from one process (drop --nproc)")
    if o["torch_compile"] and o["framework"] != "pytorch":
        raise UserError("--torch-compile applies to PyTorch only; JAX workloads are jitted")


def _legacy(mode: str) -> dict[str, Any]:
    """The runner's legacy-pmap workload option (``auto`` is the runner's default)."""
    if mode not in LEGACY_PMAP_MODES:
        raise UserError(f"--legacy-pmap must be one of {', '.join(LEGACY_PMAP_MODES)}, "
                        f"got {mode!r}")
    return {} if mode == "auto" else {"legacy_pmap": mode}


def _reduced_kwargs(meta: Any, reduced: bool) -> dict[str, Any]:
    if not reduced:
        return {}
    import importlib

    module = importlib.import_module(f"algoperf_ray.workloads.{meta.family}.metadata")
    return dict(getattr(module, "REDUCED_SIZE_KWARGS", {}).get(meta.name, {}))
