"""genmod evaluate with metrics: what is recorded, reproducibility, samplers, extractors, refusals.

The estimators' mathematics is tested in test_sample_quality.py and test_disentanglement.py;
here the runs are real (tiny models trained on MNIST and on the procedural sprites) and the
checks are about the evaluation: every value's unit and method, the same numbers twice, the
fitted sampler and the trained classifier stored and reused, and bad input refused in one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from genmod.cli import cli
from genmod.config import RunConfig

SAMPLE_OPTS = ["--metric-opt", "samples=300", "--extractor-opt", "epochs=1"]


def tiny(**overrides) -> RunConfig:
    values = dict(
        encoder="mlp",
        encoder_options={"hidden": (32,)},
        decoder_options={"hidden": (32,)},
        latent_dim=4,
        epochs=1,
        train_size=1000,
        test_size=200,
        validation_size=200,
        batch_size=100,
        eval_batch_size=100,
        seed=3,
    )
    values.update(overrides)
    return RunConfig(**values)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One per-user cache for the module (the domain classifier is trained once in it)."""
    path = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("GENMOD_CACHE_DIR")
    os.environ["GENMOD_CACHE_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("GENMOD_CACHE_DIR", None)
    else:
        os.environ["GENMOD_CACHE_DIR"] = previous


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_dir) -> Path:
    """A tiny finished MNIST run (copied per test by ``run``)."""
    from genmod.api import train

    out = tmp_path_factory.mktemp("trained") / "r"
    train(tiny(), data_dir=mnist_dir, out_dir=out)
    return out


