"""The datasets with ground-truth factors: the procedural ``sprites`` (generated, checked for
binary images, a complete grid, determinism, factors that change the picture and shapes that
stay in the frame), ``dsprites`` and ``shapes3d`` on tiny files written in their published
layouts (npz and HDF5), their refusals and the offline download error; and the factor rule of
:class:`genmod.data.DatasetArrays` (validate_loaded, limited). Offline and fast."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from genmod.contract.errors import ConfigError, DataError, PluginError
from genmod.contract.options import resolve_options
from genmod.data import Dataset, DatasetArrays, validate_loaded
from genmod.data.download import sha256_file
from genmod_builtins import factor_datasets, sprites_render
from genmod_builtins.data_splits import split_indices
from genmod_builtins.factor_datasets import DSprites, Shapes3D, Sprites

h5py = pytest.importorskip("h5py")

DSPRITES_H5 = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5"
DSPRITES_NPZ = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
DSPRITES_SIZES = (3, 6, 40, 32, 32)
SHAPES3D_SIZES = (10, 10, 10, 8, 4, 15)
OFFLINE = ("http://127.0.0.1:9/",)


def one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    return message


def all_items(arrays: DatasetArrays):
    """(images, factors, labels) of both splits, train first."""
    return (
        np.concatenate([arrays.x_train, arrays.x_test]),
        np.concatenate([arrays.factors_train, arrays.factors_test]),
        np.concatenate([arrays.y_train, arrays.y_test]),
    )


# ---------------------------------------------------------------- sprites


@pytest.fixture(scope="module")
def sprites():
    return Sprites().load(None)


def test_sprites_are_binary_images_of_the_full_factor_grid(sprites):
    arrays = validate_loaded(Sprites(), sprites)
    assert arrays.data_shape == (32, 32, 1) and arrays.num_classes == 3
    assert arrays.x_train.dtype == np.uint8 and arrays.factors_train.dtype == np.int64
    assert (len(arrays.x_train), len(arrays.x_test)) == (6144 - 614, 614)
    assert arrays.factor_names == ("shape", "scale", "rotation", "pos_x", "pos_y")
    assert arrays.factor_sizes == (3, 4, 8, 8, 8)
    images, factors, labels = all_items(arrays)
    assert set(np.unique(images)) == {0, 255}
    assert (images.reshape(len(images), -1).max(axis=1) == 255).all()  # none is empty
    np.testing.assert_array_equal(labels, factors[:, 0])
    # every combination exactly once: the rows are the 6,144 mixed-radix numbers of the grid
    codes = np.ravel_multi_index(tuple(factors.T), arrays.factor_sizes)
    np.testing.assert_array_equal(np.sort(codes), np.arange(6144))


def test_sprites_are_deterministic_and_the_seed_only_moves_the_split(sprites):
    again = Sprites().load(None)
    for field in ("x_train", "x_test", "factors_train", "factors_test", "y_train"):
        np.testing.assert_array_equal(getattr(again, field), getattr(sprites, field))
    sprites_render.render_grid.cache_clear()
    fresh = Sprites().load(None)  # rendered again, not from the cache
    np.testing.assert_array_equal(fresh.x_train, sprites.x_train)
    other = Sprites(seed=5).load(None)
    assert not np.array_equal(other.factors_test, sprites.factors_test)

    def by_code(arrays):
        images, factors, _ = all_items(arrays)
        return images[np.argsort(np.ravel_multi_index(tuple(factors.T), (3, 4, 8, 8, 8)))]

    np.testing.assert_array_equal(by_code(other), by_code(sprites))


def test_the_default_grid_is_the_documented_one():
    """docs/datasets.md gives this SHA-256 of the default grid in generation order; a change
    of the renderer that changes any pixel must change the docs too."""
    import hashlib

    images, factors = sprites_render.render_grid(32, 4, 8, 8)
    digest = hashlib.sha256(images.tobytes()).hexdigest()
    assert digest == "d8250c4356b558f5efc158f0a84a4b97433f26b023dee5433f02ee874b7a99b7"
    np.testing.assert_array_equal(factors[:3], [[0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 2]])


def test_sprites_render_in_well_under_two_seconds():
    sprites_render.render_grid.cache_clear()
    start = time.perf_counter()
    images, _ = sprites_render.render_grid(32, 4, 8, 8)
    assert time.perf_counter() - start < 2.0
    assert not images.flags.writeable  # the cached grid cannot be changed by a caller


def test_each_factor_step_changes_the_image_and_shapes_differ_at_every_pose():
    images, _ = sprites_render.render_grid(32, 4, 8, 8)
    grid = images.reshape(3, 4, 8, 8, 8, 32 * 32).astype(np.int16)
    for axis, name in enumerate(("scale", "rotation", "pos_x", "pos_y"), start=1):
        changed = np.diff(grid, axis=axis).any(axis=-1)
        assert changed.all(), f"a one-step change of {name} left an image unchanged"
    for a in range(3):
        for b in range(a + 1, 3):
            assert (grid[a] != grid[b]).any(axis=-1).all(), f"shapes {a} and {b} coincide"
    # a move to the right moves the white pixels right (x is the column), down for y
    cols = np.arange(32)
    mass = grid.reshape(3, 4, 8, 8, 8, 32, 32) > 0
    mean_col = (mass * cols).sum(axis=(-1, -2)) / mass.sum(axis=(-1, -2))
    mean_row = (mass * cols[:, None]).sum(axis=(-1, -2)) / mass.sum(axis=(-1, -2))
    assert (np.diff(mean_col, axis=3) > 0).all() and (np.diff(mean_row, axis=4) > 0).all()


def test_symmetric_shapes_repeat_under_their_symmetry_as_documented():
    images, _ = sprites_render.render_grid(32, 4, 8, 8)
    grid = images.reshape(3, 4, 8, 8, 8, -1)
    np.testing.assert_array_equal(grid[0, :, 2], grid[0, :, 0])  # square: a quarter turn
    np.testing.assert_array_equal(grid[1, :, 4], grid[1, :, 0])  # ellipse: a half turn
    assert (grid[2, :, 4] != grid[2, :, 0]).any(axis=-1).all()  # the heart has none


@pytest.mark.parametrize("size", [16, 23, 32, 64])
def test_sprites_stay_inside_the_frame_at_the_largest_scale_and_extreme_positions(size):
    positions = min(8, sprites_render.max_positions(size))
    images, factors = sprites_render.render_grid(size, 2, 16, positions)
    white = images[..., 0] > 0
    for edge in (white[:, 0, :], white[:, -1, :], white[:, :, 0], white[:, :, -1]):
        assert not edge.any()
    # ... while the largest shapes at the extreme positions come within 2 pixels of the edge
    big = factors[:, 1] == 1
    left = big & (factors[:, 3] == 0)
    assert white[left][:, :, 1:3].any()


def test_sprites_options_are_bounded_and_refused_clearly():
    from genmod.plugins import get_registry

    spec = get_registry().get("dataset", "sprites")
    assert [o.name for o in spec.options] == [
        "size", "scales", "rotations", "positions", "test_fraction", "seed",
    ]  # fmt: skip
    defaults = resolve_options(spec.options, {}, "sprites", from_strings=False)
    assert defaults == {
        "size": 32, "scales": 4, "rotations": 8, "positions": 8, "test_fraction": 0.1, "seed": 0,
    }  # fmt: skip
    for bad in ({"size": 15}, {"size": 129}, {"scales": 0}, {"rotations": 0},
                {"positions": 0}, {"test_fraction": 1.5}, {"seed": -1}):  # fmt: skip
        with pytest.raises(ConfigError):
            resolve_options(spec.options, bad, "sprites", from_strings=False)
    with pytest.raises(ConfigError, match="positions=26 at size=16 .* at most 25 fit") as info:
        Sprites(size=16, positions=26)
    one_line(info)
    Sprites(size=16, positions=25)  # the most that fit
    with pytest.raises(DataError, match="test_fraction must split it"):
        Sprites(test_fraction=0.0).load(None)
    tiny = Sprites(size=16, scales=1, rotations=1, positions=1).load(None)
    assert (len(tiny.x_train), len(tiny.x_test)) == (2, 1) and tiny.factor_sizes == (3, 1, 1, 1, 1)


def test_sprites_pass_the_conformance_kit(tmp_path):
    from genmod.testing import check_component, check_dataset

    arrays = check_dataset(lambda: Sprites(size=16, positions=4), data_dir=tmp_path)
    assert arrays.has_factors and arrays.data_shape == (16, 16, 1)
    check_component("dataset", "sprites", {"scales": 2, "rotations": 4}, data_dir=tmp_path)


def test_genmod_run_trains_on_sprites_with_their_shape_labels(tmp_path):
    from click.testing import CliRunner

    from genmod.cli import cli

    out = tmp_path / "run"
    args = ["run", "--dataset", "sprites", "--out", str(out), "--epochs", "1", "--quiet",
            "--batch-size", "8", "--validation-size", "8", "--latent-dim", "4", "--encoder",
            "cmlp", "--encoder-opt", "hidden=16", "--decoder-opt", "hidden=16"]  # fmt: skip
    for option in ("size=16", "scales=1", "rotations=4", "positions=4"):
        args += ["--dataset-opt", option]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert 'dataset = "sprites"' in (out / "config.toml").read_text()


# ---------------------------------------------------------------- dsprites fixtures


def dsprites_arrays(n=240, seed=0):
    """Unique random 0/1 images and latents in the published layout (colour column first)."""
    rng = np.random.default_rng(seed)
    imgs = (rng.random((n, 64, 64)) < 0.3).astype(np.uint8)
    classes = np.zeros((n, 6), np.int64)
    for k, size in enumerate(DSPRITES_SIZES, start=1):
        classes[:, k] = rng.permutation(np.arange(n) % size)
    values = classes.astype(np.float64) / 10.0
    values[:, 0] = 1.0
    return imgs, classes, values


def write_dsprites_npz(path, imgs, classes, values, overrides=None):
    """The published .npz layout; ``overrides`` replaces arrays (None: leaves one out)."""
    arrays = {
        "imgs": imgs,
        "latents_classes": classes,
        "latents_values": values,
        # the published file also holds a pickled dict; it must never be read
        "metadata": np.array({"description": "dSprites"}, dtype=object),
        **(overrides or {}),
    }
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def write_dsprites_h5(path, imgs, classes, values, drop=()):
    with h5py.File(path, "w") as f:
        if "imgs" not in drop:
            f.create_dataset("imgs", data=imgs, compression="gzip", chunks=(16, 64, 64))
        group = f.create_group("latents")
        if "classes" not in drop:
            group.create_dataset("classes", data=classes)
        group.create_dataset("values", data=values)
    return path


@pytest.fixture()
def dsprites_files(tmp_path):
    imgs, classes, values = dsprites_arrays()
    (tmp_path / "npz").mkdir()
    (tmp_path / "h5").mkdir()
    npz = write_dsprites_npz(tmp_path / "npz" / DSPRITES_NPZ, imgs, classes, values)
    h5 = write_dsprites_h5(tmp_path / "h5" / DSPRITES_H5, imgs, classes, values)
    return npz, h5, imgs, classes


def check_items_are_rows(arrays, source_images, factors_of_row, rows_expected=None):
    """Every loaded item is a row of the file with that row's factors; no row twice."""
    lookup = {img.tobytes(): i for i, img in enumerate(source_images)}
    images, factors, labels = all_items(arrays)
    rows = [lookup[img.tobytes()] for img in images]
    assert len(set(rows)) == len(rows)
    np.testing.assert_array_equal(factors, factors_of_row[rows])
    if rows_expected is not None:
        assert sorted(rows) == list(rows_expected)
    return np.array(rows), labels


