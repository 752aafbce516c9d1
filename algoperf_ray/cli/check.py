"""``algoperf-ray check``: the compatibility smoke matrix of a submission.

The preflight a submitter runs before renting accelerators: the submission
trains a few steps on synthetic data, at each workload's reduced size, on
every workload it is asked about, each in its own process with a wall-clock
limit (:mod:`algoperf_ray.cli.preflight`). The AlgoPerf submission
checker only reads the code; this runs it. Exit codes: 0 when every row is
ok, 1 when any row failed or timed out, 2 on bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from algoperf_ray.cli.common import UserError, VersionOption, err_console, user_errors

_SELECTIONS = ("all", "base")


def select_workloads(selection: str, framework: str) -> list[str]:
    """Workload names from ``all``, ``base`` or a comma list, in registry order.

    ``all`` is every registered workload with a class for ``framework``
    (variants included); ``base`` leaves the variants out.
    """
    from algoperf_ray.benchmark.registry import all_workloads, get_meta

    table = all_workloads()
    if selection in _SELECTIONS:
        return [n for n, m in table.items() if framework in m.frameworks
                and (selection == "all" or m.base is None)]
    names = [n.strip() for n in selection.split(",") if n.strip()]
    if not names:
        raise UserError(f"--workloads: expected all, base or a comma list, got {selection!r}")
    for name in names:
        if framework not in get_meta(name).frameworks:
            raise UserError(f"workload {name!r} has no {framework} implementation; "
                            f"drop it from --workloads or pick the other --framework")
    return names


def frameworks_of(submission: str, framework: str | None) -> list[str]:
    """``--framework``, else every framework folder (``jax/``, ``pytorch/``) the submission has."""
    from algoperf_ray.benchmark.registry import FRAMEWORKS, check_framework
    from algoperf_ray.submission.loader import resolve_submission_path

    if framework is not None:
        check_framework(framework)
        resolve_submission_path(submission, framework)
        return [framework]
    folder = Path(submission)
    found = [f for f in FRAMEWORKS if (folder / f / "submission.py").is_file()]
    if not found:
        resolve_submission_path(submission)  # a missing path fails here, with its own message
        raise UserError(f"pass --framework jax or --framework pytorch: {submission} is one "
                        f"file, and check cannot tell its framework without importing it")
    return found


def pick_hparams(submission: str, framework: str, ruleset: str, hparams: str | None,
                 seed: int) -> tuple[str, dict[str, Any] | None]:
    """(ruleset, hyperparameters) as ``run`` picks them: --hparams, else the search
    space's first point, else a self-tuning call (no hyperparameters)."""
    from algoperf_ray.submission import search_space as ss
    from algoperf_ray.submission.loader import find_search_space, resolve_submission_path

    if ruleset not in ("auto", "external", "self"):
        raise UserError(f"--ruleset must be auto, external or self, got {ruleset!r}")
    if ruleset == "self":
        if hparams:
            raise UserError("self-tuning trials get no hyperparameters; drop --hparams")
        return "self", None
    if hparams:
        return "external", ss.load_hparams(hparams)
    space = find_search_space(resolve_submission_path(submission, framework))
    if space is None:
        if ruleset == "external":
            raise UserError(f"no tuning_search_space.json next to {submission}: pass --hparams "
                            f"or use --ruleset self")
        return "self", None
    return "external", ss.load_search_space(space).draw(1, seed)[0]


def _fmt_time(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3f}"


def render_table(rows: list[Any], title: str) -> Any:
    """The matrix as a rich table: one row per workload and framework."""
    from rich.table import Table

    table = Table(title=title)
    for name, style in (("workload", "bold"), ("framework", ""), ("status", ""),
                        ("steps", "right"), ("first step (s)", "right"),
                        ("step time (s)", "right"), ("wall (s)", "right"), ("error / note", "")):
        table.add_column(name, justify="right" if style == "right" else "left",
                         style="bold" if style == "bold" else None, overflow="fold")
    colors = {"ok": "green", "fail": "red", "timeout": "yellow"}
    for r in rows:
        first = r.step_times[0] if r.step_times else None
        step = _fmt_time(r.step_time)
        if r.running_for is not None and (r.step_time is None or r.running_for > r.step_time):
            step = f">{r.running_for:.1f} (unfinished)"
        table.add_row(r.workload, r.framework, f"[{colors[r.status]}]{r.status}[/]",
                      str(r.steps_done), _fmt_time(first), step, f"{r.wall_sec:.1f}",
                      r.error or "")
    return table


