"""The three data sources and the knob that selects them."""

import hashlib
import os
import pickle
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torchvision.datasets import CIFAR10

from ffnn_lab import (
    CLASSES,
    DataNotFoundError,
    InvalidInput,
    carve_holdout,
    describe,
    load_cifar2,
    load_cifar10,
    prepare_cifar2,
)
from ffnn_lab import data as data_module
from ffnn_lab.array_dataset import ArrayCIFAR10
from ffnn_lab.data import find_source, ways_out


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def official(tmp_path, monkeypatch):
    """A tiny copy in the official pickled format, with torchvision's checksums swapped for its own."""
    base = tmp_path / "official" / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8)
        labels = [i % 10 for i in range(20)]
        with open(base / name, "wb") as f:
            pickle.dump({"data": images.reshape(20, -1), "labels": labels}, f)
        batches[name] = images
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(CLASSES)}, f)
    monkeypatch.setattr(
        CIFAR10, "train_list", [[f"data_batch_{i}", md5(base / f"data_batch_{i}")] for i in range(1, 6)]
    )
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5(base / "test_batch")]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5(base / "batches.meta")})
    return base.parent, batches


def test_official_format_through_torchvision(official, monkeypatch):
    root, batches = official
    ds = load_cifar10(root)
    assert type(ds) is CIFAR10 and len(ds) == 100 and ds.classes == list(CLASSES)
    assert np.array_equal(ds.data[0], batches["data_batch_1"][0].transpose(1, 2, 0))
    assert len(load_cifar10(root, train=False)) == 20
    monkeypatch.setenv("FFNN_LAB_DATA", str(root))  # the knob, as an environment variable
    assert len(load_cifar10()) == 100
    assert len(load_cifar10(root / "cifar-10-batches-py")) == 100  # the inner folder works too
    cifar2 = load_cifar2(root)
    assert sorted({label for _, label in cifar2}) == [0, 1] and len(cifar2) == 20


def test_official_corrupted_file_is_reported(official):
    root, _ = official
    with open(root / "cifar-10-batches-py" / "data_batch_3", "ab") as f:
        f.write(b"garbage")
    with pytest.raises(DataNotFoundError, match="corrupted"):
        load_cifar10(root)


def test_official_missing_lists_the_ways_out(tmp_path, monkeypatch):
    monkeypatch.setenv("FFNN_LAB_ROOT", str(tmp_path))
    with pytest.raises(DataNotFoundError) as e:
        load_cifar10()  # default source: official copy under the data root, not downloaded
    assert e.value.problem.startswith(f"No verified official CIFAR-10 under {tmp_path} and download=False")
    assert str(e.value) == f"{e.value.problem}\n{ways_out()}"
    # the ways out speak Python: the loaders' arguments, no command-line flags
    starts = ("  1. download=True: ", "  2. root=DIR, or FFNN_LAB_DATA=DIR: ", '  3. root="synthetic", or ')
    assert all(
        line.startswith(start) for line, start in zip(ways_out().splitlines()[1::2], starts, strict=True)
    )
    assert "--" not in ways_out() and "ffnn-lab" not in ways_out()


def test_download_true_is_a_no_op_where_nothing_can_be_downloaded(tmp_path, official):
    root, _ = official
    assert len(load_cifar10(root, download=True)) == 100  # present and verified: nothing fetched
    write_folder(tmp_path / "folder", "train", per_class=4)
    assert len(load_cifar10(tmp_path / "folder", download=True, holdout=4)) == 36
    assert len(load_cifar10("synthetic", download=True)) == 3000
    data = prepare_cifar2(tmp_path / "folder", download=True, holdout=4)
    assert (len(data.train), len(data.val)) == (4, 4)