def test_dsprites_reads_the_npz_and_the_hdf5_alike(dsprites_files):
    npz, h5, imgs, classes = dsprites_files
    train, test = split_indices(len(imgs), 0.25, 3, "fixture")
    for source in (npz.parent, h5.parent, npz, h5):  # a folder holding the file, or the file
        arrays = validate_loaded(DSprites(), DSprites(test_fraction=0.25, seed=3).load(source))
        assert arrays.x_train.shape == (len(train), 64, 64, 1) and arrays.x_train.dtype == np.uint8
        np.testing.assert_array_equal(arrays.x_train[..., 0], imgs[train] * 255)
        np.testing.assert_array_equal(arrays.x_test[..., 0], imgs[test] * 255)
        np.testing.assert_array_equal(arrays.factors_train, classes[train, 1:])  # no colour
        np.testing.assert_array_equal(arrays.factors_test, classes[test, 1:])
        np.testing.assert_array_equal(arrays.y_train, classes[train, 1])
        assert arrays.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
        assert arrays.factor_sizes == DSPRITES_SIZES and arrays.num_classes == 3


@pytest.mark.parametrize("block_items", [16, 4096])
def test_dsprites_max_items_reads_a_seeded_subset_before_the_split(
    dsprites_files, monkeypatch, block_items
):
    npz, h5, imgs, classes = dsprites_files
    # small blocks exercise both ways of reading: whole blocks and single rows
    monkeypatch.setattr(factor_datasets, "BLOCK_BYTES", block_items * 64 * 64)
    expected = np.sort(np.random.default_rng(7).permutation(len(imgs))[:50])
    first = None
    for source in (npz, h5):
        arrays = DSprites(max_items=50, seed=7, test_fraction=0.2).load(source)
        assert (len(arrays.x_train), len(arrays.x_test)) == (40, 10)
        _, labels = check_items_are_rows(arrays, imgs * 255, classes[:, 1:], expected)
        np.testing.assert_array_equal(labels, np.concatenate([arrays.y_train, arrays.y_test]))
        assert arrays.factor_sizes == DSPRITES_SIZES  # the grid's, not the subset's
        if first is not None:
            np.testing.assert_array_equal(arrays.x_test, first.x_test)
        first = arrays
    assert len(DSprites(max_items=10_000).load(h5).x_train) == 216  # more than there is: all