def _progress(row: Any) -> None:
    if row.phase.startswith("after step"):
        err_console.print(f"  {row.workload}/{row.framework}: step {row.steps_done} "
                          f"{row.step_times[-1]:.3f} s")


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check(
        submission: Annotated[str, typer.Argument(help="submission.py, or its folder.")],
        framework: Annotated[str | None, typer.Option(
            help="jax or pytorch (default: every framework folder the submission has).")] = None,
        workloads: Annotated[str, typer.Option(
            help="all (every registered workload, variants too), base (no variants), "
                 "or a comma list.")] = "all",
        steps: Annotated[int, typer.Option(help="Training steps per workload.")] = 3,
        time_limit: Annotated[float, typer.Option(
            help="Wall-clock seconds per workload (setup, steps, evals); past it the "
                 "workload's process group is killed and the row is a timeout.")] = 300.0,
        ruleset: Annotated[str, typer.Option(
            help="auto (the search space's first point if there is one, else self-tuning), "
                 "external or self.")] = "auto",
        hparams: Annotated[str | None, typer.Option(
            help="Hyperparameters: a JSON file or an inline JSON object.")] = None,
        max_batch_size: Annotated[int, typer.Option(
            help="Cap on get_batch_size's answer, to keep CPU steps small.")] = 16,
        max_eval_examples: Annotated[int, typer.Option(
            help="Cap on every eval split (workloads that support it).")] = 32,
        store: Annotated[str | None, typer.Option(
            help="Record the check trials in this results store (default: none).")] = None,
        json_out: Annotated[str | None, typer.Option(
            "--json", help="Also write the rows as JSON to this file.")] = None,
        seed: Annotated[int, typer.Option(help="Trial seed.")] = 0,
        version: VersionOption = None,
    ) -> None:
        """Smoke-run a submission for a few steps on every workload; print the matrix."""
        from algoperf_ray.cli.preflight import PreflightOptions
        from algoperf_ray.spec import SubmissionError

        with user_errors(ValueError, KeyError, FileNotFoundError, SubmissionError):
            if steps < 1 or time_limit <= 0 or max_batch_size < 1 or max_eval_examples < 1:
                raise UserError("--steps, --time-limit, --max-batch-size and "
                                "--max-eval-examples must be positive")
            plans = []
            for fw in frameworks_of(submission, framework):
                rs, hp = pick_hparams(submission, fw, ruleset, hparams, seed)
                for name in select_workloads(workloads, fw):
                    plans.append(PreflightOptions(
                        submission=submission, framework=fw, workload=name, steps=steps,
                        ruleset=rs, hparams=hp, max_batch_size=max_batch_size,
                        max_eval_examples=max_eval_examples, store_uri=store, seed=seed,
                        version=version))
        rows = _run_all(plans, time_limit)
        _report(rows, submission, json_out)
        if any(r.status != "ok" for r in rows):
            raise typer.Exit(code=1)


def _run_all(plans: list[Any], time_limit: float) -> list[Any]:
    from algoperf_ray.cli.preflight import check_workload

    rows = []
    for i, opts in enumerate(plans, 1):
        err_console.print(f"[{i}/{len(plans)}] {opts.workload}/{opts.framework} "
                          f"({opts.ruleset}, {opts.steps} steps, limit {time_limit:g} s)")
        row = check_workload(opts, time_limit, on_event=_progress)
        err_console.print(f"  -> {row.status}" + (f": {row.error}" if row.error else ""))
        rows.append(row)
    return rows


def _report(rows: list[Any], submission: str, json_out: str | None) -> None:
    from dataclasses import asdict

    from rich.console import Console

    ok = sum(r.status == "ok" for r in rows)
    Console().print(render_table(rows, f"algoperf-ray check {submission}: {ok}/{len(rows)} ok"))
    if json_out:
        data = [{**asdict(r), "step_time": r.step_time} for r in rows]
        Path(json_out).write_text(json.dumps(data, indent=2))