def test_an_array_copy_reads_like_the_image_folder(tmp_path):
    write_folder(tmp_path / "folder", "train", per_class=4)
    folder = load_cifar10(tmp_path / "folder", holdout=4, split_seed=1)
    np.savez(tmp_path / "train.npz", data=folder.data, targets=np.array(folder.targets))
    arrays = load_cifar10(tmp_path, download=True, holdout=0)
    assert find_source(tmp_path).kind == "folder" and "array copy at" in describe(arrays)
    assert np.array_equal(arrays.data, folder.data) and arrays.targets == folder.targets
    np.savez(tmp_path / "train.npz", data=folder.data.astype(np.float32), targets=np.array(folder.targets))
    with pytest.raises(ValueError, match="expected uint8"):
        load_cifar10(tmp_path, holdout=0)


def test_unknown_directory_is_reported(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_cifar10(tmp_path / "nope")
    with pytest.raises(DataNotFoundError, match="neither"):
        load_cifar10(tmp_path)


def write_folder(root, split, per_class=6, suffix=".png", seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for label, name in enumerate(CLASSES):
        d = root / split / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            ext = suffix if label % 2 == 0 else ".jpg"  # a mix of PNG and JPEG
            Image.fromarray(a).save(d / f"{i:04d}{ext}")
            arrays[(label, i)] = a
    return arrays


def test_image_folder_with_test_split(tmp_path):
    arrays = write_folder(tmp_path, "train")
    write_folder(tmp_path, "test", per_class=2, seed=1)
    ds = load_cifar10(tmp_path)
    assert isinstance(ds, ArrayCIFAR10) and len(ds) == 60
    assert ds.targets == [i for i in range(10) for _ in range(6)]  # CIFAR-10's label order
    assert np.array_equal(ds.data[0], arrays[(0, 0)])  # PNG: lossless
    jpeg = np.asarray(Image.open(tmp_path / "train" / "automobile" / "0000.jpg"))
    assert np.array_equal(ds.data[6], jpeg)  # JPEG: as decoded, not as written
    assert len(load_cifar10(tmp_path, train=False)) == 20
    img, label = ds[7]
    assert isinstance(img, Image.Image) and label == 1


def test_image_folder_without_test_carves_a_holdout(tmp_path):
    write_folder(tmp_path, "train", per_class=10)
    train = load_cifar10(tmp_path, holdout=6, split_seed=3)
    val = load_cifar10(tmp_path, train=False, holdout=6, split_seed=3)
    assert len(train) == 94 and len(val) == 6
    assert sorted(val.targets) == [0, 0, 0, 2, 2, 2]  # stratified over airplane and bird
    assert "hold-out" in describe(val) and "hold-out" in describe(train)
    train_rows = {r.tobytes() for r in train.data}
    assert not any(r.tobytes() in train_rows for r in val.data)  # disjoint
    again = load_cifar10(tmp_path, train=False, holdout=6, split_seed=3)
    assert np.array_equal(again.data, val.data)
    other = load_cifar10(tmp_path, train=False, holdout=6, split_seed=4)
    assert not np.array_equal(other.data, val.data)


def test_carve_holdout_checks_its_arguments():
    targets = [0] * 10 + [2] * 10 + [5] * 10
    keep, held = carve_holdout(targets, 8, split_seed=0)
    assert len(held) == 8 and len(keep) == 22 and set(keep).isdisjoint(held)
    assert np.bincount(np.asarray(targets)[held]).tolist()[::2][:2] == [4, 4]
    with pytest.raises(ValueError, match="multiple of 2"):
        carve_holdout(targets, 7)
    with pytest.raises(ValueError, match="only 10"):
        carve_holdout(targets, 40)


def test_image_folder_errors_are_actionable(tmp_path):
    write_folder(tmp_path, "train", per_class=1)
    (tmp_path / "train" / "truck" / "0000.jpg").unlink()
    (tmp_path / "train" / "truck").rmdir()
    with pytest.raises(DataNotFoundError, match="'truck'"):
        load_cifar10(tmp_path, holdout=0)
    (tmp_path / "train" / "truck").mkdir()
    Image.new("RGB", (64, 64)).save(tmp_path / "train" / "truck" / "big.png")
    with pytest.raises(ValueError, match="32x32"):
        load_cifar10(tmp_path, holdout=0)
    (tmp_path / "train" / "truck" / "big.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot decode"):
        load_cifar10(tmp_path, holdout=0)
    (tmp_path / "train" / "truck" / "big.png").unlink()
    (tmp_path / "train" / "truck" / "gone.png").symlink_to(tmp_path / "nowhere.png")  # a dangling link
    with pytest.raises(InvalidInput, match=r"cannot read .*gone\.png: No such file.*remove or replace"):
        load_cifar10(tmp_path, holdout=0)


def cache_files(tmp_path):
    return list((tmp_path / "root" / "cache").glob("*.npz"))


def test_cache_is_reused_rebuilt_and_checked(tmp_path, monkeypatch):
    src = tmp_path / "copy"
    write_folder(src, "train", per_class=2)
    first = load_cifar10(src, holdout=0)
    assert len(cache_files(tmp_path)) == 1

    data_module._decoded.cache_clear()  # the copy on disk, not in memory
    monkeypatch.setattr(data_module, "_decode", lambda p: pytest.fail("decoded despite the cache"))
    assert np.array_equal(load_cifar10(src, holdout=0).data, first.data)  # reused
    monkeypatch.undo()
    monkeypatch.setenv("FFNN_LAB_ROOT", str(tmp_path / "root"))

    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(src / "train" / "bird" / "new.png")
    data_module._decoded.cache_clear()  # the copy on disk, not in memory
    assert len(load_cifar10(src, holdout=0)) == 21  # the source changed: rebuilt

    cache = cache_files(tmp_path)[0]
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])  # truncated
    data_module._decoded.cache_clear()  # the copy on disk, not in memory
    with pytest.warns(UserWarning, match="damaged"):
        assert len(load_cifar10(src, holdout=0)) == 21
    data_module._decoded.cache_clear()  # the copy on disk, not in memory
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rewritten whole: no warning the next time
        assert len(load_cifar10(src, holdout=0)) == 21
    assert not list(cache.parent.glob("*.tmp"))