def test_dsprites_refuses_malformed_files(tmp_path):
    imgs, classes, values = dsprites_arrays(n=30)
    cases = [
        ({"latents_classes": None}, r"has no array 'latents_classes'; expected imgs \[n, 64, 64\]"),
        ({"imgs": imgs[:, :32, :32]}, r"imgs is \[30, 32, 32\] of uint8; expected imgs"),
        ({"imgs": imgs.astype(np.float32)}, r"imgs is \[30, 64, 64\] of float32; expected"),
        ({"imgs": imgs.astype(np.uint16)}, r"imgs is \[30, 64, 64\] of uint16; expected"),
        ({"latents_classes": classes[:, :5]}, r"latents_classes is \[30, 5\] of int64"),
        ({"latents_classes": classes[:29]}, r"holds 30 images but 29 rows of latent classes"),
        ({"imgs": imgs * 2}, r"imgs holds values up to 2; dSprites pixels are 0 or 1"),
        ({"imgs": np.array([None] * 30, dtype=object)}, r"'imgs' holds Python objects"),
    ]
    bad_class = classes.copy()
    bad_class[3, 3] = 40
    cases.append(({"latents_classes": bad_class}, r"'orientation' takes values 0..40; .* has 40"))
    for overrides, message in cases:
        path = write_dsprites_npz(tmp_path / DSPRITES_NPZ, imgs, classes, values, overrides)
        with pytest.raises(DataError, match=message) as info:
            DSprites(test_fraction=0.2).load(path)
        assert DSPRITES_NPZ in one_line(info)
    h5 = tmp_path / DSPRITES_H5
    for drop, message in (("classes", "has no dataset 'latents/classes'"),
                          ("imgs", "has no dataset 'imgs'")):  # fmt: skip
        write_dsprites_h5(h5, imgs, classes, values, drop=(drop,))
        with pytest.raises(DataError, match=message) as info:
            DSprites().load(h5)
        one_line(info)
    write_dsprites_h5(h5, imgs, classes[:20], values[:20])
    with pytest.raises(DataError, match="holds 30 images but 20 rows"):
        DSprites().load(h5)
    write_dsprites_h5(h5, imgs, classes, values)
    h5.write_bytes(h5.read_bytes()[:5000])
    with pytest.raises(DataError, match="could not be read") as info:
        DSprites().load(h5)
    one_line(info)
    path = write_dsprites_npz(tmp_path / DSPRITES_NPZ, imgs, classes, values)
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(DataError, match="could not be read|truncated|cut short"):
        DSprites().load(path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"holds none of dsprites_ndarray.*hdf5, .*npz") as info:
        DSprites().load(tmp_path / "empty")
    one_line(info)
    with pytest.raises(DataError, match="does not exist"):
        DSprites().load(tmp_path / "missing")


