"""The knee single-coil pipeline on tiny files in the real HDF5 layout."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from algoperf_ray.benchmark.registry import get_meta, load_workload
from algoperf_ray.workloads.fastmri import input_pipeline as ip
from algoperf_ray.workloads.fastmri.metadata import BATCH_FIELDS

from .conftest import NUM_VALIDATION_FILES, TRAIN_VOLUMES, VAL_VOLUMES, write_volume


def test_validation_and_test_split_the_sorted_val_files_at_100(tmp_path: Path) -> None:
    folder = tmp_path / ip.VAL_DIR
    folder.mkdir()
    names = [f"file{1000000 + i * 7 % 199:07d}.h5" for i in range(199)]
    for name in names:
        (folder / name).touch()
    val, test = ip.split_files(tmp_path, "validation"), ip.split_files(tmp_path, "test")
    assert len(val) == 100 and len(test) == 99
    assert [p.name for p in val + test] == sorted(names)


def test_missing_folder_names_the_setup_script(tmp_path: Path) -> None:
    with pytest.raises(ip.FastMRIDataError, match="setup_fastmri.py"):
        ip.split_files(tmp_path, "train")


def test_column_mask_is_the_reference_4x_mask() -> None:
    gen = np.random.default_rng(0)
    masks = np.stack([ip.column_mask(368, gen) for _ in range(400)])
    num_low = int(368 * 0.08)  # 29 fully sampled centre columns
    pad = (368 - num_low + 1) // 2
    assert masks[:, pad:pad + num_low].min() == 1.0
    # On average a quarter of all columns is sampled (4x acceleration).
    assert masks.mean() == pytest.approx(0.25, abs=0.01)


def test_examples_follow_the_reference_transform(fastmri_dir: Path) -> None:
    import h5py

    with h5py.File(fastmri_dir / ip.TRAIN_DIR / "file1000002.h5") as f:
        kspace, target, vmax = f["kspace"][1], f["reconstruction_esc"][1], f.attrs["max"]
    ex = ip.process_slice(kspace, target, vmax, np.random.default_rng(7))
    mask = ip.column_mask(kspace.shape[1], np.random.default_rng(7))
    image = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(kspace * mask), norm="ortho"))
    left = (kspace.shape[1] - 320) // 2
    zero_filled = np.abs(image[160:480, left:left + 320])
    assert ex["mean"] == pytest.approx(zero_filled.mean(), rel=1e-5)
    assert ex["std"] == pytest.approx(zero_filled.std(), rel=1e-5)
    np.testing.assert_allclose(ex["inputs"], np.clip((zero_filled - ex["mean"]) / ex["std"],
                                                     -6, 6), atol=1e-4)
    np.testing.assert_allclose(ex["targets"] * ex["std"] + ex["mean"], target, rtol=1e-4,
                               atol=1e-9)
    assert ex["volume_max"] == np.float32(vmax)


def test_train_batches_shapes_dtypes_and_shuffling(fastmri_dir: Path) -> None:
    batches = list(itertools.islice(ip.batches(fastmri_dir, "train", 0, 2, train=True), 5))
    for b in batches:
        assert set(b) == set(BATCH_FIELDS)  # no weights in training, as the reference
        for k, f in BATCH_FIELDS.items():
            assert b[k].shape == (2, *f.shape) and b[k].dtype == np.dtype(f.dtype), k
    # 5 train slices; 10 rows cover two epochs, each a permutation of all slices.
    means = np.concatenate([b["mean"] for b in batches])
    assert len(set(means[:5].tolist())) == 5 and sorted(means[:5]) == sorted(means[5:])
    again = list(itertools.islice(ip.batches(fastmri_dir, "train", 0, 2, train=True), 5))
    other = list(itertools.islice(ip.batches(fastmri_dir, "train", 1, 2, train=True), 5))
    np.testing.assert_array_equal(means, np.concatenate([b["mean"] for b in again]))
    assert not np.array_equal(means, np.concatenate([b["mean"] for b in other]))


def test_eval_pass_is_padded_with_zero_weights(fastmri_dir: Path, tiny_split: None) -> None:
    val = list(ip.batches(fastmri_dir, "validation", 0, 3, train=False,
                          num_validation_files=ip.NUM_VALIDATION_FILES))
    n_val = sum(s for name, (s, _) in sorted(VAL_VOLUMES.items())[:NUM_VALIDATION_FILES])
    weights = np.concatenate([b["weights"] for b in val])
    assert weights.sum() == n_val and len(weights) == 3 * len(val)
    assert (weights[n_val:] == 0).all()
    last = val[-1]
    assert (last["inputs"][weights[-3:] == 0] == 0).all()


def test_eval_masks_use_the_fixed_eval_seed(fastmri_dir: Path, tiny_split: None) -> None:
    a = next(ip.batches(fastmri_dir, "validation", 0, 2, train=False, num_validation_files=2))
    b = next(ip.batches(fastmri_dir, "validation", 99, 2, train=False, num_validation_files=2))
    np.testing.assert_array_equal(a["inputs"], b["inputs"])


def test_local_rows_decode_only_this_ranks_part(fastmri_dir: Path) -> None:
    full = next(ip.batches(fastmri_dir, "eval_train", 3, 4, train=False))
    part = next(ip.batches(fastmri_dir, "eval_train", 3, 4, train=False, local_rows=(2, 4)))
    np.testing.assert_array_equal(part["inputs"][2:], full["inputs"][2:])
    assert (part["inputs"][:2] == 0).all()
    np.testing.assert_array_equal(part["weights"], full["weights"])


def test_missing_dataset_in_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / ip.TRAIN_DIR).mkdir()
    write_volume(tmp_path / ip.TRAIN_DIR / "file1.h5", 1, 368, seed=0, keys=("kspace",))
    with pytest.raises(ip.FastMRIDataError, match="file1.h5.*reconstruction_esc"):
        next(ip.batches(tmp_path, "train", 0, 1, train=True))


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_synthetic_batches_have_the_real_shapes_and_valid_statistics(framework: str) -> None:
    wl = load_workload("fastmri", framework, data_mode="synthetic", max_eval_examples=5)
    train = next(wl.host_batches("train", 0, None, 3, train=True))
    for k, f in BATCH_FIELDS.items():
        assert train[k].shape == (3, *f.shape) and train[k].dtype == np.dtype(f.dtype)
    assert (train["std"] > 0).all() and (train["volume_max"] > 0).all()
    evals = list(wl.host_batches("validation", 0, None, 2, train=False))
    assert [b["weights"].tolist() for b in evals] == [[1, 1], [1, 1], [1, 0]]
    assert get_meta("fastmri").num_validation_examples == 3554


def test_tiny_dataset_matches_the_conftest_layout(fastmri_dir: Path) -> None:
    assert len(ip.slice_index(ip.split_files(fastmri_dir, "train"))) == sum(
        s for s, _ in TRAIN_VOLUMES.values())
