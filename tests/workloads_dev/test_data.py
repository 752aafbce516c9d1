"""Input pipelines of the dev workloads, and synthetic mode.

mnist and cifar run their real TFDS pipelines offline on
``tfds.testing.mock_data``; digits uses the real bundled scikit-learn data.
Synthetic batches must have exactly the real batches' shapes and dtypes.
"""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray.benchmark.registry import get_meta, load_workload
from algoperf_ray.workload.base import BaseWorkload
from algoperf_ray.workloads.digits import input_pipeline as digits_data


def _host(name: str, mode: str, **kw) -> BaseWorkload:
    # The host pipeline is framework-neutral; the PyTorch leaf is just a carrier.
    return load_workload(name, "pytorch", data_mode=mode, **kw)


def _layout(batch: dict) -> dict:
    return {k: (v.shape, v.dtype) for k, v in batch.items()}


def test_digits_splits_are_fixed_disjoint_and_documented_sizes():
    meta = get_meta("digits")
    args = (meta.train_mean, meta.train_stddev, meta.num_eval_train_examples)
    splits = {s: digits_data.split_arrays(s, *args) for s in ("train", "validation", "test")}
    assert [len(splits[s]["targets"]) for s in splits] == [1297, 250, 250]
    assert meta.num_train_examples + meta.num_validation_examples + meta.num_test_examples == 1797
    rows = {s: {a.tobytes() for a in splits[s]["inputs"]} for s in splits}
    assert not rows["train"] & rows["validation"] and not rows["validation"] & rows["test"]
    x = splits["train"]["inputs"]  # standardised with the recorded train statistics
    assert abs(float(x.mean())) < 1e-3 and float(x.std()) == pytest.approx(1.0, abs=1e-3)
    assert len(digits_data.split_arrays("eval_train", *args)["targets"]) == 500
    with pytest.raises(ValueError, match="unknown digits split 'dev'"):
        digits_data.split_arrays("dev", *args)


def test_digits_train_batches_shuffle_per_seed_and_eval_pads():
    w = _host("digits", "real")
    a = next(w.host_batches("train", 1, None, 64, train=True))
    b = next(w.host_batches("train", 1, None, 64, train=True))
    c = next(w.host_batches("train", 2, None, 64, train=True))
    np.testing.assert_array_equal(a["inputs"], b["inputs"])
    assert not np.array_equal(a["inputs"], c["inputs"])
    val = list(w.host_batches("validation", 0, None, 96, train=False))
    assert [len(v["weights"]) for v in val] == [96, 96, 96]  # 250 -> padded to 288
    assert float(sum(v["weights"].sum() for v in val)) == 250
    assert not val[-1]["inputs"][250 - 192:].any()  # padding rows are zeros


@pytest.mark.parametrize("name,kw", [("digits", {}), ("mnist", {}), ("cifar", {"num_filters": 8})])
def test_synthetic_batches_have_real_shapes_and_dtypes(name, kw, tmp_path):
    real = _host(name, "real", **kw)
    synth = _host(name, "synthetic", **kw)
    with _mock_tfds():
        r_train = next(real.host_batches("train", 0, str(tmp_path), 8, train=True))
        r_eval = next(real.host_batches("validation", 0, str(tmp_path), 8, train=False))
    s_train = next(synth.host_batches("train", 0, None, 8, train=True))
    s_eval = next(synth.host_batches("validation", 0, None, 8, train=False))
    assert _layout(s_train) == _layout(r_train)
    assert _layout(s_eval) == _layout(r_eval)
    assert s_train["targets"].min() >= 0 and s_train["targets"].max() < 10


def _mock_tfds(num_examples: int = 40):
    tfds = pytest.importorskip("tensorflow_datasets")
    return tfds.testing.mock_data(num_examples=num_examples,
                                  policy=tfds.testing.MockPolicy.USE_CODE)


def test_mnist_tfds_pipeline_on_mock_data(tmp_path):
    w = _host("mnist", "real")
    with _mock_tfds(40):
        train = next(w.host_batches("train", 0, str(tmp_path), 16, train=True))
        evals = list(w.host_batches("test", 0, str(tmp_path), 16, train=False))
    assert train["inputs"].shape == (16, 28, 28, 1) and train["inputs"].dtype == np.float32
    assert "weights" not in train
    # Reference normalisation on raw 0..255 pixels.
    lo, hi = (0 - 0.1307) / 0.3081, (255 - 0.1307) / 0.3081
    assert lo - 1e-4 <= train["inputs"].min() and train["inputs"].max() <= hi + 1e-4
    assert train["inputs"].max() > 10  # not divided by 255
    assert [len(b["weights"]) for b in evals] == [16, 16, 16]
    assert float(sum(b["weights"].sum() for b in evals)) == 40  # every mock example once


def test_cifar_tfds_pipeline_augments_reproducibly(tmp_path):
    w = _host("cifar", "real", num_filters=8)
    with _mock_tfds(40):
        a = next(w.host_batches("train", 3, str(tmp_path), 20, train=True))
        b = next(w.host_batches("train", 3, str(tmp_path), 20, train=True))
        evals = list(w.host_batches("validation", 0, str(tmp_path), 32, train=False))
    np.testing.assert_array_equal(a["inputs"], b["inputs"])  # same seed, same crops/flips
    assert a["inputs"].shape == (20, 32, 32, 3) and a["targets"].dtype == np.int32
    # Crops from the zero-padded 36x36 image leave whole zero-pixel (pre-norm)
    # border rows/columns on some images; normalised that is -mean/std per channel.
    pad_value = -np.array(get_meta("cifar").train_mean) / np.array(get_meta("cifar").train_stddev)
    border = np.isclose(a["inputs"][:, 0, :, :], pad_value, atol=1e-5).all(axis=(1, 2)) | \
        np.isclose(a["inputs"][:, :, 0, :], pad_value, atol=1e-5).all(axis=(1, 2))
    assert border.any()
    e = evals[0]["inputs"]  # eval images are never padded/cropped
    assert not np.isclose(e[:, 0, :, :], pad_value, atol=1e-5).all(axis=(1, 2)).any()
    assert float(sum(b["weights"].sum() for b in evals)) == 40


def test_missing_tfds_data_names_dataset_and_fix(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    w = _host("mnist", "real")
    with pytest.raises(FileNotFoundError, match=r"'mnist' is not prepared.*--data-dir"):
        next(w.host_batches("train", 0, str(tmp_path / "empty"), 8, train=True))


def test_synthetic_eval_pass_counts_each_split_example_once():
    w = _host("digits", "synthetic")
    batches = list(w.host_batches("validation", 0, None, 96, train=False))
    assert [len(b["weights"]) for b in batches] == [96, 96, 96]
    assert float(sum(b["weights"].sum() for b in batches)) == w.num_validation_examples == 250
