"""The AlgoPerf timed loop, as named steps over a :class:`TrialContext`.

Order of operations follows the reference ``submission_runner.train_once``
(README, "The timed loop", lists each rule and the test that checks it):

* setup (input queue, model, optimizer, restore) is untimed;
* each step: ``data_selection`` + ``update_params``, ``global_step += 1``,
  then ``accumulated_submission_time += now - last_step_end_time``;
* when ``now - last_eval_time >= eval_period`` or training is complete:
  ``prepare_for_eval`` (timed, added to submission time), then the budget
  check; the untimed eval runs only if time remains, else the loop ends;
* eval, logging (store, checkpoint, hooks) are untimed because
  ``last_step_end_time`` is read again after them.

Every time read syncs the device first and takes the max over DDP ranks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from algoperf_ray import spec
from algoperf_ray.runner import checkpoint as ckpt
from algoperf_ray.runner import outcome
from algoperf_ray.runner.backend import Backend
from algoperf_ray.runner.config import TrialConfig
from algoperf_ray.runner.hooks import Clock, RunnerHooks
from algoperf_ray.runner.step_keys import StepKeys
from algoperf_ray.workload import rng as rng_lib


def new_train_state() -> dict[str, Any]:
    """The reference's bookkeeping dict (submissions may read it via ``train_state``)."""
    return {
        "validation_goal_reached": False,
        "test_goal_reached": False,
        "is_time_remaining": True,
        # 0 on the wall clock's epoch: the first step is always evaluated.
        "last_eval_time": 0.0,
        "training_complete": False,
        "accumulated_submission_time": 0.0,
        "accumulated_eval_time": 0.0,
        "accumulated_logging_time": 0.0,
        "last_step_end_time": None,
    }


@dataclass
class TrialContext:
    """Mutable state of one running trial; each loop step reads and updates it."""

    config: TrialConfig
    workload: Any
    submission: Any  # algoperf_ray.submission.loader.LoadedSubmission
    backend: Backend
    clock: Clock
    hooks: RunnerHooks
    hparams: Any
    budget_sec: float
    eval_period_sec: float
    global_batch_size: int
    eval_batch_size: int
    rng: Any = None
    input_queue: Any = None
    params: Any = None
    model_state: Any = None
    optimizer_state: Any = None
    train_state: dict[str, Any] = field(default_factory=new_train_state)
    global_step: int = 0
    preemption_count: int = 0
    eval_results: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    global_start_time: float = 0.0
    prep_eval_rng: Any = None
    eval_rng: Any = None
    pruned: bool = False  # stopped by the driver's hooks (pruning)
    stopped: bool = False  # stopped after an eval, by the hooks or the NaN streak
    nan_streak: Any = None  # algoperf_ray.runner.outcome.NanStreak
    step_keys: StepKeys | None = None
    last_fill_step: int = 0
    store: Any = None  # algoperf_ray.store.Store on rank 0, else None
    store_key: Any = None

    @property
    def is_rank0(self) -> bool:
        return self.backend.rank == 0

    @property
    def goals_reached(self) -> bool:
        ts = self.train_state
        return ts["validation_goal_reached"] and ts["test_goal_reached"]


def get_time(ctx: TrialContext, sync: bool = True) -> float:
    """Time after a device sync, agreed across DDP ranks (max)."""
    if sync:
        ctx.backend.sync(ctx.params)
    return ctx.backend.max_across_ranks(ctx.clock.now())


# ---- setup (untimed) --------------------------------------------------------------------

def split_seed(seed: int) -> tuple[Any, Any, Any, Any]:
    """(data_rng, opt_init_rng, model_init_rng, loop_rng) as the reference derives them."""
    rng, _ = rng_lib.split(rng_lib.PRNGKey(seed), 2)
    data_rng, opt_init_rng, model_init_rng, loop_rng = rng_lib.split(rng, 4)
    return data_rng, opt_init_rng, model_init_rng, loop_rng


