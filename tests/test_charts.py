"""Charts drawn with matplotlib (latent scatter, learning curves, the evaluation's figure) and
colour image grids: every point inside the scatter's frame, one legend entry per class present,
RGB grids and GIFs for colour data, curves.png rewritten after every epoch of a real run,
evaluation.png written by `genmod evaluate`, and the same inputs giving the same bytes."""

from __future__ import annotations

import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from genmod.pictures import charts
from genmod.pictures import images as pictures
from genmod.pictures.images import LABEL_COLOURS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png(path: Path) -> Image.Image:
    assert Path(path).read_bytes()[:8] == PNG_MAGIC
    image = Image.open(path)
    image.load()
    return image


# ----------------------------------------------------------------------------- scatter
def test_scatter_limits_contain_every_point_even_heavy_tailed_ones():
    rng = np.random.default_rng(3)
    points = rng.standard_cauchy((500, 2))  # outliers far outside the 0.5%-99.5% range
    points[0] = [1e3, -1e3]
    figure = charts.latent_scatter(points, rng.integers(0, 10, 500), title="t")
    axes = figure.axes[0]
    (x_low, x_high), (y_low, y_high) = axes.get_xlim(), axes.get_ylim()
    assert x_low < points[:, 0].min() and points[:, 0].max() < x_high
    assert y_low < points[:, 1].min() and points[:, 1].max() < y_high
    # the limits are those scatter_limits computes: 5% of the range on each side, no more
    span = points[:, 0].max() - points[:, 0].min()
    assert x_low == pytest.approx(points[:, 0].min() - 0.05 * span)
    assert x_high == pytest.approx(points[:, 0].max() + 0.05 * span)
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("z1", "z2")


def test_scatter_limits_of_a_constant_coordinate_and_of_nan_points():
    points = np.array([[2.0, -1.0], [2.0, 3.0], [np.nan, 1.0]])
    (x_low, x_high), (y_low, y_high) = charts.scatter_limits(points)
    assert x_low < 2.0 < x_high and x_high - x_low == pytest.approx(1.0)
    assert (y_low, y_high) == pytest.approx((-1.2, 3.2))
    with pytest.raises(ValueError, match=r"\[n, 2\]"):
        charts.scatter_limits(np.zeros((3, 3)))


def _legend(figure) -> list[str]:
    legend = figure.axes[0].get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_the_legend_lists_the_classes_present_in_their_colours():
    rng = np.random.default_rng(0)
    labels = rng.choice([7, 0, 3], 300)
    figure = charts.latent_scatter(rng.normal(size=(300, 2)), labels, axis_names=("PC1", "PC2"))
    assert _legend(figure) == ["0", "3", "7"]
    handles = figure.axes[0].get_legend().legend_handles
    for handle, label in zip(handles, (0, 3, 7), strict=True):
        expected = tuple(v / 255 for v in LABEL_COLOURS[label])
        assert tuple(handle.get_color()) == pytest.approx(expected)
    # every point is coloured by its own label (drawn in a shuffled order)
    collection = figure.axes[0].collections[0]
    offsets, colours = collection.get_offsets(), collection.get_facecolors()[:, :3]
    assert len(offsets) == 300
    order = np.random.default_rng(0).permutation(300)
    expected = np.array([[v / 255 for v in LABEL_COLOURS[c]] for c in labels[order]])
    np.testing.assert_allclose(colours, expected, atol=1e-6)
    assert charts.latent_scatter(rng.normal(size=(10, 2)), None).axes[0].get_legend() is None


def test_many_classes_get_distinct_colours_and_no_crowded_legend():
    labels = np.arange(40) % 30
    colours = charts.class_colours(range(30))
    assert len(set(colours.values())) == 30
    figure = charts.latent_scatter(np.random.default_rng(1).normal(size=(40, 2)), labels)
    assert _legend(figure) == [] and "30 classes" in figure.axes[0].get_title()
    assert len(set(charts.class_colours(range(12)).values())) == 12  # tab20 for 11-20 classes


