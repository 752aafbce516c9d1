"""Human-facing outputs of a score: terminal leaderboard, profile plot, Parquet files.

matplotlib is imported only when a plot is drawn (with the Agg backend, so it
works on headless machines).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich import box
from rich.console import Console
from rich.table import Table

from algoperf_ray.scoring.leaderboard import ScoreResult


def _fmt_time(seconds: float) -> str:
    """Compact: thousands of seconds ("12.3k"), so the table fits a terminal."""
    if seconds is None or math.isnan(seconds):
        return "-"
    if math.isinf(seconds):
        return "inf"
    return f"{seconds / 1000:.1f}k" if seconds >= 1000 else f"{seconds:.0f}"


def _short(workload: str) -> str:
    """Column header: the model part of dataset-prefixed names (imagenet_vit -> vit)."""
    for prefix in ("imagenet_", "librispeech_", "_"):
        if workload.startswith(prefix):
            return workload.removeprefix(prefix)
    return workload


def leaderboard(result: ScoreResult, title: str | None = None) -> Table:
    """A rich table: rank, submission, score and each base workload's time (s)."""
    workloads = [c for c in result.scores.column_names if c not in ("submission", "score")]
    table = Table(title=title or f"AlgoPerf v{result.version} {result.ruleset}-tuning "
                                 f"leaderboard (rule: {result.rule}; times in seconds)",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("#", justify="right")
    table.add_column("submission", min_width=10, overflow="ellipsis")
    table.add_column("score", justify="right", no_wrap=True)
    for w in workloads:
        table.add_column(_short(w), justify="right", min_width=5, overflow="fold")
    for rank, row in enumerate(result.scores.to_pylist(), start=1):
        table.add_row(str(rank), row["submission"], f"{row['score']:.4f}",
                      *[_fmt_time(row[w]) for w in workloads])
    return table


def print_leaderboard(result: ScoreResult, console: Console | None = None) -> None:
    (console or Console()).print(leaderboard(result))


def write_scores(result: ScoreResult, path: str) -> None:
    """``submission``, ``score`` and one time-to-target column per base workload."""
    _makedirs(path)
    meta = {"algoperf_ray.version": result.version, "algoperf_ray.ruleset": result.ruleset,
            "algoperf_ray.rule": result.rule}
    pq.write_table(result.scores.replace_schema_metadata(meta), path)


def write_profiles(result: ScoreResult, path: str) -> None:
    """The performance-profile curves: one row per (submission, tau) with rho."""
    _makedirs(path)
    pq.write_table(result.profiles, path)


def plot_profiles(result: ScoreResult, path: str) -> None:
    """A PNG of rho(tau) per submission, legend ordered by score."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    subs = np.asarray(result.profiles.column("submission").to_pylist(), dtype=object)
    tau = result.profiles.column("tau").to_numpy()
    rho = result.profiles.column("rho").to_numpy()
    order = result.scores.column("submission").to_pylist()
    scores = dict(zip(order, result.scores.column("score").to_pylist(), strict=True))
    fig, ax = plt.subplots(figsize=(10, 6), dpi=120)
    colors = plt.get_cmap("tab10" if len(order) <= 10 else "tab20").colors
    ax.set_prop_cycle(color=colors[: max(1, min(len(order), len(colors)))])
    for sub in order:
        mine = subs == sub
        ax.plot(tau[mine], rho[mine], label=f"{sub} ({scores[sub]:.4f})", linewidth=1.8)
    ax.set_xlabel("ratio to the best submission's time-to-target (tau)")
    ax.set_ylabel("fraction of workloads (rho)")
    ax.set_title(f"AlgoPerf v{result.version} {result.ruleset}-tuning performance profiles")
    ax.set_xlim(1, 4)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.4)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    _makedirs(path)
    fig.savefig(path)
    plt.close(fig)


def write_details(result: ScoreResult, details: pa.Table, path: str) -> None:
    """The per-workload detail (``scoring.details``), tagged with version, ruleset, rule."""
    _makedirs(path)
    meta = {"algoperf_ray.version": result.version, "algoperf_ray.ruleset": result.ruleset,
            "algoperf_ray.rule": result.rule}
    pq.write_table(details.replace_schema_metadata(meta), path)


def details_table(details: pa.Table) -> Table:
    """A rich table of the per-workload detail, one row per (submission, workload)."""
    table = Table(title="Per-workload detail (times in seconds; time to target: median over "
                        "studies)", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    heads = ["submission", "workload", "reached", "time to target", "best value",
             "time to best", "trials reached", "step time", "step hint"]
    for i, head in enumerate(heads):
        table.add_column(head, justify="left" if i < 2 else "right")
    for r in details.to_pylist():
        table.add_row(r["submission"], r["workload"], "yes" if r["target_reached"] else "no",
                      _fmt_time(r["time_to_target"]), _fmt_value(r["best_value"]),
                      _fmt_time(r["time_to_best"]), f"{r['trials_reached']}/{r['trials']}",
                      _fmt_value(r["step_time"]), str(r["step_hint"]))
    return table


def print_details(details: pa.Table, console: Console | None = None) -> None:
    (console or Console()).print(details_table(details))


def _fmt_value(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4g}"


def speedup_table(speedups: pa.Table, reference: str) -> Table:
    table = Table(title=f"Geometric-mean speedup vs {reference} (time ratio; < 1 is faster)")
    table.add_column("submission")
    table.add_column("time ratio", justify="right")
    table.add_column("speedup", justify="right")
    for row in sorted(speedups.to_pylist(), key=lambda r: r["speedup"]):
        table.add_row(row["submission"], f"{row['speedup']:.4f}",
                      f"{1 - row['speedup']:+.1%}")
    return table


def _makedirs(path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