def initialize(ctx: TrialContext) -> None:
    """Input queue, model and optimizer state, as in the reference (untimed)."""
    data_rng, opt_init_rng, model_init_rng, ctx.rng = split_seed(ctx.config.seed)
    ctx.input_queue = ctx.workload._build_input_queue(
        data_rng, "train", data_dir=ctx.config.data_dir,
        global_batch_size=ctx.global_batch_size)
    dropout = getattr(ctx.hparams, "dropout_rate", None)
    aux_dropout = getattr(ctx.hparams, "aux_dropout_rate", None)
    ctx.params, ctx.model_state = ctx.workload.init_model_fn(
        model_init_rng, dropout, aux_dropout)
    if ctx.config.torch_compile:
        # As the reference: wrapped before the optimizer is built; the actual
        # compilation happens on the first forward, inside the timed first step.
        ctx.params = ctx.backend.compile_model(ctx.workload, ctx.params, ctx.config.workload)
    ctx.optimizer_state = ctx.submission.init_optimizer_state(
        ctx.workload, ctx.params, ctx.model_state, ctx.hparams, opt_init_rng)


def identity(ctx: TrialContext) -> dict[str, Any]:
    """What a checkpoint must match to be resumed by this trial."""
    c = ctx.config
    return {"workload": c.workload, "framework": c.framework, "seed": c.seed,
            "submission": c.key.submission, "ruleset": c.ruleset}


def bookkeeping(ctx: TrialContext) -> dict[str, Any]:
    return {"version": ckpt.BOOKKEEPING_VERSION, "identity": identity(ctx),
            "train_state": dict(ctx.train_state), "global_step": ctx.global_step,
            "preemption_count": ctx.preemption_count, "eval_results": ctx.eval_results,
            "rows": ctx.rows}


def maybe_restore(ctx: TrialContext) -> bool:
    """Resume from this trial's checkpoint if there is one; counts a preemption."""
    directory, name = ctx.config.checkpoint_dir, ctx.backend.checkpoint_name
    with ckpt.local_checkpoint(directory, name) as path:
        if path is None:
            return False
        ctx.params, ctx.optimizer_state, ctx.model_state, book = ctx.backend.load_checkpoint(
            path, ctx.params, ctx.optimizer_state, ctx.model_state)
    ckpt.check_identity(book, identity(ctx), ckpt.checkpoint_path(directory, name))
    ctx.train_state.update(book["train_state"])
    ctx.global_step = int(book["global_step"])
    ctx.eval_results = list(book["eval_results"])
    ctx.rows = list(book["rows"])
    ctx.preemption_count = int(book["preemption_count"]) + 1
    return True


def save_checkpoint(ctx: TrialContext) -> None:
    """Rank 0 writes the one checkpoint file atomically (newest only), local or URI."""
    if not ctx.config.checkpoint_dir or not ctx.is_rank0:
        return
    book = bookkeeping(ctx)
    ckpt.save(ctx.config.checkpoint_dir, ctx.backend.checkpoint_name,
              lambda tmp: ctx.backend.save_checkpoint(
                  tmp, ctx.params, ctx.optimizer_state, ctx.model_state, book))


# ---- the timed steps ------------------------------------------------------------------

def _train_state_kwargs(ctx: TrialContext, accepts: bool) -> dict[str, Any]:
    return {"train_state": MappingProxyType(ctx.train_state)} if accepts else {}


