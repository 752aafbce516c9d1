"""Preflight smoke runs: a submission, a few steps, every workload, one subprocess each.

``algoperf-ray check`` (:mod:`algoperf_ray.cli.check`) is the user-facing
side; this module holds the logic so it can be tested and reused without the
CLI. Two halves:

* the **parent** (:func:`check_workload`) starts one child process per
  workload in its own process group, reads the child's progress lines and
  kills the whole group when the workload's wall-clock limit passes. A child
  that hangs, sleeps or fetches 64 batches per step is therefore reported as
  ``timeout`` with the step times it managed, and never blocks the matrix;
* the **child** (``python -m algoperf_ray.cli.preflight JSON``) runs the
  real timed loop (:func:`~algoperf_ray.runner.trial.run_loaded_trial`) on
  synthetic data at the family's reduced size, reporting each finished step.

Why a subprocess per workload: a crash, an OOM, a leaked thread or a wedged
XLA compile in one workload must not poison the next one, and only a process
group can be killed reliably together with whatever the submission spawned.

This module imports neither torch nor jax at import time (the child imports
its framework when the workload is built).
"""

from __future__ import annotations

import json
import math
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from typing import Any

# Lines the child prints to stdout with this prefix are progress events; anything
# else on stdout (a submission's prints) is ignored by the parent.
EVENT_PREFIX = "@@preflight "
STATUSES = ("ok", "fail", "timeout")
_KILL_GRACE_SEC = 3.0


@dataclass(frozen=True)
class PreflightOptions:
    """What one child run does; plain data so it travels as JSON on the command line."""

    submission: str
    framework: str
    workload: str
    steps: int = 3
    ruleset: str = "self"
    hparams: dict[str, Any] | None = None
    max_batch_size: int = 16
    max_eval_examples: int = 32
    store_uri: str | None = None
    seed: int = 0
    version: str | None = None


@dataclass
class CheckResult:
    """One row of the matrix: how the workload went and how fast its steps were."""

    workload: str
    framework: str
    status: str
    steps_done: int = 0
    step_times: list[float] = field(default_factory=list)
    error: str | None = None
    phase: str = "start"  # where the child was last heard of: start, init, step N, eval, done
    running_for: float | None = None  # seconds the unfinished step had run when killed
    wall_sec: float = 0.0
    pid: int | None = None

    @property
    def step_time(self) -> float | None:
        """Typical step time: the median after the first (compile) step, else the first."""
        times = self.step_times[1:] or self.step_times
        return statistics.median(times) if times else None


# ---- shared: the trial config both sides agree on ---------------------------------------

def make_config(opts: PreflightOptions) -> Any:
    """The :class:`TrialConfig` of a check run (the parent rebuilds it to record a timeout).

    Evals happen after the first step (the reference's rule) and at the end;
    the huge eval period keeps any other eval out of a smoke run.
    """
    from algoperf_ray.benchmark.registry import reduced_size_kwargs
    from algoperf_ray.runner import TrialConfig

    kwargs = reduced_size_kwargs(opts.workload)
    cap = int(opts.max_eval_examples)
    kwargs["max_eval_examples"] = min(int(kwargs.get("max_eval_examples") or cap), cap)
    extra = {"version": opts.version} if opts.version else {}
    return TrialConfig.build(
        workload=opts.workload, framework=opts.framework, submission_path=opts.submission,
        ruleset=opts.ruleset, hparams=opts.hparams, seed=opts.seed, data_mode="synthetic",
        max_global_steps=opts.steps, store_uri=opts.store_uri, eval_period_sec=1e9,
        workload_kwargs=kwargs, **extra)


def record_failure(config: Any, message: str) -> None:
    """Write the trial row as failed, so a killed or crashed check is never left ``running``."""
    if config.store_uri is None:
        return
    from algoperf_ray.store import Store

    Store(config.store_uri).write_trial(config.key, hparams=config.hparams, status="failed",
                                        error=message, seed=config.seed)


def first_error_line(text: str | None) -> str | None:
    """The line that names an error: a traceback's last ``Type: message`` line, else the first."""
    if not text:
        return None
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    if lines[0].startswith("Traceback"):
        for line in reversed(lines):
            if not line.startswith(("File ", "^", "~")) and ":" in line:
                return line
    return lines[0]


# ---- the child ----------------------------------------------------------------------------

