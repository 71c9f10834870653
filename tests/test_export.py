"""`genmod export`: the SavedModel loads and runs with plain TensorFlow (genmod, its plugins and
TensorFlow Probability blocked from import in a fresh process) and gives genmod's numbers; the
model card and its checksums; bad input is exit 2 with one line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from genmod.cli.app import cli

REPO = Path(__file__).resolve().parents[1]
#: the plain-TensorFlow script docs/export.md shows; the test runs this very file
SCRIPT = REPO / "docs" / "examples" / "use_export.py"
SMALL = ["--train-size", "256", "--test-size", "64", "--epochs", "1", "--quiet"]
TINY_MLP = ["--encoder-opt", "hidden=32", "--decoder-opt", "hidden=32", "--latent-dim", "3"]

#: installed before TensorFlow is imported: genmod, its plugins and TFP cannot be imported
BLOCKER = textwrap.dedent(
    """
    import sys
    BLOCKED = ("genmod", "genmod_builtins", "tensorflow_probability")

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, Block())
    import runpy
    sys.argv = [sys.argv[1], *sys.argv[2:]]
    runpy.run_path(sys.argv[0], run_name="__main__")
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not loaded, loaded
    assert "tensorflow" in sys.modules
    print("BLOCKED-IMPORTS-OK")
    """
)


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _train(mnist_dir: Path, out: Path, *extra: str) -> Path:
    result = invoke("run", "--data-dir", mnist_dir, "--out", out, *SMALL, *TINY_MLP, *extra)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mnist_dir):
    """Two tiny finished runs: unconditional mlp, conditional cmlp."""
    base = tmp_path_factory.mktemp("export-runs")
    return {
        "mlp": _train(mnist_dir, base / "mlp"),
        "cmlp": _train(mnist_dir, base / "cmlp", "--encoder", "cmlp"),
    }


def _inputs(run_dir: Path, folder: Path) -> tuple[Path, dict[str, np.ndarray]]:
    from genmod.config import read_config

    config, meta = read_config(run_dir)
    rng = np.random.default_rng(0)
    batch = 5
    x = (rng.uniform(size=(batch, *meta["data_shape"])) < 0.3).astype(np.float32)
    z = rng.normal(size=(batch, config.latent_dim)).astype(np.float32)
    arrays = {"x": x, "z": z}
    if meta["condition_dim"]:
        arrays["y"] = np.eye(meta["condition_dim"], dtype=np.float32)[rng.integers(0, 10, batch)]
    path = folder / "inputs.npz"
    np.savez(path, **arrays)
    return path, arrays


def _run_plain_tensorflow(export_dir: Path, inputs: Path, outputs: Path) -> dict[str, np.ndarray]:
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKER, str(SCRIPT), str(export_dir), str(inputs), str(outputs)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "BLOCKED-IMPORTS-OK" in proc.stdout
    with np.load(outputs) as data:
        return dict(data)


def _genmod_outputs(run_dir: Path, arrays: dict[str, np.ndarray], part: str) -> dict:
    """What genmod's own model gives for the inputs the docs script uses (seed [1, 2])."""
    import tensorflow as tf

    from genmod.model.elbo import elbo_terms
    from genmod.runs.loading import load_run

    model = load_run(run_dir).model
    seed = tf.constant([1, 2], tf.int32)
    x = tf.constant(arrays["x"])
    y = tf.constant(arrays["y"]) if "y" in arrays else None
    out = {}
    if part in ("all", "encoder"):
        params = model.encoder(x, y) if y is not None else model.encoder(x)
        q = model.encoder.posterior_family(tf.cast(params, tf.float32))
        out["encode/params"] = params
        out["encode/location"] = model.posterior_location(x, y)
        out["encode/sample"] = q.sample(seed=seed)
    if part in ("all", "decoder"):
        dparams = model.decoder.decode(tf.constant(arrays["z"]), y)
        out["decode/params"] = dparams
        if model.likelihood.has_mean:
            out["decode/mean"] = model.likelihood.mean(dparams)
        out["sample/images"] = model.sample(x.shape[0], y, seed=seed)
    if part == "all":
        out["elbo/elbo"] = elbo_terms(model, x, y, seed=seed).elbo
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "part"), [("mlp", "all"), ("cmlp", "all"), ("mlp", "encoder"), ("cmlp", "decoder")]
)
def test_export_runs_with_plain_tensorflow_and_matches_genmod(runs, tmp_path, kind, part):
    run_dir = runs[kind]
    out = tmp_path / "export"
    result = invoke("export", run_dir, "--out", out, "--part", part)
    assert result.exit_code == 0, result.output
    assert "exported" in result.output
    inputs, arrays = _inputs(run_dir, tmp_path)
    got = _run_plain_tensorflow(out, inputs, tmp_path / "outputs.npz")
    want = _genmod_outputs(run_dir, arrays, part)
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-5, err_msg=key)
    # seeded draws are not constant: the sample differs from the location, images vary
    if "encode/sample" in got:
        assert not np.allclose(got["encode/sample"], got["encode/location"])
    if "elbo/elbo" in got:
        assert got["elbo/elbo"].shape == (5,) and np.all(got["elbo/elbo"] < 0)
    card = json.loads((out / "model-card.json").read_text())
    expected = {"all": ["decode", "elbo", "encode", "sample"], "encoder": ["encode"]}
    assert sorted(card["signatures"]) == expected.get(part, ["decode", "sample"])
    if kind == "cmlp":
        assert card["data"]["condition_dim"] == 10
        assert any(i["name"] == "y" for s in card["signatures"].values() for i in s["inputs"])


