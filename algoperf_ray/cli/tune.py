"""``algoperf-ray tune``: a whole ruleset on Ray Tune, then the scores.

With only ``--ruleset`` it runs the embedded quickstart: two of our
baselines tuned on the ``digits`` workload on a local Ray, in a few minutes
on two cores, then the leaderboard, ``scores.parquet`` and the profile plot.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from algoperf_ray.cli.common import (
    BudgetsOption,
    HardwareOption,
    RulesetOption,
    UserError,
    VersionOption,
    check_duration,
    err_console,
    hardware_budgets,
    user_errors,
)

REPO = Path(__file__).resolve().parents[2]
# The quickstart: baselines (per ruleset), workload, framework, studies, trials.
QUICKSTART = {
    # Our baselines work in both rulesets: with no hyperparameters (self-tuning)
    # they use their fixed self-tuning point.
    "submissions": {"external": ["submissions/nadamw", "submissions/adamw"],
                    "self": ["submissions/nadamw", "submissions/adamw"]},
    "workloads": "digits", "framework": "pytorch", "studies": 3, "trials": 2,
}


def _quickstart_submissions(ruleset: str) -> list[str]:
    found = [str(REPO / p) for p in QUICKSTART["submissions"][ruleset] if (REPO / p).exists()]
    if not found:
        raise UserError(f"no --submission given and the quickstart baselines "
                        f"{QUICKSTART['submissions'][ruleset]} are not in {REPO}; "
                        f"pass --submission PATH")
    return found


def _check_importable(refs: list) -> None:
    """Import every submission once in the driver: one clear error before any trial."""
    from algoperf_ray.submission.loader import load_submission

    for ref in refs:
        load_submission(ref.path)


def _local_or_uri(path: str) -> str:
    """Cloud URIs stay as they are; local paths become absolute."""
    return path if "://" in path else str(Path(path).expanduser().resolve())


def _experiment_dirs(storage: str, base: str) -> dict[str, float]:
    """Experiment folders named ``base*`` under ``storage`` (local path or URI) -> mtime."""
    import pyarrow.fs as pafs

    if "://" in storage:
        fs, root = pafs.FileSystem.from_uri(storage)
    else:
        fs, root = pafs.LocalFileSystem(), storage
    infos = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    return {i.base_name: (i.mtime.timestamp() if i.mtime else 0.0) for i in infos
            if i.type == pafs.FileType.Directory and i.base_name.startswith(base)}


def _experiment_name(name: str | None, ruleset: str, storage: str, resume: bool) -> str:
    """``--name``, else ``algoperf-<ruleset>``; a fresh run never reuses a Tune folder.

    ``--resume`` without ``--name`` picks the newest experiment of the ruleset.
    Works for a local storage path and for a cloud URI alike.
    """
    base = name or f"algoperf-{ruleset}"
    runs = _experiment_dirs(storage, base)
    if resume:
        if name is None and runs:
            return max(runs, key=runs.__getitem__)
        return base
    if base not in runs:
        return base
    return f"{base}-{time.strftime('%Y%m%d-%H%M%S')}"


def _plan(ruleset: str, submission: list[str] | None, search_space: str | None,
          workloads: str | None, framework: str | None, studies: int | None,
          trials: int | None, seed: int, version: str | None) -> list:
    """Resolve the request (or the quickstart) into trial specs; all errors here.

    Studies and trials default to the version's numbers for the ruleset
    (the quickstart uses its own small ones).
    """
    from algoperf_ray.tune.plan import make_plan, resolve_submission

    quick = not submission
    framework = framework or (QUICKSTART["framework"] if quick else "jax")
    paths = submission or _quickstart_submissions(ruleset)
    refs = [resolve_submission(p, framework, search_space) for p in paths]
    names = (workloads or (QUICKSTART["workloads"] if quick else "")).split(",")
    specs = make_plan(
        ruleset=ruleset, submissions=refs, workloads=[w.strip() for w in names if w.strip()],
        framework=framework,
        studies=studies or (QUICKSTART["studies"] if quick else None),
        trials=trials or (QUICKSTART["trials"] if quick else None),
        seed=seed, version=version)
    _check_importable(refs)
    return specs


def _print_summary(summary, prune: bool) -> None:
    from rich.console import Console

    c = Console()
    c.print(f"[bold]{len(summary.trials)} trials run[/] in {summary.wall_s:.1f} s "
            f"({summary.skipped} already completed in the store): "
            f"{summary.count('completed')} completed, {summary.count('pruned')} pruned, "
            f"{summary.count('failed')} failed")
    for t in summary.trials:
        if t["algoperf_status"] == "failed":
            c.print(f"  [red]failed[/] {t['trial_id']}: {t.get('error', '')[:200]}")
    if prune:
        c.print(f"pruning stopped {summary.count('pruned')} trials, saving up to "
                f"{summary.saved_budget_sec:.1f} s of submission-time budget")


def _score(store_uri: str, ruleset: str, version: str, out_dir: Path,
           submissions: list[str], workloads: list[str], studies: int, trials: int) -> None:
    """Score the experiment with the store's scorer; leaderboard, Parquet, plot.

    When the tuned workloads are not the version's base set (the quickstart
    tunes only ``digits``), the profile is taken over the tuned workloads, with
    the version's targets and budgets, so a dev run still gets a real score.
    """
    from algoperf_ray.benchmark.versions import get_version
    from algoperf_ray.scoring import report
    from algoperf_ray.scoring.scoring import score_store, score_table
    from algoperf_ray.store import Store

    store, v = Store(store_uri), get_version(version)
    if set(workloads) <= set(v.base_workloads):
        result = score_store(store, ruleset, version, submissions=submissions)
    else:
        dev = v.scoring_only(workloads, studies={ruleset: studies}, trials={ruleset: trials})
        table = store.read_evals(filters={"version": v.name, "ruleset": ruleset,
                                          "submission": submissions, "workload": workloads})
        result = score_table(table, dev, ruleset)
    out_dir.mkdir(parents=True, exist_ok=True)
    report.print_leaderboard(result)
    report.write_scores(result, str(out_dir / "scores.parquet"))
    report.plot_profiles(result, str(out_dir / "performance_profile.png"))
    err_console.print(f"wrote {out_dir / 'scores.parquet'} and "
                      f"{out_dir / 'performance_profile.png'}")


def tune(  # noqa: PLR0913 - one option per CLI flag
    ruleset: RulesetOption,
    submission: Annotated[list[str] | None, typer.Option(
        help="submission folder or file (repeatable); default: the quickstart baselines")] = None,
    search_space: Annotated[str | None, typer.Option(
        help="tuning_search_space.json (default: the one next to the submission)")] = None,
    workloads: Annotated[str | None, typer.Option(help="comma-separated workload names")] = None,
    framework: Annotated[str | None, typer.Option(help="jax or pytorch")] = None,
    studies: Annotated[int | None, typer.Option(
        help="studies per workload (default: the version's, 3 in v0.6)")] = None,
    trials: Annotated[int | None, typer.Option(
        help="trials per study (default: the version's, 5 in v0.6; self-tuning: 1)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the hyperparameter draw and trials")] = 0,
    store: Annotated[str, typer.Option(help="results store: path or cloud URI")] =
        "algoperf_results/store",
    storage_path: Annotated[str, typer.Option(
        help="Ray Tune experiments and checkpoints (shared storage on clusters)")] =
        "algoperf_results/ray",
    out: Annotated[str, typer.Option(help="folder for scores.parquet and the plot")] =
        "algoperf_results",
    name: Annotated[str | None, typer.Option(help="experiment name")] = None,
    address: Annotated[str | None, typer.Option(help="Ray address; 'auto' on a cluster")] = None,
    gpus_per_trial: Annotated[int, typer.Option(help="GPUs per trial (8 on benchmark HW)")] = 0,
    cpus_per_trial: Annotated[float, typer.Option(help="CPUs per trial (or per worker)")] = 1.0,
    workers_per_trial: Annotated[int, typer.Option(
        help="PyTorch DDP workers per trial without GPUs (gloo)")] = 1,
    use_train: Annotated[str, typer.Option(
        help="auto (Ray Train for multi-worker trials), always or never")] = "auto",
    max_concurrent: Annotated[int | None, typer.Option(
        help="cap on concurrent trials (set on autoscaling clusters)")] = None,
    max_failures: Annotated[int, typer.Option(help="retries per trial on node loss")] = 2,
    resume: Annotated[bool, typer.Option(help="resume the interrupted experiment")] = False,
    prune_dominated: Annotated[bool, typer.Option(
        help="stop trials that can no longer change their study's time")] = False,
    data_mode: Annotated[str, typer.Option(help="real or synthetic")] = "real",
    data_dir: Annotated[str | None, typer.Option(help="dataset folder")] = None,
    max_global_steps: Annotated[int | None, typer.Option(help="stop trials after N steps")] = None,
    max_runtime_sec: Annotated[float | None, typer.Option(
        help="override the version's budget (before the self-tuning factor)")] = None,
    eval_period_sec: Annotated[float | None, typer.Option(help="override the eval period")] = None,
    version: VersionOption = None,
    hardware: HardwareOption = None,
    budgets: BudgetsOption = None,
    stop_on_nan: Annotated[int | None, typer.Option(
        help="end a trial after N consecutive NaN evals (off by default and in "
             "official-style runs)")] = None,
    ddp: Annotated[bool, typer.Option(
        help="PyTorch: give one-worker trials a process group too (a Ray Train worker, "
             "as under torchrun)")] = False,
    torch_compile: Annotated[bool, typer.Option(
        help="torch.compile models as the reference runner does (PyTorch)")] = False,
    legacy_pmap: Annotated[str, typer.Option(
        help="JAX: pmap-style (v0.5/v0.6 era) submissions: auto (when detected), on or "
             "off")] = "auto",
    score: Annotated[bool, typer.Option(help="score the store at the end")] = True,
) -> None:
    """Tune submissions under a ruleset on Ray, then score the experiment."""
    from algoperf_ray.benchmark.registry import UnknownFrameworkError, UnknownWorkloadError
    from algoperf_ray.benchmark.versions import UnknownVersionError, get_version
    from algoperf_ray.spec import SubmissionError
    from algoperf_ray.submission.search_space import SearchSpaceError
    from algoperf_ray.tune.options import USE_TRAIN_CHOICES
    from algoperf_ray.tune.plan import PlanError

    with user_errors(PlanError, SubmissionError, SearchSpaceError, UnknownWorkloadError,
                     UnknownFrameworkError, UnknownVersionError, ValueError):
        version = get_version(version).name
        if use_train not in USE_TRAIN_CHOICES:
            raise UserError(f"--use-train must be auto, always or never, not {use_train!r}")
        if data_mode not in ("real", "synthetic"):
            raise UserError(f"--data-mode must be real or synthetic, not {data_mode!r}")
        check_duration("--max-runtime-sec", max_runtime_sec)
        check_duration("--eval-period-sec", eval_period_sec)
        if stop_on_nan is not None and stop_on_nan < 1:
            raise UserError(f"--stop-on-nan must be >= 1 evals, got {stop_on_nan}")
        if ddp and use_train == "never":
            raise UserError("--ddp runs trials on Ray Train workers: drop --use-train never")
        specs = _plan(ruleset, submission, search_space, workloads, framework, studies,
                      trials, seed, version)
        hw, table = hardware_budgets(version, hardware, budgets,
                                     sorted({s.key.workload for s in specs}), ruleset,
                                     max_runtime_sec)
    from algoperf_ray.tune.driver import run_experiment
    from algoperf_ray.tune.options import TuneOptions

    storage = _local_or_uri(storage_path)
    store_uri = _local_or_uri(store)
    opts = TuneOptions(
        experiment=_experiment_name(name, ruleset, storage, resume), storage_path=storage,
        store_uri=store_uri, data_mode=data_mode, data_dir=data_dir,
        cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
        workers_per_trial=workers_per_trial, use_train=use_train, max_failures=max_failures,
        max_concurrent=max_concurrent, prune_dominated=prune_dominated,
        max_global_steps=max_global_steps, max_runtime_sec=max_runtime_sec,
        eval_period_sec=eval_period_sec, stop_on_nan=stop_on_nan, ddp=ddp,
        torch_compile=torch_compile, hardware=hw, budgets=table,
        extra_config=_legacy_config(legacy_pmap))
    err_console.print(f"experiment [bold]{opts.experiment}[/]: {len(specs)} trials "
                      f"(v{version} {ruleset}, {specs[0].key.framework}) -> store {store_uri}")
    summary = run_experiment(specs, opts, address=address, resume=resume)
    _print_summary(summary, prune_dominated)
    if score:
        with user_errors(ValueError, KeyError):
            keys = [s.key for s in specs]
            _score(store_uri, ruleset, version, Path(out), sorted({k.submission for k in keys}),
                   sorted({k.workload for k in keys}), 1 + max(k.study for k in keys),
                   1 + max(k.trial for k in keys))


def register(app: typer.Typer) -> None:
    app.command(name="tune")(tune)


def _legacy_config(mode: str) -> dict[str, Any]:
    """Legacy pmap mode travels to every trial as a workload option (see ``run --legacy-pmap``)."""
    from algoperf_ray.cli.run import LEGACY_PMAP_MODES

    if mode not in LEGACY_PMAP_MODES:
        raise UserError(f"--legacy-pmap must be one of {', '.join(LEGACY_PMAP_MODES)}, "
                        f"got {mode!r}")
    return {} if mode == "auto" else {"workload_kwargs": {"legacy_pmap": mode}}