def _emit(event: str, **data: Any) -> None:
    sys.stdout.write(EVENT_PREFIX + json.dumps({"event": event, **data}) + "\n")
    sys.stdout.flush()


def _block(framework: str, value: Any) -> None:
    """Wait for a step's device work, so its time is the step's and not the next one's."""
    if framework == "jax":
        import jax

        jax.block_until_ready(value)


def _instrument(sub: Any, framework: str, max_batch: int) -> Any:
    """The loaded submission with progress reports around its calls (nothing else changes)."""
    state = {"start": None}

    def get_batch_size(name: str) -> int:
        return max(1, min(int(sub.get_batch_size(name)), max_batch))

    def init_optimizer_state(*args: Any, **kwargs: Any) -> Any:
        out = sub.init_optimizer_state(*args, **kwargs)
        _block(framework, out)
        _emit("init")
        return out

    def data_selection(*args: Any, **kwargs: Any) -> Any:
        step = kwargs.get("global_step", args[6] if len(args) > 6 else None)
        state["start"] = time.perf_counter()
        _emit("step_start", step=int(step) + 1, time=time.time())
        return sub.data_selection(*args, **kwargs)

    def update_params(**kwargs: Any) -> Any:
        out = sub.update_params(**kwargs)
        _block(framework, out)
        _emit("step", step=int(kwargs["global_step"]) + 1,
              seconds=time.perf_counter() - (state["start"] or time.perf_counter()))
        return out

    return replace(sub, get_batch_size=get_batch_size, init_optimizer_state=init_optimizer_state,
                   data_selection=data_selection, update_params=update_params)


def _build_workload(load: Any, opts: PreflightOptions, kwargs: dict[str, Any]) -> Any:
    """The reduced synthetic workload; eval splits capped where the class supports it.

    Some leaf classes (``digits``, ``mnist``, ``cifar`` today) do not pass the
    ``max_eval_examples`` option through to the base class; they are built
    without it and the base class's cap is set afterwards, since evaluating
    cifar's 70,000 full-size eval examples on CPU alone outlasts any sane limit.
    """
    try:
        return load(opts.workload, opts.framework, data_mode="synthetic", **kwargs)
    except TypeError as e:
        if "max_eval_examples" not in str(e):
            raise
    rest = {k: v for k, v in kwargs.items() if k != "max_eval_examples"}
    workload = load(opts.workload, opts.framework, data_mode="synthetic", **rest)
    if hasattr(workload, "max_eval_examples"):
        workload.max_eval_examples = int(kwargs["max_eval_examples"])
    return workload


