"""Evaluation with many importance samples stays inside a memory budget given in MiB."""

from __future__ import annotations

import numpy as np
import pytest

from genmod.config import RunConfig
from genmod.contract.errors import ConfigError
from genmod.evaluate.loglik import chunk_size_for_budget, evaluate_log_likelihood, working_memory
from genmod.model.assembly import build_model
from genmod.plugins import get_registry


def model_for(**fields):
    config = RunConfig(**fields).resolve(get_registry())
    return build_model(config, get_registry(), (28, 28, 1)).model


def test_per_sample_bytes_cover_the_activations_counted_by_hand():
    hidden = {"hidden": (100,)}
    mlp = working_memory(model_for(encoder="mlp", encoder_options=hidden, decoder_options=hidden))
    # the decoder's hidden layer, the 784 logits and the 784 per-pixel log-probabilities
    assert mlp.per_sample >= 4 * (100 + 784 + 784)
    # the encoder runs once per item, not once per sample: its 100 hidden units and the
    # 32 posterior parameters are in the per-item part
    assert mlp.per_item >= 4 * (100 + 32)
    cnn = working_memory(model_for(encoder="cnn"))
    # the largest map alone: 28 x 28 x 32 float32 values out of the last transposed conv
    assert cnn.per_sample >= 4 * 28 * 28 * 32
    assert cnn.per_sample > 5 * mlp.per_sample


def test_a_vampprior_costs_mostly_once_per_chunk():
    memory = working_memory(model_for(encoder="mlp", prior="vampprior"))
    # its 500 pseudo-inputs (784 values each) are encoded once per chunk, not once per sample
    assert memory.fixed >= 4 * 500 * 784
    assert memory.per_sample < memory.fixed / 10
    assert chunk_size_for_budget(memory, 100, 512) >= 1


def test_chunk_size_follows_the_budget_and_fits_it():
    memory = working_memory(model_for(encoder="mlp"))
    small = chunk_size_for_budget(memory, 100, 64)
    large = chunk_size_for_budget(memory, 100, 256)
    for budget, chunk in ((64, small), (256, large)):
        assert memory.bytes_for(100, chunk) <= budget * 2**20 < memory.bytes_for(100, chunk + 1)
    assert large >= 4 * small - 3


def test_a_budget_too_small_for_one_sample_per_image_is_a_clear_error():
    memory = working_memory(model_for(encoder="cnn"))
    with pytest.raises(ConfigError, match=r"too small for --batch-size 1000.*--batch-size \d+"):
        chunk_size_for_budget(memory, 1000, 1)
    for bad in (0, -3):
        with pytest.raises(ConfigError, match="positive number of MiB"):
            chunk_size_for_budget(memory, 10, bad)


def test_evaluation_reports_the_derived_chunk_and_refuses_both_settings(mnist_arrays):
    model = model_for(encoder="mlp")
    images = mnist_arrays.x_test[:20]
    common = dict(binarize="dynamic", num_samples=300, batch_size=10, seed=3)
    budgeted = evaluate_log_likelihood(model, images, None, memory_budget_mib=2, **common)
    expected = chunk_size_for_budget(working_memory(model), 10, 2)
    assert 1 <= expected < 300  # the budget, not K, decides the chunk here
    assert budgeted["chunk_size"] == expected and budgeted["memory_budget_mib"] == 2
    assert budgeted["working_memory_mib"] <= 2
    same = evaluate_log_likelihood(model, images, None, chunk_size=expected, **common)
    assert same["log_likelihood"] == pytest.approx(budgeted["log_likelihood"], abs=1e-4)
    assert np.isfinite(budgeted["log_likelihood"])
    with pytest.raises(ConfigError, match="not both"):
        evaluate_log_likelihood(model, images, None, chunk_size=5, memory_budget_mib=2, **common)