def test_model_card_and_check(runs, tmp_path):
    run_dir = runs["mlp"]
    (run_dir / "evaluation.json").write_text(
        json.dumps({"log_likelihood": -123.4, "num_samples": 7, "test_size": 64})
    )
    out = tmp_path / "e"
    try:
        assert invoke("export", run_dir, "--out", out).exit_code == 0
    finally:
        (run_dir / "evaluation.json").unlink()
    card = json.loads((out / "model-card.json").read_text())
    assert card["components"]["encoder"]["name"] == "mlp"
    assert card["components"]["encoder"]["version"]
    assert card["config"]["latent_dim"] == 3
    assert card["data"]["shape"] == [28, 28, 1] and card["data"]["binarization"] == "dynamic"
    assert card["test_metrics"]["test_elbo"] < 0
    assert card["evaluation"]["num_samples"] == 7
    assert card["signatures"]["encode"]["inputs"][0] == {
        "name": "x",
        "dtype": "float32",
        "shape": [None, 28, 28, 1],
    }
    assert "saved_model.pb" in card["files"] and "README.md" in card["files"]
    readme = (out / "README.md").read_text()
    assert "K = 7" in readme and "64 test images" in readme and "`elbo`" in readme

    result = invoke("export", "--check", out)
    assert result.exit_code == 0, result.output
    assert f"{len(card['files'])} files verified" in result.output
    (out / "README.md").write_text(readme + "tampered\n")
    result = invoke("export", "--check", out)
    assert result.exit_code == 2 and "README.md" in result.output and "differs" in result.output
    (out / "README.md").unlink()
    result = invoke("export", "--check", out)
    assert result.exit_code == 2 and "README.md" in result.output and "missing" in result.output


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 or lines[0].startswith("Usage:"), result.output
    return result.output