@pytest.fixture
def run(trained, tmp_path) -> Path:
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def evaluate_json(run_dir, *args):
    result = invoke("evaluate", run_dir, "--json", "--quiet", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def stable(values: dict) -> dict:
    """Values with what legitimately differs between two identical evaluations removed."""
    out = {}
    for name, record in values.items():
        method = {k: v for k, v in record["method"].items() if k not in ("computed_at",)}
        if isinstance(method.get("sampler"), dict):
            method["sampler"] = {k: v for k, v in method["sampler"].items() if k != "reused"}
        out[name] = {**record, "method": method}
    return out


def test_every_value_has_its_unit_and_method(run, mnist_dir):
    result = evaluate_json(run, "-k", 3, "--test-size", 50)
    assert result["format"] == 2 and result["test_size"] == 50
    values = result["values"]
    units = {name: values[name]["unit"] for name in values}
    assert units["log_likelihood"] == units["elbo"] == units["kl"] == "nats"
    assert units["active_units"] == "count" and units["mutual_information"] == "nats"
    method = values["log_likelihood"]["method"]
    assert method["metric"] == "log-likelihood" and method["metric_version"] == "1"
    assert method["importance_samples_K"] == 3 and method["test_size"] == 50
    assert method["seed"] == 0 and method["binarize"] == "dynamic"
    assert "IWAE" in method["estimator"] and "Burda" in method["reference"]
    assert method["versions"]["genmod"] and method["versions"]["tensorflow"]
    assert values["elbo"]["method"]["kl"] == "analytic"
    assert values["active_units"]["method"]["metric"] == "active-units"
    assert "extractor" not in method and "sampler" not in method  # only where used
    env = result["environment"]
    assert env["versions"]["numpy"] == np.__version__ and env["python"]
    for name, record in values.items():  # the flat keys are the values
        assert result[name] == record["value"]
    assert result["num_samples"] == 3  # a fact of the log-likelihood pass, shown flat
    saved = json.loads((run / "evaluation.json").read_text())
    assert saved == result


def test_sample_quality_records_extractor_sampler_and_counts(run, cache_dir):
    result = evaluate_json(
        run, "--metric", "fid", "--metric", "precision-recall", "--test-size", 150, *SAMPLE_OPTS
    )
    fid = result["values"]["fid"]
    assert fid["unit"] == "squared feature units" and fid["higher_is_better"] is False
    assert fid["value"] > 0
    method = fid["method"]
    extractor = method["extractor"]
    assert extractor["name"] == "domain-classifier" and extractor["chosen_by"].startswith("auto")
    from genmod.data.download import sha256_file

    assert extractor["weights_sha256"] == sha256_file(Path(extractor["weights"]))
    assert Path(extractor["weights"]).is_relative_to(cache_dir)
    assert method["sampler"]["name"] == "prior"
    assert method["generated_samples"] == 300 and method["real_items"] == 150
    assert "not binarized" in method["real_images"]
    precision, recall = result["values"]["precision"], result["values"]["recall"]
    assert 0.0 <= precision["value"] <= 1.0 and 0.0 <= recall["value"] <= 1.0
    assert precision["method"]["k"] == 3


def test_the_same_evaluation_twice_gives_the_same_numbers(run, cache_dir):
    args = ["--metric", "fid", "--metric", "kid", "--metric", "log-likelihood", "-k", "4"]
    args += ["--sampler", "gmm", "--sampler-opt", "components=3", "--test-size", "150"]
    first = evaluate_json(run, *args, *SAMPLE_OPTS)
    second = evaluate_json(run, *args, *SAMPLE_OPTS)
    assert stable(first["values"]) == stable(second["values"])
    assert first["values"]["fid"]["method"]["sampler"]["reused"] is False
    assert second["values"]["fid"]["method"]["sampler"]["reused"] is True


def test_an_evaluation_keeps_other_metrics_and_replaces_its_own(run, cache_dir):
    first = evaluate_json(run, "-k", 2, "--test-size", 40)
    stamp = first["values"]["log_likelihood"]["method"]["computed_at"]
    time.sleep(1.1)
    second = evaluate_json(run, "--metric", "fid", "--test-size", 150, *SAMPLE_OPTS)
    assert second["values"]["log_likelihood"]["method"]["computed_at"] == stamp
    assert second["log_likelihood"] == first["log_likelihood"]
    assert set(second["metrics"]) == {*first["metrics"], "fid"}
    third = evaluate_json(
        run,
        "--metric",
        "fid",
        "--test-size",
        150,
        "--metric-opt",
        "samples=200",
        "--extractor-opt",
        "epochs=1",
    )
    assert third["values"]["fid"]["method"]["generated_samples"] == 200
    assert third["values"]["log_likelihood"] == second["values"]["log_likelihood"]


def test_the_domain_classifier_is_trained_once_and_a_damaged_one_refused(run, cache_dir):
    evaluate_json(run, "--metric", "kid", "--test-size", 100, *SAMPLE_OPTS)
    weights = list(cache_dir.glob("extractors/domain-classifier/*/classifier.weights.h5"))
    assert len(weights) == 1
    stamp = weights[0].stat().st_mtime_ns
    evaluate_json(run, "--metric", "kid", "--test-size", 100, *SAMPLE_OPTS)
    assert weights[0].stat().st_mtime_ns == stamp  # reused, not trained again
    data = bytearray(weights[0].read_bytes())
    data[-100] ^= 0xFF
    weights[0].write_bytes(bytes(data))
    refused = invoke("evaluate", run, "--metric", "kid", "--quiet", *SAMPLE_OPTS)
    assert refused.exit_code == 2
    assert refused.output.count("\n") == 1 and "does not match its recorded SHA-256" in (
        refused.output
    )
    retrained = evaluate_json(
        run, "--metric", "kid", "--test-size", 100, *SAMPLE_OPTS, "--extractor-opt", "retrain=true"
    )
    assert retrained["values"]["kid"]["method"]["extractor"]["weights_sha256"]


def test_gmm_sampler_is_saved_reused_and_refitted(run, mnist_dir, tmp_path):
    first = json.loads(invoke("sample", run, "--sampler", "gmm", "-n", "16", "--json").output)
    record = first["sampler"]
    assert record["reused"] is False and record["fit_items"] == 1000  # the run's train_size
    assert (run / "samplers" / "gmm.npz").is_file() and (run / "pictures" / "sample.png").is_file()
    with np.load(run / "samplers" / "gmm.npz", allow_pickle=False) as state:
        assert state["means"].shape == (10, 4) and state["covariances"].shape == (10, 4, 4)
    again = json.loads(invoke("sample", run, "--sampler", "gmm", "-n", "16", "--json").output)
    assert again["sampler"]["reused"] is True
    assert again["sampler"]["state_sha256"] == record["state_sha256"]
    other = json.loads(
        invoke("sample", run, "--sampler", "gmm", "--sampler-opt", "components=2", "--json").output
    )
    assert other["sampler"]["reused"] is False and other["sampler"]["options"]["components"] == 2
    (run / "samplers" / "gmm.npz").write_bytes(b"damaged")
    repaired = json.loads(
        invoke("sample", run, "--sampler", "gmm", "--sampler-opt", "components=2", "--json").output
    )
    assert repaired["sampler"]["reused"] is False  # a damaged fit is fitted again
    before = sorted(p.name for p in (run / "samplers").iterdir())
    elsewhere = tmp_path / "elsewhere.png"
    result = invoke(
        "sample",
        run,
        "--sampler",
        "gmm",
        "--sampler-opt",
        "components=4",
        "--out",
        elsewhere,
        "--json",
    )
    assert result.exit_code == 0 and elsewhere.is_file()
    assert sorted(p.name for p in (run / "samplers").iterdir()) == before  # a reader writes nothing


def test_gmm_draws_follow_the_fitted_mixture():
    from genmod_builtins.samplers_impl import GaussianMixtureSampler

    rng = np.random.default_rng(0)
    codes = np.concatenate(
        [rng.normal([-4.0, 0.0], 0.5, (3000, 2)), rng.normal([4.0, 1.0], 1.0, (1000, 2))]
    )
    sampler = GaussianMixtureSampler(components=2)
    sampler.fit(codes, seed=1)
    draws = sampler.sample(20000, seed=5)
    assert draws.dtype == np.float32 and draws.shape == (20000, 2)
    left = draws[draws[:, 0] < 0]
    assert len(left) / len(draws) == pytest.approx(0.75, abs=0.02)
    np.testing.assert_allclose(left.mean(axis=0), [-4.0, 0.0], atol=0.05)
    np.testing.assert_allclose(left.std(axis=0), [0.5, 0.5], atol=0.03)
    reloaded = GaussianMixtureSampler(components=2)
    reloaded.load_state(sampler.state())
    np.testing.assert_array_equal(reloaded.sample(50, seed=5), sampler.sample(50, seed=5))
    assert not np.array_equal(sampler.sample(50, seed=6), sampler.sample(50, seed=5))


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--metric", "nope"], "unknown metric 'nope'"),
        (["--metric", "mig"], "needs ground-truth factors"),
        (["--metric", "fid", "--metric-opt", "samples=50"], "FID needs more generated samples"),
        (["--metric", "fid", "--extractor", "nope"], "unknown extractor 'nope'"),
        (["--metric", "fid", "--sampler", "nope"], "unknown sampler 'nope'"),
        (
            [
                "--metric",
                "fid",
                "--extractor",
                "inception-v3",
                "--extractor-opt",
                "weights=/nonexistent.h5",
            ],
            "inception-v3 weights file '/nonexistent.h5' does not",
        ),
        (["--metric", "fid", "--metric-opt", "kid.samples=5"], "not chosen"),
        (["--metric", "fid", "--metric-opt", "bins=5"], "none of the chosen metrics"),
        (["--metric", "fid", "--metric-opt", "samples=many"], "samples"),
        (["--metric", "dci", "--metric-opt", "dci.regressor=svm"], "regressor"),
        (["--metric", "fid", "--sampler", "gmm", "--sampler-opt", "covariance=tied"], "covariance"),
        (["--metric-opt", "nonsense"], "expected NAME.KEY=VALUE"),
        (["--metric", "mig", "--metric-opt", "mig.bins=1000000"], "bins"),
        (["--metric", "elbo", "--sampler", "gmm"], "none of the chosen metrics (elbo) uses"),
        (["--sampler-opt", "components=3"], "--sampler/--sampler-opt serve"),
        (["--metric", "kid", "--extractor-opt", "epochs=1", "--metric", "mig"], "ground-truth"),
        (
            ["--metric", "active-units", "--extractor-opt", "epochs=1"],
            "--extractor/--extractor-opt",
        ),
        (["--metric", "fid", "--metric-opt", "samples=99999999999999999999999"], "samples"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(run, cache_dir, args, expected):
    before = sorted(p.name for p in run.iterdir())
    result = invoke("evaluate", run, "--quiet", *args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    assert expected in result.output
    assert sorted(p.name for p in run.iterdir()) == before  # nothing written


def test_inception_extractor_reads_a_weights_file_and_records_its_checksum(tmp_path, monkeypatch):
    import keras

    from genmod.contract.errors import ConfigError
    from genmod.contract.extractors import ExtractorData
    from genmod.data.download import sha256_file
    from genmod_builtins import inception_extractor
    from genmod_builtins.inception_extractor import InceptionV3Extractor

    path = tmp_path / "random.weights.h5"
    keras.applications.InceptionV3(
        include_top=False, weights=None, input_shape=(299, 299, 3), pooling="avg"
    ).save_weights(str(path))
    data = ExtractorData(
        "mnist", {}, (28, 28, 1), 10, lambda: (None, None), tmp_path, lambda d, t: None
    )
    extractor = InceptionV3Extractor(weights=str(path))
    extractor.prepare(data)
    images = np.random.default_rng(0).random((5, 28, 28, 1)).astype(np.float32)
    features = extractor.features(images)
    assert features.shape == (5, 2048) and np.all(np.isfinite(features))
    np.testing.assert_allclose(
        np.concatenate([extractor.features(images[:2]), extractor.features(images[2:])]),
        features,
        rtol=1e-4,
        atol=1e-5,
    )
    record = extractor.describe()
    assert record["weights_sha256"] == sha256_file(path)
    assert record["weights_are_keras_imagenet"] is False  # random weights, not Keras' file
    assert "299x299" in record["preprocessing"]
    # offline, with an empty Keras cache: one line saying where the file goes
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(inception_extractor, "WEIGHTS_MIRROR", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="could not be downloaded .* copy the file there"):
        InceptionV3Extractor().prepare(data)
    with pytest.raises(ConfigError, match="download=false"):
        InceptionV3Extractor(download=False).prepare(data)
    bad = tmp_path / "not-weights.h5"
    bad.write_bytes(b"not an HDF5 file")
    with pytest.raises(ConfigError, match="cannot be loaded into Inception-v3"):
        InceptionV3Extractor(weights=str(bad)).prepare(data)


@pytest.fixture(scope="module")
def sprites_run(tmp_path_factory) -> Path:
    from genmod.api import train

    out = tmp_path_factory.mktemp("sprites") / "r"
    config = tiny(
        dataset="sprites",
        dataset_options={"size": 16, "positions": 4, "rotations": 4},
        latent_dim=5,
        epochs=2,
        train_size=None,
        test_size=None,
        validation_size=100,
    )
    train(config, out_dir=out)
    return out


def test_disentanglement_metrics_on_the_procedural_sprites(sprites_run):
    result = evaluate_json(
        sprites_run,
        "--metric",
        "mig",
        "--metric",
        "dci",
        "--metric",
        "sap",
        "--metric",
        "factor-vae",
        "--metric-opt",
        "dci.regressor=random-forest",
        "--metric-opt",
        "factor-vae.train_votes=500",
        "--metric-opt",
        "factor-vae.eval_votes=300",
    )
    values = result["values"]
    for name in (
        "mig",
        "dci_disentanglement",
        "dci_completeness",
        "dci_informativeness",
        "sap",
        "factor_vae_score",
    ):
        assert 0.0 <= values[name]["value"] <= 1.0, name
    factors = ["shape", "scale", "rotation", "pos_x", "pos_y"]
    assert values["mig"]["method"]["factors"] == factors
    assert values["mig"]["method"]["bins"] == 20 and len(values["mig_per_factor"]["value"]) == 5
    # 768 sprites, 100 of them held out for validation during training
    assert values["mig"]["method"]["items"] == "668 of 668 items of the training and test splits"
    dci = values["dci_disentanglement"]["method"]
    assert dci["regressor"] == "random-forest" and dci["regressor_params"]["random_state"] == 0
    assert dci["versions"]["scikit-learn"]  # the library that made the number
    assert values["sap"]["method"]["classifier"] == "LinearSVC"
    assert values["factor_vae_score"]["method"]["train_votes"] == 500
    # the position is what a 2-epoch VAE learns first: it is far better predicted than chance
    accuracy = dict(zip(factors, values["dci_accuracy_per_factor"]["value"], strict=True))
    assert accuracy["pos_x"] > 0.5 and accuracy["pos_y"] > 0.5


def test_ctrl_c_stops_the_evaluation_and_keeps_the_metrics_that_finished(run, cache_dir):
    """A long metric (FID on many samples) interrupted by SIGINT: exit 130, one line, and
    evaluation.json holds the metric that finished before it."""
    genmod = Path(sys.executable).with_name("genmod")
    env = {**os.environ, "GENMOD_CACHE_DIR": str(cache_dir)}
    process = subprocess.Popen(
        [
            str(genmod),
            "evaluate",
            str(run),
            "--metric",
            "active-units",
            "--metric",
            "fid",
            "--metric-opt",
            "fid.samples=500000",
            "--extractor-opt",
            "epochs=1",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # a shell that started the tests in the background ignores SIGINT, and children inherit
        # that: give genmod the default disposition a terminal's Ctrl-C meets
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    evaluation = run / "evaluation.json"
    deadline = time.monotonic() + 120
    while not evaluation.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert evaluation.exists(), process.stderr.read() if process.poll() is not None else ""
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Interrupted: the evaluation stopped" in err
    saved = json.loads(evaluation.read_text())
    assert set(saved["metrics"]) == {"active-units"} and saved["active_units"] >= 0


def test_compare_reads_what_evaluate_wrote(run, cache_dir, tmp_path):
    """`genmod compare` on two copies of a real run: values measured alike compare (the
    machine's paths, times and versions in the methods do not count); FID with another
    number of generated samples is marked and not ranked, naming only that difference."""
    import shutil

    metrics = ["--metric", "log-likelihood", "--metric", "fid", "-k", 2, "--test-size", 150]
    evaluate_json(run, *metrics, *SAMPLE_OPTS)
    other = tmp_path / "other"
    shutil.copytree(run, other)
    fewer = ["--metric-opt", "samples=200", "--extractor-opt", "epochs=1"]
    evaluate_json(other, "--metric", "fid", "--test-size", 150, *fewer)
    result = invoke("compare", run, other, "--json")
    assert result.exit_code == 0, result.output
    compared = json.loads(result.output)
    columns = {c["name"]: c for c in compared["columns"]}
    assert columns["log_likelihood"]["comparable"] and columns["log_likelihood"]["unit"] == "nats"
    assert len(columns["log_likelihood"]["best"]) == 2  # the same numbers: both best
    assert set(columns["fid"]["differs"]) == {"generated_samples"}
    assert columns["fid"]["best"] == []
    facts = compared["runs"][0]["values"]["fid"]["method_facts"]
    assert facts["extractor"] == "domain-classifier" and facts["extractor_weights_sha256"]
    assert facts["sampler"] == "prior" and facts["test_size"] == 150
    text = invoke("compare", run, other, "--value", "fid,log_likelihood").output
    assert "fid†" in text and "† fid: measured differently" in text
    assert "generated_samples (run: 300; other: 200)" in text


def test_values_of_other_weights_are_dropped_not_mixed(run):
    """Values kept from an earlier evaluation must be of the same trained weights: after the run
    is trained further (here: the recorded fingerprint no longer matches), they are dropped."""
    from genmod.runs.loading import load_run

    first = evaluate_json(run, "-k", 2, "--test-size", 30)
    weights = load_run(run).weights_sha256()
    assert first["values"]["elbo"]["method"]["model_weights_sha256"] == weights
    saved = json.loads((run / "evaluation.json").read_text())
    for record in saved["values"].values():
        record["method"]["model_weights_sha256"] = "0" * 64  # as if of older weights
    (run / "evaluation.json").write_text(json.dumps(saved))
    second = evaluate_json(run, "--metric", "active-units", "--test-size", 30)
    assert set(second["metrics"]) == {"active-units"} and "log_likelihood" not in second


def test_a_nan_value_is_recorded_as_null_with_a_note():
    import types

    from genmod.contract.metrics import Metric, MetricResult, MetricValue
    from genmod.evaluate.suite import BuiltMetric, run_metric

    class Broken(Metric):
        needs = ()

        def compute(self, context):
            return MetricResult(
                {"x": MetricValue(float("nan"), "nats"), "y": MetricValue(1.5, "nats")}
            )

    records = run_metric(
        BuiltMetric("broken", "p", {}, Broken()), types.SimpleNamespace(), common={}, versions={}
    )
    assert records.values["x"]["value"] is None and "NaN" in records.values["x"]["method"]["note"]
    assert records.values["y"]["value"] == 1.5 and "note" not in records.values["y"]["method"]


def test_the_likelihood_options_do_not_leak_into_other_metrics(run, cache_dir, sprites_run):
    """-k and --batch-size set K and the batch of log-likelihood and elbo only: FID keeps its
    10,000 generated samples and the FactorVAE score its batches of 64."""
    fid = evaluate_json(run, "--metric", "fid", "-k", 5, "--test-size", 150, *SAMPLE_OPTS[2:])
    assert fid["values"]["fid"]["method"]["generated_samples"] == 10_000
    votes = ["--metric-opt", "train_votes=200", "--metric-opt", "eval_votes=100"]
    vae = evaluate_json(sprites_run, "--metric", "factor-vae", "--batch-size", 50, *votes)
    assert vae["values"]["factor_vae_score"]["method"]["batch_size"] == 64


def test_a_crafted_gmm_state_is_fitted_again_not_used(run, tmp_path):
    import hashlib

    first = json.loads(invoke("sample", run, "--sampler", "gmm", "--json").output)["sampler"]
    state = run / "samplers" / "gmm.npz"
    meta = json.loads((run / "samplers" / "gmm.json").read_text())
    with np.load(state) as archive:
        arrays = {k: archive[k] for k in archive.files}
    for crafted in (
        {**arrays, "means": arrays["means"][:, :3]},  # wrong shapes
        {**arrays, "covariances": arrays["covariances"] * np.nan},  # NaN
        {**arrays, "weights": -arrays["weights"]},  # negative weights
    ):
        np.savez(state, **crafted)
        meta["state_sha256"] = hashlib.sha256(state.read_bytes()).hexdigest()  # "matching"
        (run / "samplers" / "gmm.json").write_text(json.dumps(meta))
        result = invoke("sample", run, "--sampler", "gmm", "--json")
        assert result.exit_code == 0, result.output
        record = json.loads(result.output)["sampler"]
        assert record["reused"] is False and record["state_sha256"] == first["state_sha256"]


def test_the_api_takes_one_metric_name_and_refuses_a_bad_count(run):
    from genmod.api import evaluate, sample
    from genmod.contract.errors import ConfigError

    result = evaluate(run, metrics="active-units", test_size=20)
    assert set(result["metrics"]) == {"active-units"}
    with pytest.raises(ConfigError, match="n must be an integer"):
        sample(run, -1)


def test_a_domain_classifier_no_better_than_chance_is_refused(tmp_path):
    from genmod.contract.errors import ConfigError
    from genmod.contract.extractors import ExtractorData
    from genmod_builtins.domain_classifier import DomainClassifierExtractor

    rng = np.random.default_rng(0)
    images = rng.random((600, 8, 8, 1)).astype(np.float32)
    labels = rng.integers(0, 4, 600)  # nothing to learn: labels independent of the images
    data = ExtractorData(
        "noise", {}, (8, 8, 1), 4, lambda: (images, labels), tmp_path, lambda done, total: None
    )
    with pytest.raises(ConfigError, match="reached only .* held-out accuracy"):
        DomainClassifierExtractor(epochs=1).prepare(data)
    assert not list(tmp_path.glob("domain-classifier/*/classifier.weights.h5"))  # not stored
