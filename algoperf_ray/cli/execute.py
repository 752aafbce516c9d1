"""Run one built trial here and print its progress and outcome (``run``, ``run --nproc``).

Kept apart from :mod:`algoperf_ray.cli.run` (argument parsing) so that the
launcher's child processes import only this, and so that the CLI's start-up
(every ``--help``) does not import the runner.
"""

from __future__ import annotations

import math
from typing import Any

import typer

from algoperf_ray.cli.common import err_console
from algoperf_ray.runner.hooks import RunnerHooks


class _Progress(RunnerHooks):
    """RunnerHooks that print one line per eval (rank 0), untimed by construction."""

    def __init__(self, metric: str) -> None:
        self.metric = metric

    def on_eval(self, row: dict[str, Any], checkpoint_dir: str | None) -> None:
        value = row.get(f"validation/{self.metric}")
        shown = "n/a" if value is None else f"{value:.4f}"
        err_console.print(f"step {row['global_step']:>6}  submission time "
                          f"{row['accumulated_submission_time']:8.2f} s  "
                          f"validation/{self.metric} {shown}")


def summary_line(result: Any, target: Any, label: str) -> str:
    """The one-line outcome of a trial, judged by its version's target row."""
    from algoperf_ray.runner.outcome import is_diverged

    if result.status == "failed" and is_diverged(result.error):
        return (f"{label}: DIVERGED ({result.error}); recorded as failed, time-to-target "
                f"inf; {result.global_step} steps")
    if result.status == "failed":
        return f"{label}: FAILED: {result.error}"
    metric = target.metric_column
    sign = "<=" if target.minimize else ">="
    if math.isfinite(result.time_to_target):
        return (f"{label}: target reached ({metric} {sign} {target.validation_target}) in "
                f"{result.time_to_target:.2f} s submission time; {result.global_step} steps, "
                f"status {result.status}")
    values = [r[metric] for r in result.eval_rows if r.get(metric) is not None]
    best = (min(values) if target.minimize else max(values)) if values else None
    best_s = "no eval" if best is None else f"best {best:.4f}"
    return (f"{label}: target NOT reached ({metric} {sign} {target.validation_target}; "
            f"{best_s}); time-to-target inf; {result.global_step} steps, "
            f"status {result.status}")


def execute(config: Any) -> int:
    """Run the trial here (one rank under ``--nproc``); the exit code. Rank 0 alone prints."""
    from algoperf_ray.runner import run_trial
    from algoperf_ray.runner.distributed import env_rank

    rank0 = env_rank() == 0
    target = config.version.rules_for(config.workload)
    label = f"{config.workload}/{config.framework} {config.key.submission}"
    if rank0:
        err_console.print(f"[bold]{label}[/]: v{config.key.version} {config.ruleset}, "
                          f"hyperparameters {config.hparams}, store {config.store_uri}")
    result = run_trial(config, hooks=_Progress(target.target_metric_name))
    if rank0:
        typer.echo(summary_line(result, target, label))
    return 1 if result.status == "failed" else 0
