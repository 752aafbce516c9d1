"""algoperf.pytorch_utils equivalents: DDP detection, time sync, batch-norm freeze."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from algoperf_ray.compat import pytorch_utils  # noqa: E402


def test_pytorch_setup_detects_a_launcher_before_the_process_group(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert pytorch_utils.pytorch_setup() == (False, 0, torch.device("cpu"),
                                             torch.cuda.device_count())
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    use_ddp, rank, device, _ = pytorch_utils.pytorch_setup()
    assert (use_ddp, rank, device.type) == (True, 1, "cpu")
    monkeypatch.setenv("WORLD_SIZE", "1")  # a one-process launch is not DDP
    assert pytorch_utils.pytorch_setup()[0] is False


def test_sync_ddp_time_without_a_process_group_is_identity():
    assert pytorch_utils.sync_ddp_time(1.25, torch.device("cpu")) == 1.25


def test_update_batch_norm_fn_freezes_and_restores_running_stats():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).train()
    bn = model[1]
    x = torch.randn(16, 3) + 5
    model.apply(lambda m: pytorch_utils.update_batch_norm_fn(m, update_batch_norm=False))
    before = bn.running_mean.clone()
    model(x)
    assert torch.equal(bn.running_mean, before)
    model.apply(lambda m: pytorch_utils.update_batch_norm_fn(m, update_batch_norm=True))
    assert bn.momentum == 0.1
    model(x)
    assert not torch.equal(bn.running_mean, before)


def test_sequential_with_dropout_passes_the_rate():
    seq = pytorch_utils.SequentialWithDropout(torch.nn.Identity(),
                                              pytorch_utils.CustomDropout()).train()
    x = torch.ones(1000)
    assert torch.equal(seq(x, 0.0), x)
    dropped = seq(x, 0.5)
    assert 300 < int((dropped == 0).sum()) < 700
    assert torch.equal(seq.eval()(x, 0.5), x)