def test_dsprites_downloads_the_pinned_hdf5_into_the_cache_and_fails_clearly_offline(
    tmp_path, monkeypatch
):
    imgs, classes, values = dsprites_arrays(n=20)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    h5 = write_dsprites_h5(mirror / DSPRITES_H5, imgs, classes, values)
    assert DSprites.file_sha256 == (
        "729fa22e884c9c500e1f17415d580746b4c5894fbbb780a1319bbcfa39a745bb"
    )
    monkeypatch.setenv("GENMOD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(DSprites, "mirrors", (mirror.as_uri() + "/",))
    with pytest.raises(DataError, match="checksum mismatch"):  # not the published file
        DSprites().load(None)
    monkeypatch.setattr(DSprites, "file_sha256", sha256_file(h5))
    assert len(DSprites().load(None).x_train) == 18
    assert (tmp_path / "cache" / "dsprites" / DSPRITES_H5).is_file()
    monkeypatch.setenv("GENMOD_CACHE_DIR", str(tmp_path / "cache2"))
    monkeypatch.setattr(DSprites, "mirrors", OFFLINE)
    with pytest.raises(DataError, match=f"could not download {DSPRITES_H5}.*127.0.0.1:9"):
        DSprites().load(None)


# ---------------------------------------------------------------- shapes3d


def shapes3d_arrays(n=300, seed=0):
    rng = np.random.default_rng(seed)
    grids = [
        np.linspace(0, 1, 10, endpoint=False),
        np.linspace(0, 1, 10, endpoint=False),
        np.linspace(0, 1, 10, endpoint=False),
        np.linspace(0.75, 1.25, 8),
        np.arange(4.0),
        np.linspace(-30, 30, 15),
    ]
    index = np.stack([rng.permutation(np.arange(n) % s) for s in SHAPES3D_SIZES], axis=1)
    labels = np.stack([grid[index[:, k]] for k, grid in enumerate(grids)], axis=1)
    images = rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    return images, labels, index


def write_shapes3d(path, images, labels):
    with h5py.File(path, "w") as f:
        if images is not None:
            f.create_dataset(
                "images", data=images, compression="gzip", chunks=(8, *images.shape[1:])
            )
        if labels is not None:
            f.create_dataset("labels", data=labels)
    return path


def test_shapes3d_converts_the_float_values_to_factor_indices_and_splits(tmp_path, monkeypatch):
    images, labels, index = shapes3d_arrays()
    path = write_shapes3d(tmp_path / "3dshapes.h5", images, labels)
    arrays = validate_loaded(Shapes3D(), Shapes3D(seed=2).load(tmp_path))
    train, test = split_indices(300, 0.1, 2, "fixture")
    np.testing.assert_array_equal(arrays.x_train, images[train])
    np.testing.assert_array_equal(arrays.x_test, images[test])
    np.testing.assert_array_equal(arrays.factors_train, index[train])
    np.testing.assert_array_equal(arrays.factors_test, index[test])
    np.testing.assert_array_equal(arrays.y_test, index[test, 4])  # the shape
    assert arrays.factor_names == (
        "floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation",
    )  # fmt: skip
    assert arrays.factor_sizes == SHAPES3D_SIZES and arrays.num_classes == 4
    assert arrays.data_shape == (64, 64, 3)
    monkeypatch.setattr(factor_datasets, "BLOCK_BYTES", 16 * 64 * 64 * 3)
    expected = np.sort(np.random.default_rng(4).permutation(300)[:40])
    small = Shapes3D(max_items=40, seed=4).load(path)
    assert (len(small.x_train), len(small.x_test)) == (36, 4)
    check_items_are_rows(small, images, index, expected)
    assert small.factor_sizes == SHAPES3D_SIZES


def test_shapes3d_refuses_malformed_files(tmp_path):
    images, labels, _ = shapes3d_arrays(n=120)
    path = tmp_path / "3dshapes.h5"
    nine = labels.copy()
    nine[nine[:, 0] == 0.0, 0] = 0.1
    nan = labels.copy()
    nan[5, 2] = np.nan
    cases = [
        (images, None, r"has no dataset 'labels'; expected images \[n, 64, 64, 3\] uint8"),
        (images[..., :1], labels, r"images is \[120, 64, 64, 1\] of uint8; expected"),
        (images.astype(np.uint16), labels, r"images is \[120, 64, 64, 3\] of uint16; expected"),
        (images, labels.astype(np.int64), r"labels is \[120, 6\] of int64; expected"),
        (images, labels[:100], "holds 120 images but 100 rows of labels"),
        (images, nine, r"labels column 0 \(floor_hue\) takes 9 distinct values; .* has 10"),
        (images, nan, "labels holds NaN"),
    ]
    for imgs, labs, message in cases:
        write_shapes3d(path, imgs, labs)
        with pytest.raises(DataError, match=message) as info:
            Shapes3D().load(path)
        assert "3dshapes.h5" in one_line(info)
    path.write_bytes(b"not an HDF5 file")
    with pytest.raises(DataError, match="could not be read as an HDF5 file") as info:
        Shapes3D().load(tmp_path)
    one_line(info)


def test_shapes3d_download_fails_clearly_offline(tmp_path, monkeypatch):
    assert Shapes3D.file_sha256 == (
        "0a0f6ed98baff276a50f3a081a7434d788da63cb135a98189b2a5b5769be1785"
    )
    assert Shapes3D.mirrors == ("https://storage.googleapis.com/3d-shapes/",)
    monkeypatch.setenv("GENMOD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(Shapes3D, "mirrors", OFFLINE)
    with pytest.raises(DataError, match="could not download 3dshapes.h5 into .*--data-dir"):
        Shapes3D().load(None)
    assert not (tmp_path / "cache" / "shapes3d" / "3dshapes.h5").exists()


def test_the_file_datasets_pass_the_conformance_kit(tmp_path):
    from genmod.testing import check_component

    images, labels, _ = shapes3d_arrays(n=40)
    write_shapes3d(tmp_path / "3dshapes.h5", images, labels)
    check_component("dataset", "shapes3d", {"max_items": 30}, data_dir=tmp_path)
    imgs, classes, values = dsprites_arrays(n=40)
    write_dsprites_h5(tmp_path / DSPRITES_H5, imgs, classes, values)
    check_component("dataset", "dsprites", {"test_fraction": 0.25}, data_dir=tmp_path)


# ---------------------------------------------------------------- the factor rule (base.py)


class Tiny(Dataset):
    name = "tiny"
    data_shape = (2, 2, 1)
    num_classes = 2


def tiny_arrays(**factors):
    x = np.zeros((4, 2, 2, 1), np.uint8)
    f = np.array([[0, 1], [1, 0], [2, 1], [0, 0]])
    fields = {
        "factors_train": f,
        "factors_test": f[:3],
        "factor_names": ("a", "b"),
        "factor_sizes": (3, 2),
        **factors,
    }
    return DatasetArrays(x, np.array([0, 1, 0, 1]), x[:3], np.array([0, 1, 0]), 2, **fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"factors_test": np.zeros((3, 2), np.float32)}, "factors_test is float32; expected int"),
        ({"factors_test": np.zeros((3, 3), np.int64)}, r"factors_test has shape \[3, 3\]; exp"),
        ({"factors_train": np.zeros((3, 2), np.int64)}, r"factors_train has shape \[3, 2\]"),
        ({"factor_names": ("a",)}, r"factors_train has shape \[4, 2\]; expected \[4, 1\]"),
        ({"factor_names": ("a", "a")}, "factor_names is .*unique"),
        ({"factor_names": ()}, "factor_names is"),
        ({"factor_names": ("a", "")}, "factor_names is"),
        ({"factor_names": (["a"], "b")}, "factor_names is"),
        ({"factor_names": "ab"}, "factor_names is"),
        ({"factors_test": -np.ones((3, 2), np.int64)}, "factors_test holds negative indices"),
        ({"factor_sizes": (2, 2)}, r"factor 'a' has index 2 but factor_sizes says 2 values"),
        ({"factor_sizes": (3,)}, r"factor_sizes is \(3,\); expected 2 positive ints"),
        ({"factor_sizes": (3, 0)}, "factor_sizes is"),
        ({"factors_train": None, "factors_test": None}, "factor_names/factor_sizes are set"),
    ],
)
def test_validate_loaded_refuses_bad_factors(fields, message):
    with pytest.raises(PluginError, match=message) as info:
        validate_loaded(Tiny(), tiny_arrays(**fields))
    assert "dataset 'tiny'" in one_line(info)


