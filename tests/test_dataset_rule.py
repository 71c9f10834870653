"""One rule for datasets (genmod.data.validate_loaded), applied by the runtime and the kit:
data_shape may be set by load(); after load() it matches the arrays; num_classes comes from
the arrays or the dataset; labels lie in 0..num_classes-1. Errors name the field and value."""

from __future__ import annotations

import types

import numpy as np
import pytest

from genmod import hookimpl
from genmod.config import RunConfig
from genmod.contract.errors import PluginError
from genmod.data import Dataset, DatasetArrays, validate_loaded
from genmod.plugins import get_registry, register_plugin
from genmod.testing import ConformanceError, check_dataset


def _arrays(shape=(2, 3), labels=True, num_classes=0, high=3) -> DatasetArrays:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, *shape), dtype=np.uint8)
    y = rng.integers(0, high, 5).astype(np.int64) if labels else None
    return DatasetArrays(x, y, x.copy(), None if y is None else y.copy(), num_classes)


def dataset(data_shape=(2, 3), num_classes=3, arrays=None, set_in_load=None, name="toy"):
    class Toy(Dataset):
        def load(self, data_dir):
            if set_in_load is not None:
                self.data_shape = set_in_load
            return arrays if arrays is not None else _arrays()

    Toy.name = name
    Toy.data_shape = data_shape
    Toy.num_classes = num_classes
    return Toy


def test_a_data_shape_set_inside_load_is_accepted_by_the_kit(tmp_path):
    arrays = check_dataset(dataset(data_shape=None, set_in_load=(2, 3)), data_dir=tmp_path)
    assert arrays.data_shape == (2, 3)
    arrays = check_dataset(dataset(data_shape=(), set_in_load=(2, 3)), data_dir=tmp_path)
    assert arrays.num_classes == 3


def test_a_data_shape_of_none_is_a_conformance_error_not_a_type_error(tmp_path):
    assert check_dataset(dataset(data_shape=None)) is None  # load() may still set it
    with pytest.raises(ConformanceError, match=r"dataset 'toy': data_shape is None after load"):
        check_dataset(dataset(data_shape=None), data_dir=tmp_path)


def test_a_malformed_data_shape_names_the_value():
    with pytest.raises(ConformanceError, match=r"data_shape is \(28, -1\); it must be a tuple"):
        check_dataset(dataset(data_shape=(28, -1)))


def test_a_data_shape_that_does_not_match_the_arrays_is_refused(tmp_path):
    with pytest.raises(ConformanceError, match=r"x_train has shape \[5, 2, 3\].*\(3, 2\)"):
        check_dataset(dataset(data_shape=(3, 2)), data_dir=tmp_path)


def test_num_classes_on_the_dataset_is_used_when_the_arrays_leave_it_at_zero(tmp_path):
    arrays = check_dataset(dataset(num_classes=3, arrays=_arrays(num_classes=0)), data_dir=tmp_path)
    assert arrays.num_classes == 3


def test_label_errors_say_which_num_classes_was_used(tmp_path):
    with pytest.raises(ConformanceError, match=r"0\.\.1 \(num_classes = 2\)"):
        check_dataset(dataset(num_classes=2), data_dir=tmp_path)
    with pytest.raises(ConformanceError, match=r"0\.\.1 \(DatasetArrays.num_classes = 2\)"):
        check_dataset(dataset(num_classes=0, arrays=_arrays(num_classes=2)), data_dir=tmp_path)
    with pytest.raises(ConformanceError, match="num_classes is 0"):
        check_dataset(dataset(num_classes=0), data_dir=tmp_path)


def test_disagreeing_num_classes_are_refused(tmp_path):
    with pytest.raises(ConformanceError, match=r"is 3 but .*DatasetArrays.num_classes 5"):
        check_dataset(dataset(num_classes=3, arrays=_arrays(num_classes=5)), data_dir=tmp_path)


def test_unlabelled_data_needs_no_classes_and_float_data_must_lie_in_the_unit_interval(tmp_path):
    arrays = check_dataset(dataset(num_classes=0, arrays=_arrays(labels=False)), data_dir=tmp_path)
    assert arrays.y_train is None and arrays.num_classes == 0
    bad = _arrays(labels=False)
    bad = DatasetArrays(bad.x_train.astype(np.float32), None, bad.x_test, None)
    with pytest.raises(PluginError, match=r"x_train is float32 in \[.*\]; expected \[0, 1\]"):
        validate_loaded(dataset(num_classes=0)(), bad)


def _register_dataset(name, factory) -> None:
    module = types.ModuleType("dataset_rule_plugin")

    def register_datasets(register):
        register(name, factory, description="a toy dataset")

    module.register_datasets = hookimpl(register_datasets)
    register_plugin(module, f"toy-{name}")


def test_the_runtime_applies_the_same_rule():
    from genmod.model.assembly import load_dataset

    _register_dataset("late-shape", dataset(data_shape=None, set_in_load=(2, 3)))
    _register_dataset("bad-labels", dataset(num_classes=2, name="bad-labels"))
    registry = get_registry()
    _, arrays = load_dataset(RunConfig(dataset="late-shape"), registry, None)
    assert arrays.data_shape == (2, 3) and arrays.num_classes == 3
    with pytest.raises(PluginError, match=r"dataset 'bad-labels'.*\(num_classes = 2\)"):
        load_dataset(RunConfig(dataset="bad-labels"), registry, None)