def test_the_scatter_png_is_deterministic(tmp_path):
    rng = np.random.default_rng(2)
    points, labels = rng.normal(size=(200, 2)), rng.integers(0, 10, 200)
    a = charts.save_latent_scatter(points, labels, tmp_path / "a.png", title="x")
    b = charts.save_latent_scatter(points, labels, tmp_path / "b.png", title="x")
    assert a.read_bytes() == b.read_bytes()
    assert _png(a).size == (640, 520)


# ----------------------------------------------------------------------------- curves
def _history(epochs: int, validation: bool = True) -> list[dict]:
    records = []
    for e in range(1, epochs + 1):
        r = {"epoch": e, "step": 10 * e, "train_loss": 200.0 / e, "learning_rate": 1e-3}
        for split in ("train", "validation", "test") if validation else ("train", "test"):
            r[f"{split}_elbo"] = -200.0 / e
            r[f"{split}_reconstruction"] = -190.0 / e
            r[f"{split}_kl"] = 10.0 + e
        records.append(r)
    return records


def test_curve_series_takes_whatever_fields_exist():
    series = charts.curve_series(_history(3, validation=False))
    assert list(series) == ["elbo", "reconstruction", "kl"]
    assert set(series["elbo"]) == {"train", "test"}
    assert series["kl"]["test"] == ([1, 2, 3], [11.0, 12.0, 13.0])
    history = _history(2) + [{"epoch": 3, "test_bits_per_dim": 3.5, "test_elbo": float("nan")}]
    series = charts.curve_series(history)
    assert series["bits_per_dim"] == {"test": ([3], [3.5])}
    assert series["elbo"]["test"][0] == [1, 2]  # NaN left out


