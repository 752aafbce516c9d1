"""``algoperf-ray score`` and ``algoperf-ray speedup``: leaderboards from the store."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from algoperf_ray.cli.common import (
    BudgetsOption,
    HardwareOption,
    RulesetOption,
    VersionOption,
    err_console,
    user_errors,
)

StoreOption = Annotated[str, typer.Option("--store", help="Store path or URI.")]
SubmissionsOption = Annotated[str | None, typer.Option(
    "--submissions", help="Comma-separated submissions (default: all in the store).")]
RuleOption = Annotated[str, typer.Option(
    "--rule", help="Winning trial per study: 'published' (earliest eval index, as the "
                   "reference code) or 'documented' (fastest time, as the rules say). Ties: "
                   "the faster trial, then the lower trial number.")]


def _errors() -> tuple[type[BaseException], ...]:
    from algoperf_ray.benchmark.versions import UnknownVersionError, UnknownVersionWorkloadError
    from algoperf_ray.scoring.errors import ScoringError
    from algoperf_ray.store import SchemaError, StoreError

    return (ScoringError, SchemaError, StoreError, UnknownVersionError,
            UnknownVersionWorkloadError, ValueError)


def _score(store: str, ruleset: str, version: str | None, submissions: str | None,
           strict: bool, rule: str):
    """Score, printing each kind of warning once (not per trial) on stderr."""
    import warnings

    from algoperf_ray.scoring.errors import ScoringWarning, SummaryCacheWarning
    from algoperf_ray.scoring.scoring import score_store
    from algoperf_ray.store import Store

    subs = [s.strip() for s in submissions.split(",") if s.strip()] if submissions else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", ScoringWarning)  # summarized below, from the result
        warnings.simplefilter("always", SummaryCacheWarning)
        result = score_store(Store(store), ruleset, version, submissions=subs, strict=strict,
                             rule=rule)
    for w in caught:  # rebuilt caches, files the store skipped: each said once
        err_console.print(f"[yellow]warning:[/] {w.message}", soft_wrap=True)
    if result.interrupted:
        err_console.print(f"[yellow]warning:[/] {len(result.interrupted)} interrupted "
                          f"trial(s), status 'running' in the store (a killed run), scored "
                          f"with the evals they logged: {', '.join(result.interrupted[:10])}"
                          + (" ..." if len(result.interrupted) > 10 else "")
                          + ". Rerun them to finish them, or pass --strict to fail.",
                          soft_wrap=True)
    if len(result.hardware) > 1:
        classes = "; ".join(f"{hw}: {', '.join(subs)}" for hw, subs in result.hardware.items())
        err_console.print(f"[yellow]warning:[/] the scored trials ran on more than one hardware "
                          f"class ({classes}); times from different classes are not "
                          "comparable. Score each class on its own (--submissions).",
                          soft_wrap=True)
    if result.warnings:
        err_console.print(f"[yellow]warning:[/] {len(result.warnings)} count(s) differ from the "
                          f"rules (pass --strict to fail); first: {result.warnings[0]}",
                          soft_wrap=True)
    return result


def score_cmd(
    store: StoreOption, ruleset: RulesetOption, version: VersionOption = None,
    submissions: SubmissionsOption = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Fail when workload, study or trial counts differ from the rules, "
                         "or a trial was interrupted.")] = False,
    rule: RuleOption = "published",
    out: Annotated[str, typer.Option("--out", help="Scores Parquet file.")] = "scores.parquet",
    profiles: Annotated[str | None, typer.Option(
        "--profiles", help="Profile curves Parquet (default: <out>_profiles.parquet).")] = None,
    plot: Annotated[str | None, typer.Option(
        "--plot", help="Profile plot PNG (default: <out>_profiles.png).")] = None,
    details: Annotated[bool, typer.Option(
        "--details", help="Also write the per-workload detail (target reached, best value, "
                          "step time, step hint) to <out>_workloads.parquet and print it; "
                          "reads every eval row.")] = False,
) -> None:
    """Score submissions: time-to-target, performance profiles and the benchmark score."""
    from algoperf_ray.scoring import report

    with user_errors(*_errors()):
        result = _score(store, ruleset, version, submissions, strict, rule)
        detail = _details(store, result) if details else None
    stem = os.path.splitext(out)[0]
    written = [out, profiles or f"{stem}_profiles.parquet", plot or f"{stem}_profiles.png"]
    report.write_scores(result, written[0])
    report.write_profiles(result, written[1])
    report.plot_profiles(result, written[2])
    report.print_leaderboard(result)
    if detail is not None:
        written.append(f"{stem}_workloads.parquet")
        report.write_details(result, detail, written[-1])
        report.print_details(detail)
    typer.echo(f"wrote {', '.join(written)}")


def _details(store: str, result):
    from algoperf_ray.scoring.details import workload_details
    from algoperf_ray.store import Store

    return workload_details(Store(store), result)


def speedup_cmd(
    reference: Annotated[str, typer.Option("--reference",
                                           help="Submission to compare against.")],
    store: StoreOption, ruleset: RulesetOption, version: VersionOption = None,
    submissions: SubmissionsOption = None, rule: RuleOption = "published",
    out: Annotated[str | None, typer.Option(
        "--out", help="Optional Parquet file of the speedups.")] = None,
    hardware: HardwareOption = None, budgets: BudgetsOption = None,
) -> None:
    """Geometric-mean speedup per submission; a miss counts as max_runtime + 1 s.

    The budget of a miss is the one of the hardware class the trials ran on
    (recorded by run/tune; --hardware overrides), so A100 trials need --budgets.
    """
    import pyarrow.parquet as pq
    from rich.console import Console

    from algoperf_ray.benchmark.hardware import get_hardware, load_budget_table
    from algoperf_ray.benchmark.versions import get_version
    from algoperf_ray.scoring import report
    from algoperf_ray.scoring.speedups import speedups

    with user_errors(*_errors()):
        result = _score(store, ruleset, version, submissions, False, rule)
        recorded = list(result.hardware)
        hw = get_hardware(hardware).name if hardware else (
            recorded[0] if len(recorded) == 1 else None)
        table_of = (load_budget_table(budgets, set(get_version(result.version).workloads))
                    if budgets else None)
        table = speedups(result, reference, hardware=hw, budgets=table_of)
    Console().print(report.speedup_table(table, reference))
    if out:
        pq.write_table(table, out)


def register(app: typer.Typer) -> None:
    app.command("score")(score_cmd)
    app.command("speedup")(speedup_cmd)