def _watch_parent() -> None:
    """Kill this process group when the parent ``check`` dies (killed, Ctrl-C, crash).

    The child runs in its own session so it can be killed as a group; the
    price is that a signal to the parent's terminal does not reach it. An
    orphaned child would train on, so it ends itself when it is reparented.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True).start()


def run_child(opts: PreflightOptions) -> int:
    """Run one check trial in this process; progress and the outcome go to stdout as events."""
    _watch_parent()
    config = None
    try:
        from algoperf_ray.benchmark.registry import load_workload
        from algoperf_ray.runner.trial import run_loaded_trial
        from algoperf_ray.submission.loader import load_submission

        config = make_config(opts)
        sub = _instrument(load_submission(opts.submission, opts.framework), opts.framework,
                          opts.max_batch_size)
        from algoperf_ray.compat import legacy_pmap

        kwargs = dict(config.workload_kwargs)
        legacy = kwargs.pop("legacy_pmap", None)
        workload = _build_workload(load_workload, opts, kwargs)
        workload = legacy_pmap.configure(workload, sub, opts.framework, legacy)
        result = run_loaded_trial(config, workload, sub)
    except BaseException as e:  # noqa: BLE001 - every failure becomes a row, then exit 1
        text = traceback.format_exc()
        sys.stderr.write(text)
        message = first_error_line(f"{type(e).__name__}: {e}") or type(e).__name__
        if config is not None:
            record_failure(config, message)
        _emit("done", status="fail", error=message)
        return 1
    note = None
    if math.isfinite(result.time_to_target) and result.global_step < opts.steps:
        # Synthetic data and a capped eval split can meet a target by chance: say why the
        # row has fewer steps than asked, so "ok" with 1 step is not read as a stall.
        note = f"target reached after step {result.global_step}: the trial ended there"
    _emit("done", status="ok", steps=result.global_step, note=note)
    return 0


# ---- the parent ---------------------------------------------------------------------------

def _reader(stream: Any, events: queue.Queue) -> None:
    for line in stream:
        if line.startswith(EVENT_PREFIX):
            try:
                events.put(json.loads(line[len(EVENT_PREFIX):]))
            except json.JSONDecodeError:
                pass
    events.put(None)  # end of stream: the child exited (or closed stdout)


def _end_group(proc: subprocess.Popen, finished: bool) -> None:
    """Reap the child, then kill whatever is left of its process group.

    A child that reported its result gets a moment to exit on its own; one
    past its limit gets SIGTERM, then SIGKILL. Either way the group is
    SIGKILLed at the end, so workers the submission spawned die with it.
    """
    if not finished:
        _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30.0 if finished else _KILL_GRACE_SEC)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _apply(row: CheckResult, event: dict[str, Any], step_started: list[float]) -> None:
    kind = event.get("event")
    if kind == "init":
        row.phase = "init done"
    elif kind == "step_start":
        row.phase = f"step {event['step']}"
        step_started[:] = [time.monotonic()]
    elif kind == "step":
        row.steps_done = int(event["step"])
        row.step_times.append(float(event["seconds"]))
        row.phase = f"after step {event['step']}"
        step_started.clear()
    elif kind == "done":
        row.status = event["status"]
        row.error = event.get("error") or event.get("note")
        row.phase = "done"


def check_workload(opts: PreflightOptions, time_limit: float,
                   on_event: Any = None) -> CheckResult:
    """Run one workload's check in a child process group, killed after ``time_limit`` seconds."""
    row = CheckResult(workload=opts.workload, framework=opts.framework, status="fail")
    events: queue.Queue = queue.Queue()
    step_started: list[float] = []
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "algoperf_ray.cli.preflight", json.dumps(asdict(opts))],
            stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, text=True,
            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        row.pid = proc.pid
        threading.Thread(target=_reader, args=(proc.stdout, events), daemon=True).start()
        try:
            finished = _drain(row, events, step_started, start + time_limit, on_event)
        except BaseException:  # Ctrl-C or an error here: the child group must not outlive us
            _end_group(proc, finished=False)
            raise
        if not finished:
            row.status = "timeout"
            if step_started:
                row.running_for = time.monotonic() - step_started[0]
            row.error = _timeout_message(row, time_limit)
        _end_group(proc, finished)
        row.wall_sec = time.monotonic() - start
        if row.phase != "done" and row.status != "timeout":
            errors.seek(0)
            row.error = first_error_line(errors.read()[-20000:]) or (
                f"the check process exited with code {proc.returncode} without a result")
    if row.status != "ok" and row.phase != "done" and opts.store_uri:
        # Killed (timeout) or died without a word (OOM, segfault): the child could
        # not record its end, so the trial row it wrote as running is closed here.
        try:
            record_failure(make_config(opts), row.error or row.status)
        except Exception as e:  # noqa: BLE001 - the row's own error stays the headline
            row.error = f"{row.error} (could not record it in {opts.store_uri}: {e})"
    return row


def _drain(row: CheckResult, events: queue.Queue, step_started: list[float],
           deadline: float, on_event: Any) -> bool:
    """Apply the child's events until its stdout closes (True) or the deadline passes."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            event = events.get(timeout=min(left, 1.0))
        except queue.Empty:
            continue
        if event is None:
            return True
        _apply(row, event, step_started)
        if on_event is not None:
            on_event(row)


def _timeout_message(row: CheckResult, limit: float) -> str:
    if row.phase == "start":
        where = "during setup (imports, model or optimizer init)"
    elif row.phase.startswith("after step"):
        where = f"{row.phase} (in an eval, prepare_for_eval or the next data_selection)"
    else:
        where = f"at {row.phase}"
    text = f"killed after the {limit:g} s limit {where}; {row.steps_done} step(s) done"
    if row.step_time is not None:
        text += f", step time {row.step_time:.2f} s"
    if row.running_for is not None:
        text += f", the unfinished step had run {row.running_for:.1f} s"
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python -m algoperf_ray.cli.preflight OPTIONS_JSON\n"
                         "(started by `algoperf-ray check`; run that instead)\n")
        return 2
    return run_child(PreflightOptions(**json.loads(argv[0])))


if __name__ == "__main__":
    sys.exit(main())