def test_the_cache_of_a_private_copy_is_private_too(tmp_path):
    outside = Path(tempfile.mkdtemp())  # pytest's own folders are shut to others: one that is not
    try:
        outside.chmod(0o755)
        shared, private = outside / "shared", outside / "secret" / "copy"
        write_folder(shared, "train", per_class=2)
        write_folder(private, "train", per_class=2, seed=3)
        private.parent.chmod(0o700)  # the instructor's private images, folders below it left open
        load_cifar10(shared, holdout=0)
        load_cifar10(private, holdout=0)
        modes = sorted(oct(p.stat().st_mode & 0o777) for p in cache_files(tmp_path))
        assert modes == ["0o600", "0o644"]
        old = os.umask(0o077)  # the grader's: nothing it writes is for others
        try:
            (tmp_path / "root" / "cache").rename(tmp_path / "root" / "before")
            load_cifar10(shared, holdout=0)
        finally:
            os.umask(old)
        assert [oct(p.stat().st_mode & 0o777) for p in cache_files(tmp_path)] == ["0o600"]
    finally:
        shutil.rmtree(outside)


def test_cache_write_is_atomic(tmp_path, monkeypatch):
    src = tmp_path / "copy"
    write_folder(src, "train", per_class=1)
    load_cifar10(src, holdout=0)
    cache = cache_files(tmp_path)[0]
    before = cache.read_bytes()
    data_module._decoded.cache_clear()  # the copy on disk, not in memory
    os.utime(src / "train" / "bird" / "0000.png", ns=(1, 1))  # the source changes...
    monkeypatch.setattr(np, "savez", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    load_cifar10(src, holdout=0)  # ...and the rewrite fails: still works, old cache untouched
    assert cache.read_bytes() == before and not list(cache.parent.glob("*.tmp"))