def test_bad_input_is_exit_2_with_one_line(runs, tmp_path):
    run_dir = runs["mlp"]
    out = tmp_path / "exists"
    out.mkdir()
    assert "already exists" in _one_error_line(invoke("export", run_dir, "--out", out))
    assert "--overwrite" in invoke("export", run_dir, "--out", out).output
    assert invoke("export", run_dir, "--out", out, "--overwrite").exit_code == 0
    assert (out / "model-card.json").is_file()

    missing = _one_error_line(invoke("export", tmp_path / "nope", "--out", tmp_path / "o1"))
    assert "not a folder" in missing
    broken = tmp_path / "broken"
    broken.mkdir()
    assert "not a genmod run folder" in _one_error_line(
        invoke("export", broken, "--out", tmp_path / "o2")
    )
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.toml").write_text((run_dir / "config.toml").read_text())
    assert "did not finish" in _one_error_line(
        invoke("export", unfinished, "--out", tmp_path / "o3")
    )
    for option, value in (("--format", "pickle"), ("--part", "prior")):
        result = invoke("export", run_dir, option, value)
        assert result.exit_code == 2 and "Invalid value" in result.output
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o3").exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_untraceable_component_is_named_and_nothing_is_written(runs, tmp_path, monkeypatch):
    from genmod.export import savedmodel

    def broken_decode(model, z, y=None):
        raise ValueError("this likelihood needs a fixed batch")

    entry = savedmodel._SIGNATURES["decode"]
    monkeypatch.setitem(savedmodel._SIGNATURES, "decode", (broken_decode, *entry[1:]))
    out = tmp_path / "never"
    message = _one_error_line(invoke("export", runs["mlp"], "--out", out))
    assert "'decode'" in message and "decoder 'MLPDecoder'" in message
    assert "fixed batch" in message
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_the_docs_show_the_script_the_test_runs():
    page = (REPO / "docs" / "export.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.DOTALL)
    assert SCRIPT.read_text() in blocks, "docs/export.md must show docs/examples/use_export.py"
    source = SCRIPT.read_text()
    imports = {n.split(".")[0] for n in re.findall(r"^(?:import|from) (\S+)", source, re.M)}
    assert imports == {"json", "sys", "pathlib", "numpy", "tensorflow"}


def test_check_refuses_a_folder_that_is_not_an_export(tmp_path):
    result = invoke("export", "--check", tmp_path)
    assert result.exit_code == 2 and "model-card.json" in result.output
    assert invoke("export").exit_code == 2


#: the outputs of the deterministic signatures TFLite and ONNX exports hold
DETERMINISTIC_OUTPUTS = {"encode": {"params", "location"}, "decode": {"params", "mean"}}


def _converted_export(run_dir: Path, tmp_path: Path, fmt: str, part: str, files: list[str]):
    """Export ``run_dir`` as ``fmt``; returns the folder, its card, and for each signature
    the inputs it takes (labels included) and genmod's outputs for them."""
    out = tmp_path / fmt
    result = invoke("export", run_dir, "--out", out, "--format", fmt, "--part", part)
    assert result.exit_code == 0, result.output
    card = json.loads((out / "model-card.json").read_text())
    assert sorted(card["model_files"].values()) == files
    assert not (out / "saved_model.pb").exists()
    _, arrays = _inputs(run_dir, tmp_path)
    want = _genmod_outputs(run_dir, arrays, "all")
    label = {"y": arrays["y"]} if "y" in arrays else {}
    feeds = {
        "encode": {"x": arrays["x"], **label},
        "decode": {"z": arrays["z"], **label},
    }
    return out, card, feeds, want


@pytest.mark.parametrize(("kind", "part"), [("mlp", "all"), ("cmlp", "decoder")])
def test_tflite_export_matches_genmod(runs, tmp_path, kind, part):
    import warnings

    import tensorflow as tf

    files = {"all": ["decoder.tflite", "encoder.tflite"], "decoder": ["decoder.tflite"]}[part]
    out, card, feeds, want = _converted_export(runs[kind], tmp_path, "tflite", part, files)
    for signature, file_name in card["model_files"].items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
            interpreter = tf.lite.Interpreter(model_path=str(out / file_name))
        got = interpreter.get_signature_runner(signature)(**feeds[signature])
        assert set(got) == DETERMINISTIC_OUTPUTS[signature]
        for key, value in got.items():
            np.testing.assert_allclose(
                value, want[f"{signature}/{key}"], rtol=1e-5, atol=1e-5, err_msg=key
            )
    assert invoke("export", "--check", out).exit_code == 0


@pytest.mark.parametrize(("fmt", "words"), [("tflite", "to TFLite"), ("onnx", "to ONNX")])
def test_a_converter_refuses_random_ops_naming_the_component(
    runs, tmp_path, monkeypatch, fmt, words
):
    import tensorflow as tf

    from genmod.export import savedmodel

    def noisy_decode(model, z, y=None):
        noise = tf.random.stateless_normal(tf.shape(z), tf.constant([1, 2]))
        return savedmodel._decode(model, z + noise, y)

    entry = savedmodel.DETERMINISTIC_SIGNATURES["decode"]
    monkeypatch.setitem(savedmodel.DETERMINISTIC_SIGNATURES, "decode", (noisy_decode, *entry[1:]))
    out = tmp_path / "never"
    message = _one_error_line(
        invoke("export", runs["mlp"], "--out", out, "--format", fmt, "--part", "decoder")
    )
    assert words in message and "'decode'" in message and "decoder 'MLPDecoder'" in message
    assert "StatelessRandomNormalV2" in message and "--format savedmodel" in message
    assert not out.exists() and list(tmp_path.iterdir()) == []


def _onnx_session(path: Path):
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(("kind", "part"), [("mlp", "all"), ("cmlp", "encoder")])
def test_onnx_export_matches_genmod_in_onnx_runtime(runs, tmp_path, kind, part):
    files = {"all": ["decoder.onnx", "encoder.onnx"], "encoder": ["encoder.onnx"]}[part]
    out, card, feeds, want = _converted_export(runs[kind], tmp_path, "onnx", part, files)
    assert card["onnx_opset"] == 17 and "ONNX runtime" in (out / "README.md").read_text()
    for signature, file_name in card["model_files"].items():
        session = _onnx_session(out / file_name)
        feed = feeds[signature]
        assert sorted(i.name for i in session.get_inputs()) == sorted(feed)
        names = [o.name for o in session.get_outputs()]
        assert set(names) == DETERMINISTIC_OUTPUTS[signature]
        for batch in (1, 5):  # the batch dimension is free
            small = {k: v[:batch] for k, v in feed.items()}
            for key, value in zip(names, session.run(names, small), strict=True):
                np.testing.assert_allclose(
                    value, want[f"{signature}/{key}"][:batch], rtol=1e-5, atol=1e-5, err_msg=key
                )
    assert invoke("export", "--check", out).exit_code == 0


def test_onnx_without_the_extra_says_how_to_install_it(runs, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tf2onnx(name, *args, **kwargs):
        if name.split(".")[0] == "tf2onnx":
            raise ImportError("No module named 'tf2onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tf2onnx)
    out = tmp_path / "never"
    message = _one_error_line(invoke("export", runs["mlp"], "--out", out, "--format", "onnx"))
    assert "genmod[onnx]" in message
    assert not out.exists()


def _intact(run_dir: Path) -> bool:
    return (run_dir / "config.toml").is_file() and (run_dir / "model").is_dir()


def test_an_out_that_would_replace_the_run_or_other_folders_is_refused(runs, tmp_path, monkeypatch):
    import shutil

    base = tmp_path / "base"
    run_dir = base / "run"
    shutil.copytree(runs["mlp"], run_dir)
    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "thesis.tex").write_text("years of work")
    cases = {
        run_dir: "is the run folder or contains it",
        base: "is the run folder or contains it",
        run_dir / "model": "is part of the run folder",
        run_dir / "model" / "exp": "is part of the run folder",
        run_dir / "checkpoints" / "x": "is part of the run folder",
        run_dir / "export-savedmodel" / "nested": "is part of the run folder",
        keep: "not an export of `genmod export`",
    }
    for out, words in cases.items():
        message = _one_error_line(invoke("export", run_dir, "--out", out, "--overwrite"))
        assert words in message, (out, message)
        assert _intact(run_dir) and (keep / "thesis.tex").is_file()
    monkeypatch.chdir(base)
    assert "contains it" in _one_error_line(invoke("export", "run", "--out", ".", "--overwrite"))
    monkeypatch.chdir(run_dir)
    assert "contains it" in _one_error_line(invoke("export", ".", "--out", "..", "--overwrite"))
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    assert "symbolic link" in _one_error_line(invoke("export", run_dir, "--out", dangling))
    strays = [p for p in [*tmp_path.rglob(".*")] if ".tmp-" in p.name or ".old-" in p.name]
    assert not strays and _intact(run_dir)

    # the default goes into the run, under the run's lock; overwriting an export replaces it
    assert invoke("export", run_dir).exit_code == 0
    first = json.loads((run_dir / "export-savedmodel" / "model-card.json").read_text())
    assert first["run"] == str(run_dir.resolve())
    result = invoke(
        "export",
        run_dir,
        "--overwrite",
        "--part",
        "decoder",
        "--out",
        run_dir / "export-savedmodel",
    )
    assert result.exit_code == 0, result.output
    card = json.loads((run_dir / "export-savedmodel" / "model-card.json").read_text())
    assert card["part"] == "decoder" and _intact(run_dir)
    assert not [p for p in run_dir.iterdir() if ".old-" in p.name or ".tmp-" in p.name]


def test_export_of_a_run_that_is_still_training_names_its_process(runs, tmp_path):
    from genmod.runs.lock import run_lock

    live = tmp_path / "live"
    live.mkdir()
    (live / "config.toml").write_text((runs["mlp"] / "config.toml").read_text())
    with run_lock(live, "genmod run"):  # this process trains it, as far as the folder tells
        message = _one_error_line(invoke("export", live, "--out", tmp_path / "x"))
    assert "still training" in message and f"pid {os.getpid()}" in message
    assert "resume" not in message


def test_check_refuses_links_unlisted_folders_and_edited_cards(runs, tmp_path):
    from genmod.export.checksums import card_digest

    out = tmp_path / "e"
    assert invoke("export", runs["mlp"], "--out", out).exit_code == 0
    card_path = out / "model-card.json"
    original = card_path.read_text()
    card = json.loads(original)
    assert card["card_sha256"] == card_digest(card) and "variables" in card["folders"]

    def check() -> str:
        return _one_error_line(invoke("export", "--check", out))

    (out / "assets" / "etc").symlink_to("/etc")
    assert "symbolic link" in check()
    (out / "assets" / "etc").unlink()
    (out / "README.md").rename(tmp_path / "R.md")
    (out / "README.md").symlink_to(tmp_path / "R.md")
    assert "symbolic link" in check()
    (out / "README.md").unlink()
    (tmp_path / "R.md").rename(out / "README.md")
    (out / "empty").mkdir()
    assert "folder" in check() and "not listed" in check()
    (out / "empty").rmdir()
    assert invoke("export", "--check", out).exit_code == 0

    edited = {**card, "test_metrics": {**card["test_metrics"], "test_elbo": -1.0}}
    card_path.write_text(json.dumps(edited))
    assert "changed after the export" in check()
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    from genmod.data.download import sha256_file

    escaping = {**card, "files": {**card["files"], "../outside.txt": sha256_file(outside)}}
    escaping["card_sha256"] = card_digest(escaping)
    card_path.write_text(json.dumps(escaping))
    assert "not a relative path inside the export" in check()
    card_path.write_text(original)
    assert invoke("export", "--check", out).exit_code == 0


@pytest.mark.slow
def test_a_pixelcnn_export_samples_sequentially_in_plain_tensorflow(mnist_dir, tmp_path):
    """A likelihood without a mean: decode gives only params, and sample runs the sequential
    sampler traced into the SavedModel, with genmod's numbers for the same seed."""
    run_dir = _train(
        mnist_dir,
        tmp_path / "pixelcnn",
        "--likelihood",
        "pixelcnn",
        "--likelihood-opt",
        "filters=8",
        "--likelihood-opt",
        "layers=2",
        "--train-size",
        "128",
    )
    out = tmp_path / "export"
    assert invoke("export", run_dir, "--out", out).exit_code == 0
    inputs, arrays = _inputs(run_dir, tmp_path)
    got = _run_plain_tensorflow(out, inputs, tmp_path / "outputs.npz")
    want = _genmod_outputs(run_dir, arrays, "all")
    assert "decode/mean" not in got and sorted(got) == sorted(want)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-5, err_msg=key)
    images = got["sample/images"]
    assert set(np.unique(images)) <= {0.0, 1.0} and images.std() > 0  # binary samples, not means


def test_damaged_final_weights_are_not_called_an_unfinished_run(runs, tmp_path):
    import shutil

    run_dir = tmp_path / "damaged"
    shutil.copytree(runs["mlp"], run_dir)
    (run_dir / "model" / "weights.index").unlink()
    message = _one_error_line(invoke("export", run_dir, "--out", tmp_path / "x"))
    assert "damaged or incomplete" in message and "checkpoints" in message
    assert "did the run finish" not in message