def test_learning_curves_have_one_panel_per_quantity_and_a_line_per_split(tmp_path):
    figure = charts.learning_curves(_history(4))
    assert [a.get_title().split()[0] for a in figure.axes] == [
        "ELBO",
        "reconstruction",
        "KL(q(z|x)",
    ]
    for axes in figure.axes:
        assert [line.get_label() for line in axes.get_lines()] == ["train", "validation", "test"]
        assert list(axes.get_lines()[0].get_xdata()) == [1, 2, 3, 4]
    empty = charts.save_learning_curves([{"epoch": 1, "step": 3}], tmp_path / "empty.png")
    assert _png(empty).size[0] > 0
    a = charts.save_learning_curves(_history(4), tmp_path / "a.png")
    b = charts.save_learning_curves(_history(4), tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()


# ------------------------------------------------------------------------- evaluation
def test_the_evaluation_figure_shows_both_histograms_and_the_gap():
    rng = np.random.default_rng(4)
    elbo = rng.normal(-100, 20, 400)
    gap = rng.exponential(2.0, 400)
    figure = charts.evaluation_figure(elbo + gap, elbo, num_samples=50, title="t")
    left, right = figure.axes
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["ELBO", "IWAE, K=50"]
    assert f"mean {gap.mean():.2f}" in right.get_title()
    counts = sum(patch.get_height() for patch in right.patches)
    assert counts == 400
    with pytest.raises(ValueError, match="log-likelihoods"):
        charts.evaluation_figure(np.zeros(3), np.zeros(4), num_samples=1)


# ----------------------------------------------------------------------- colour grids
class _ColourModel:
    """A stand-in model on 8x8x3 images: red follows z1, green follows -z1, blue a left-right
    ramp; the posterior mean is the mean of each colour channel (first two channels)."""

    latent_dim = 2
    condition_dim = 0
    data_shape = (8, 8, 3)

    def __init__(self):
        self.decoder = self
        self.likelihood = self

    def decode(self, z, condition):
        return z

    def image(self, params, seed):
        import tensorflow as tf

        z = tf.convert_to_tensor(params)
        red = tf.sigmoid(z[:, 0])[:, None, None] * tf.ones([1, 8, 8])
        green = tf.sigmoid(-z[:, 0] + z[:, 1])[:, None, None] * tf.ones([1, 8, 8])
        blue = tf.ones_like(red) * tf.linspace(0.0, 1.0, 8)[None, None, :]
        return tf.stack([red, green, blue], axis=-1)

    def prior_distribution(self):
        import tensorflow as tf
        import tensorflow_probability as tfp

        return tfp.distributions.MultivariateNormalDiag(tf.zeros(2))

    def posterior_location(self, x, condition):
        import tensorflow as tf

        return tf.reduce_mean(x, axis=[1, 2])[:, :2] * 4.0 - 2.0


def _is_colour(path: Path) -> None:
    image = _png(path)
    assert image.mode == "RGB", path
    pixels = np.asarray(image, np.int16)
    assert np.abs(pixels[..., 0] - pixels[..., 1]).max() > 50, path  # channels differ
    assert np.abs(pixels[..., 1] - pixels[..., 2]).max() > 50, path


def test_colour_data_gives_colour_grids_and_gifs(tmp_path):
    from genmod.pictures import figures

    model = _ColourModel()
    data = np.random.default_rng(5).integers(0, 256, (16, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(16) % 4
    written = [
        figures.samples_picture(model, tmp_path / "samples.png", n=16, seed=1),
        figures.reconstruction_picture(
            model, data, labels, tmp_path / "rec.png", binarize="none", n=8
        ),
        figures.manifold_picture(model, tmp_path / "manifold.png", steps=5),
        figures.interpolation_picture(
            model, data, labels, tmp_path / "interp.png", binarize="none", pairs=2, steps=4
        ),
        figures.traversal_picture(model, data, labels, tmp_path / "trav.png", binarize="none"),
    ]
    for path in written:
        _is_colour(path)
    assert _png(written[0]).size == (2 * (4 * 10 + 2), 2 * (4 * 10 + 2))
    again = figures.samples_picture(model, tmp_path / "again.png", n=16, seed=1)
    assert again.read_bytes() == written[0].read_bytes()  # same seed, same bytes
    other = figures.samples_picture(model, tmp_path / "other.png", n=16, seed=2)
    assert other.read_bytes() != written[0].read_bytes()
    latent = figures.latent_picture(model, data, labels, tmp_path / "latent.png", binarize="none")
    assert _is_a_chart(latent)

    gif = pictures.save_gif([written[0], other], tmp_path / "samples.gif")
    with Image.open(gif) as animation:
        assert animation.n_frames == 2
        for index, source in enumerate((written[0], other)):
            animation.seek(index)
            frame = np.asarray(animation.convert("RGB"), np.int16)
            original = np.asarray(_png(source), np.int16)
            # one adaptive palette: ~0.05 levels off on average here (the fixed web palette
            # that convert("P") picks is ~20 off); 257 colours, so not all can be exact
            assert np.abs(frame - original).mean() < 1.0
            assert np.abs(frame - original).max() <= 24
            assert np.abs(frame[..., 0] - frame[..., 2]).max() > 50


def _is_a_chart(path: Path) -> bool:
    """A 640 x 520 matplotlib scatter that is not blank."""
    image = _png(path)
    return image.size == (640, 520) and np.asarray(image.convert("L")).std() > 5


def test_grey_data_stays_grey_and_gifs_keep_every_grey_level(tmp_path):
    ramp = np.linspace(0, 1, 2 * 16 * 16, dtype=np.float32).reshape(2, 16, 16, 1)
    a = pictures.save_png(pictures.grid(ramp[:1], 1, pad=0, scale=1), tmp_path / "a.png")
    b = pictures.save_png(pictures.grid(ramp[1:], 1, pad=0, scale=1), tmp_path / "b.png")
    assert _png(a).mode == "L"
    gif = pictures.save_gif([a, b], tmp_path / "g.gif")
    with Image.open(gif) as animation:
        for index, source in enumerate((a, b)):
            animation.seek(index)
            assert np.array_equal(np.asarray(animation.convert("L")), np.asarray(_png(source)))


# ------------------------------------------------------------------- a real tiny run
@pytest.fixture(scope="module")
def two_epoch_run(tmp_path_factory, mnist_dir):
    """A 2-epoch MNIST run; copies of pictures/curves.png taken right after each epoch's
    curves were drawn, with the time each drawing took and the epoch's train seconds."""
    from genmod.cli import cli

    monkeypatch = pytest.MonkeyPatch()
    out = tmp_path_factory.mktemp("charts") / "run"
    drawn: list[dict] = []
    real = charts.save_learning_curves

    def spy(history, path):
        started = time.perf_counter()
        written = real(history, path)
        seconds = time.perf_counter() - started
        drawn.append(
            {
                "epochs": [r["epoch"] for r in history],
                "png": Path(written).read_bytes(),
                "seconds": seconds,
                "train_seconds": history[-1]["train_seconds"],
            }
        )
        return written

    monkeypatch.setattr(charts, "save_learning_curves", spy)
    args = [
        "run", "--data-dir", mnist_dir, "--out", out, "--epochs", 2, "--latent-dim", 2,
        "--train-size", 256, "--test-size", 128, "--validation-size", 64, "--batch-size", 64,
        "--eval-batch-size", 128, "--encoder-opt", "hidden=32", "--decoder-opt", "hidden=32",
        "--quiet",
    ]  # fmt: skip
    try:
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    finally:
        monkeypatch.undo()
    assert result.exit_code == 0, result.output
    return out, drawn


def test_curves_png_is_rewritten_after_every_epoch(two_epoch_run):
    out, drawn = two_epoch_run
    assert [d["epochs"] for d in drawn] == [[1], [1, 2]]
    for d in drawn:
        assert d["png"][:8] == PNG_MAGIC
        with Image.open(io.BytesIO(d["png"])) as image:
            image.load()
            assert image.size[0] > 300
    assert drawn[0]["png"] != drawn[1]["png"]
    assert (out / "pictures" / "curves.png").read_bytes() == drawn[1]["png"]
    print(
        "curves drawing: "
        + ", ".join(f"{d['seconds']:.3f}s (epoch train {d['train_seconds']:.2f}s)" for d in drawn)
    )


def test_latent_png_is_a_matplotlib_scatter_of_the_test_codes(two_epoch_run):
    out, _ = two_epoch_run
    image = _png(out / "pictures" / "latent.png")
    assert image.size == (640, 520)


def test_genmod_evaluate_writes_its_figure_next_to_evaluation_json(two_epoch_run, tmp_path):
    from genmod.cli import cli

    out, _ = two_epoch_run
    run = tmp_path / "run"
    shutil.copytree(out, run)
    result = CliRunner().invoke(
        cli, ["evaluate", str(run), "-k", "8", "--test-size", "64", "--json", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["figure"] == "evaluation.png"
    assert json.loads((run / "evaluation.json").read_text())["figure"] == "evaluation.png"
    assert _png(run / "evaluation.png").size == (1000, 380)


def test_per_image_estimates_average_to_the_reported_means(two_epoch_run):
    from genmod.evaluate.loglik import evaluate_log_likelihood
    from genmod.runs.loading import load_run

    out, _ = two_epoch_run
    run = load_run(out)
    images = np.random.default_rng(6).integers(0, 256, (40, 28, 28, 1), dtype=np.uint8)
    per_item: dict = {}
    result = evaluate_log_likelihood(
        run.model, images, None, binarize=run.binarize, num_samples=4, per_item=per_item
    )
    assert per_item["log_likelihood"].shape == per_item["elbo"].shape == (40,)
    assert per_item["log_likelihood"].mean() == pytest.approx(result["log_likelihood"], rel=1e-9)
    assert per_item["elbo"].mean() == pytest.approx(result["elbo"], rel=1e-9)


def test_importing_the_charts_imports_neither_matplotlib_nor_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys, genmod.pictures.charts, genmod.cli.commands.evaluate\n"
        "print(sorted(m for m in ('matplotlib', 'tensorflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