def train_step(ctx: TrialContext) -> None:
    """data_selection + update_params, then count the step (timed by the caller)."""
    sub, ts = ctx.submission, ctx.train_state
    select_rng, update_rng, ctx.prep_eval_rng, ctx.eval_rng = ctx.step_keys.get(ctx.global_step)
    batch = sub.data_selection(ctx.workload, ctx.input_queue, ctx.optimizer_state, ctx.params,
                               ctx.model_state, ctx.hparams, ctx.global_step, select_rng)
    try:
        ctx.optimizer_state, ctx.params, ctx.model_state = sub.update_params(
            workload=ctx.workload, current_param_container=ctx.params,
            current_params_types=ctx.workload.model_params_types, model_state=ctx.model_state,
            hyperparameters=ctx.hparams, batch=batch, loss_type=ctx.workload.loss_type,
            optimizer_state=ctx.optimizer_state, eval_results=ctx.eval_results,
            global_step=ctx.global_step, rng=update_rng,
            **_train_state_kwargs(ctx, sub.update_accepts_train_state))
    except spec.TrainingCompleteError:
        ts["training_complete"] = True
    ctx.global_step += 1
    max_steps = ctx.config.max_global_steps
    if max_steps is not None and ctx.global_step >= max_steps:
        ts["training_complete"] = True


def account_step_time(ctx: TrialContext) -> float:
    """Add the time since the last step ended to the submission time.

    Without ``sync_every_step`` (JAX) the read is unsynced unless an eval is
    due; the sum telescopes, so every recorded time and the budget check
    still include all device work (README, "The timed loop").
    """
    every = ctx.backend.sync_every_step
    now = get_time(ctx, sync=every)
    if not every and eval_is_due(ctx, now):
        now = get_time(ctx)
    ctx.train_state["accumulated_submission_time"] += now - ctx.train_state["last_step_end_time"]
    return now


def eval_is_due(ctx: TrialContext, now: float) -> bool:
    ts = ctx.train_state
    return now - ts["last_eval_time"] >= ctx.eval_period_sec or ts["training_complete"]


def prepare_for_eval(ctx: TrialContext) -> None:
    """The submission's prepare_for_eval; its time counts as submission time."""
    sub = ctx.submission
    start = get_time(ctx)
    ctx.optimizer_state, ctx.params, ctx.model_state = sub.prepare_for_eval(
        workload=ctx.workload, current_param_container=ctx.params,
        current_params_types=ctx.workload.model_params_types, model_state=ctx.model_state,
        hyperparameters=ctx.hparams, loss_type=ctx.workload.loss_type,
        optimizer_state=ctx.optimizer_state, eval_results=ctx.eval_results,
        global_step=ctx.global_step, rng=ctx.prep_eval_rng,
        **_train_state_kwargs(ctx, sub.prepare_accepts_train_state))
    ctx.train_state["accumulated_submission_time"] += get_time(ctx) - start


def check_time_remaining(ctx: TrialContext) -> bool:
    ts = ctx.train_state
    ts["is_time_remaining"] = ts["accumulated_submission_time"] < ctx.budget_sec
    return ts["is_time_remaining"]


def run_eval(ctx: TrialContext) -> dict[str, Any]:
    """The untimed eval; returns the eval row with every timing column."""
    ts, wl = ctx.train_state, ctx.workload
    start = get_time(ctx)
    result = wl.eval_model(ctx.eval_batch_size, ctx.params, ctx.model_state, ctx.eval_rng,
                           ctx.config.data_dir, ctx.config.imagenet_v2_data_dir,
                           ctx.global_step)
    ts["validation_goal_reached"] |= bool(wl.has_reached_validation_target(result))
    ts["test_goal_reached"] |= bool(wl.has_reached_test_target(result))
    end = get_time(ctx)
    ts["last_eval_time"] = end
    ts["accumulated_eval_time"] += end - start
    row = dict(result)
    row.update(score=ts["accumulated_submission_time"],
               total_duration=end - ctx.global_start_time,
               accumulated_submission_time=ts["accumulated_submission_time"],
               accumulated_eval_time=ts["accumulated_eval_time"],
               accumulated_logging_time=ts["accumulated_logging_time"],
               global_step=ctx.global_step, preemption_count=ctx.preemption_count)
    ctx.eval_results.append((ctx.global_step, row))
    ctx.rows.append(store_row(row))
    return row


