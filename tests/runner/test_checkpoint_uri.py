"""Checkpoints in a pyarrow-filesystem URI (shared storage on a cluster).

A trial checkpoints to a ``file://`` URI through the same upload/download
path an ``s3://`` bucket takes, is preempted, and resumes from it. The
upload and download steps are also checked on pyarrow's in-memory
filesystem (its ``mock://`` URIs give a fresh one per ``from_uri`` call,
so a trial cannot resume through one; the instance is passed directly).
"""

from __future__ import annotations

import os

import pytest
import torch
from pyarrow import fs
from runner_fakes import FakeTorchWorkload, ScriptedSubmission

from algoperf_ray.runner import FakeClock, RunnerHooks, TrialConfig, run_loaded_trial
from algoperf_ray.runner import checkpoint as ckpt
from algoperf_ray.tune.options import TuneOptions


class Preempted(Exception):
    pass


class PreemptAtStep(RunnerHooks):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_eval(self, row, checkpoint_dir):
        if row["global_step"] == self.step:
            raise Preempted


def _run(ckpt_dir, hooks=None, max_steps=6):
    clock = FakeClock()
    config = TrialConfig.build(workload="fake", framework="pytorch", submission_path="scripted.py",
                               seed=0, max_global_steps=max_steps, eval_period_sec=0.0,
                               checkpoint_dir=ckpt_dir)
    workload = FakeTorchWorkload(clock=clock)
    sub = ScriptedSubmission(clock, batch_from_step=True, quality=lambda s: s / 100)
    return run_loaded_trial(config, workload, sub, hooks=hooks, clock=clock), sub


def test_trial_resumes_from_a_file_uri(tmp_path):
    target = tmp_path / "bucket" / "exp" / "checkpoints" / "t0"
    uri = target.as_uri()
    assert uri.startswith("file://")
    with pytest.raises(Preempted):
        _run(uri, hooks=PreemptAtStep(3))
    # one file, no temp leftovers, holding the step-3 state
    assert os.listdir(target) == ["checkpoint.pt"]
    saved = torch.load(target / "checkpoint.pt", weights_only=False)
    assert saved["bookkeeping"]["global_step"] == 3

    resumed, sub = _run(uri)
    assert sub.log[0]["step"] == 3
    assert resumed.global_step == 6 and resumed.preemption_count == 1
    assert [r["preemption_count"] for r in resumed.eval_rows] == [0, 0, 0, 1, 1, 1]
    assert [r["accumulated_submission_time"] for r in resumed.eval_rows] == [1, 2, 3, 4, 5, 6]
    full, _ = _run(None)
    for a, b in zip(full.eval_rows, resumed.eval_rows, strict=True):
        assert a["validation/loss"] == pytest.approx(b["validation/loss"], rel=1e-6, abs=1e-7)


def test_no_checkpoint_at_a_uri_starts_fresh(tmp_path):
    result, sub = _run((tmp_path / "empty").as_uri(), max_steps=2)
    assert sub.log[0]["step"] == 0 and result.preemption_count == 0


def test_upload_replaces_and_download_reads_back_on_memory_filesystem(tmp_path):
    memory = fs._MockFileSystem()
    local = tmp_path / "c.pt"
    for content in (b"old", b"new"):
        local.write_bytes(content)
        ckpt.upload(str(local), memory, "bucket/exp/checkpoints/t0/c.pt")
    listed = memory.get_file_info(fs.FileSelector("bucket/exp/checkpoints/t0"))
    assert [i.base_name for i in listed] == ["c.pt"]  # the temp name was moved away
    out = tmp_path / "back.pt"
    assert ckpt.download(memory, "bucket/exp/checkpoints/t0/c.pt", str(out))
    assert out.read_bytes() == b"new"
    assert not ckpt.download(memory, "bucket/exp/checkpoints/t1/c.pt", str(out))


def test_failed_write_leaves_the_old_checkpoint(tmp_path):
    uri = (tmp_path / "ckpt").as_uri()
    ckpt.save(uri, "c.bin", lambda p: open(p, "wb").write(b"good"))

    def broken(path):
        open(path, "wb").write(b"torn")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        ckpt.save(uri, "c.bin", broken)
    with ckpt.local_checkpoint(uri, "c.bin") as path:
        assert open(path, "rb").read() == b"good"
    assert os.listdir(tmp_path / "ckpt") == ["c.bin"]


def test_bad_uri_is_a_clear_error():
    with pytest.raises(ValueError, match="checkpoint_dir 'nosuchfs://x'"):
        ckpt.save("nosuchfs://x", "c.bin", lambda p: None)


@pytest.mark.parametrize(("storage", "expected"), [
    ("s3://bucket/prefix", "s3://bucket/prefix/exp/checkpoints/t0"),
    ("s3://bucket/prefix/", "s3://bucket/prefix/exp/checkpoints/t0"),
    ("/mnt/shared/ray", "/mnt/shared/ray/exp/checkpoints/t0"),
])
def test_tune_checkpoint_dir_composes_uris_and_paths(storage, expected):
    opts = TuneOptions(experiment="exp", storage_path=storage)

    class Spec:
        trial_id = "t0"

    assert opts.checkpoint_dir(Spec()) == expected
    assert opts.experiment_path == expected.rsplit("/checkpoints", 1)[0]
