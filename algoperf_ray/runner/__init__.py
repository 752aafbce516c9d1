"""The AlgoPerf timed runner: one trial, one process (or DDP rank).

Importing this package needs neither torch nor jax; the framework backend is
imported when a trial starts.
"""

from algoperf_ray.runner.config import TrialConfig, TrialResult
from algoperf_ray.runner.hooks import Clock, FakeClock, RunnerHooks, WallClock
from algoperf_ray.runner.trial import run_loaded_trial, run_trial

__all__ = ["Clock", "FakeClock", "RunnerHooks", "TrialConfig", "TrialResult", "WallClock",
           "run_loaded_trial", "run_trial"]