def test_validate_loaded_accepts_factors_and_infers_missing_sizes():
    arrays = validate_loaded(Tiny(), tiny_arrays())
    assert arrays.has_factors and arrays.factor_sizes == (3, 2)
    inferred = validate_loaded(Tiny(), tiny_arrays(factor_sizes=()))
    assert inferred.factor_sizes == (3, 2)
    only_test = validate_loaded(Tiny(), tiny_arrays(factors_train=None))
    assert only_test.has_factors and only_test.factor_sizes == (3, 2)
    plain = validate_loaded(
        Tiny(), tiny_arrays(factors_train=None, factors_test=None, factor_names=(), factor_sizes=())
    )
    assert not plain.has_factors and plain.factor_sizes == ()
    wide = validate_loaded(Tiny(), tiny_arrays(factors_test=np.zeros((3, 2), np.uint8)))
    assert wide.factor_sizes == (3, 2)


def test_limited_cuts_the_factors_with_their_items():
    arrays = tiny_arrays().limited(2, 1)
    assert len(arrays.x_train) == len(arrays.factors_train) == 2
    assert len(arrays.x_test) == len(arrays.factors_test) == 1
    np.testing.assert_array_equal(arrays.factors_test, [[0, 1]])
    whole = tiny_arrays().limited(None, None)
    assert whole.factors_train.shape == (4, 2) and math.prod(whole.factor_sizes) == 6