def store_row(row: dict[str, Any]) -> dict[str, Any]:
    """The store's row: ``score`` is ``accumulated_submission_time``, kept once."""
    return {k: v for k, v in row.items() if k != "score"}


def log_eval(ctx: TrialContext, row: dict[str, Any]) -> None:
    """Store rows, checkpoint, hooks: all in the untimed logging window."""
    start = get_time(ctx)
    prune = nan_stop = False
    if ctx.is_rank0 and ctx.store is not None:
        ctx.store.write_evals(ctx.store_key, ctx.rows)
    save_checkpoint(ctx)
    if ctx.is_rank0 or getattr(ctx.hooks, "all_ranks", False):
        ctx.hooks.on_eval(store_row(row), ctx.config.checkpoint_dir)
    if ctx.is_rank0:
        prune = bool(ctx.hooks.should_stop(store_row(row)))
        nan_stop = ctx.nan_streak.should_stop(row)
    # Rank 0 decides; every rank stops together and knows whether it was pruned.
    ctx.pruned = ctx.backend.broadcast_flag(prune and not nan_stop)
    ctx.stopped = ctx.backend.broadcast_flag(nan_stop) or ctx.pruned
    fill_step_keys(ctx)
    ctx.train_state["accumulated_logging_time"] += get_time(ctx) - start


def fill_step_keys(ctx: TrialContext, first: bool = False) -> None:
    """Derive upcoming step keys now, while the clock is stopped (see step_keys)."""
    since = None if first else ctx.global_step - ctx.last_fill_step
    ctx.step_keys.fill(ctx.global_step, since, ctx.config.max_global_steps)
    ctx.last_fill_step = ctx.global_step


def maybe_eval(ctx: TrialContext) -> None:
    """prepare_for_eval, budget check, then eval + logging if time remains."""
    prepare_for_eval(ctx)
    if not check_time_remaining(ctx):
        return
    try:
        row = run_eval(ctx)
    except RuntimeError as e:  # as the reference: an OOM eval is skipped, not fatal
        if "out of memory" not in str(e):
            raise
        return
    log_eval(ctx, row)


def should_continue(ctx: TrialContext) -> bool:
    ts = ctx.train_state
    return (ts["is_time_remaining"] and not ctx.goals_reached
            and not ts["training_complete"] and not ctx.stopped)


def train_loop(ctx: TrialContext) -> None:
    """The timed loop; setup and restore happened before the clock starts."""
    ctx.step_keys = StepKeys(ctx.rng)
    ctx.nan_streak = outcome.NanStreak(ctx.config.stop_on_nan, target_column(ctx))
    fill_step_keys(ctx, first=True)
    ctx.global_start_time = get_time(ctx)
    ts = ctx.train_state
    ts["last_step_end_time"] = ctx.global_start_time
    # A resumed trial may run on a host whose clock is behind the one that
    # wrote the checkpoint; never let the eval schedule wait for the past.
    ts["last_eval_time"] = min(ts["last_eval_time"], ctx.global_start_time)
    while should_continue(ctx):
        train_step(ctx)
        now = account_step_time(ctx)
        if eval_is_due(ctx, now):
            maybe_eval(ctx)
        ctx.train_state["last_step_end_time"] = get_time(ctx, ctx.backend.sync_every_step)


def target_column(ctx: TrialContext) -> str:
    """The eval column the trial's target is judged on (the version's, else the workload's)."""
    version, name = ctx.config.version, ctx.config.workload
    if name in version.workloads:
        return version.target(name).metric_column
    return f"validation/{ctx.workload.target_metric_name}"


def time_to_target(ctx: TrialContext) -> float:
    """Submission time of the first eval that met the validation target."""
    wl = ctx.workload
    metric = f"validation/{wl.target_metric_name}"
    for _, row in ctx.eval_results:
        if spec.meets_target(metric, row.get(metric), wl.validation_target_value):
            return float(row["accumulated_submission_time"])
    return math.inf
