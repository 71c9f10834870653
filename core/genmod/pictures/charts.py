"""Charts drawn with matplotlib: the latent-space scatter, learning curves, the figure of
``genmod evaluate`` and the aggregate of ``genmod runs --group-by`` (``--chart``).

matplotlib is imported inside the functions that draw (importing this module stays light,
``genmod --help`` never pays for it), and only through its object-oriented API: a
:class:`matplotlib.figure.Figure` rendered by the Agg canvas, never ``pyplot``, so no window is
opened, no global backend is switched and nothing is kept between calls. Files are written
atomically (a temporary name, then a rename) like every picture of a run. The same inputs give
the same PNG bytes (no time stamp or version string in the file).

The functions that build a figure (:func:`latent_scatter`, :func:`learning_curves`,
:func:`evaluation_figure`, :func:`aggregate_figure`) return it, so tests can inspect its axes;
the ``save_*`` functions draw and write in one go. All values are in nats (per item) unless a
key says otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genmod.pictures.images import LABEL_COLOURS, _atomic_save

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from genmod.runs.aggregate import ChartData

#: fraction of the points' range added on each side of the scatter's axes
SCATTER_PAD = 0.05
#: dots per inch of every chart
DPI = 100
#: the quantities of ``metrics.jsonl`` drawn as learning curves, one panel each, in this order;
#: a quantity without any ``{split}_{quantity}`` key in the history gets no panel
CURVE_QUANTITIES = ("elbo", "reconstruction", "kl", "bits_per_dim")
#: the splits drawn in each panel: (key prefix, line style)
CURVE_SPLITS = (("train", "-"), ("validation", "--"), ("test", ":"))
_SPLIT_COLOURS = {"train": "#1f77b4", "validation": "#ff7f0e", "test": "#2ca02c"}
_UNITS = {"bits_per_dim": "bits per dimension"}
_TITLES = {
    "elbo": "ELBO",
    "reconstruction": "reconstruction  E_q log p(x|z)",
    "kl": "KL(q(z|x) || p(z))",
    "bits_per_dim": "bits per dimension",
}


def _figure(width: float, height: float, *, layout: str | None = "constrained") -> Figure:
    # matplotlib logs "building the font cache" as a warning the first time it runs on a
    # machine; a command's stderr stays genmod's (tests/test_quiet_import.py), so that
    # one-off notice is silenced unless the user configured the logger themselves
    fonts = logging.getLogger("matplotlib.font_manager")
    if fonts.level == logging.NOTSET:
        fonts.setLevel(logging.ERROR)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout=layout)


def save_figure(figure: Figure, path: Path) -> Path:
    """Render ``figure`` with Agg and write it as a PNG to ``path`` (atomically); returns it."""

    def save(tmp: str) -> None:
        figure.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})

    return _atomic_save(Path(path), save)


# ------------------------------------------------------------------------------ scatter
def scatter_limits(
    points: np.ndarray, pad: float = SCATTER_PAD
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The axis limits ``((x_low, x_high), (y_low, y_high))`` of a scatter of ``points``
    ``[n, 2]``: the range of the finite points widened by ``pad`` of it on each side, so every
    point lies strictly inside the frame. A constant coordinate gets a range of +-0.5 (or +-5%
    of its magnitude, when larger) around its value; no finite point at all gives (-1, 1)."""
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"expected points [n, 2], got shape {points.shape}")
    limits = []
    for column in points.T:
        finite = column[np.isfinite(column)]
        if finite.size == 0:
            limits.append((-1.0, 1.0))
            continue
        low, high = float(finite.min()), float(finite.max())
        span = high - low
        if span > 0:
            limits.append((low - pad * span, high + pad * span))
        else:
            half = max(0.5, 0.05 * abs(low))
            limits.append((low - half, high + half))
    return limits[0], limits[1]


def class_colours(classes: Sequence[int]) -> dict[int, tuple[float, float, float]]:
    """An RGB colour in [0, 1] per class: the ten Tableau colours of
    :data:`~genmod.pictures.images.LABEL_COLOURS` by label for up to 10 classes (labels 0..9),
    otherwise evenly spaced colours of matplotlib's ``tab20`` (up to 20) or ``turbo`` map."""
    classes = sorted(int(c) for c in classes)
    if classes and classes[-1] < len(LABEL_COLOURS) and classes[0] >= 0:
        return {c: tuple(v / 255.0 for v in LABEL_COLOURS[c]) for c in classes}
    from matplotlib import colormaps

    if len(classes) <= 20:  # a listed colour map: an integer picks its i-th colour
        return {c: tuple(colormaps["tab20"](i)[:3]) for i, c in enumerate(classes)}
    count = len(classes) - 1
    return {c: tuple(colormaps["turbo"](i / count)[:3]) for i, c in enumerate(classes)}


#: at most this many classes get a legend entry each; more are listed only by count
MAX_LEGEND_CLASSES = 20


def latent_scatter(
    points: np.ndarray,
    labels: np.ndarray | None,
    *,
    title: str = "",
    axis_names: tuple[str, str] = ("z1", "z2"),
) -> Figure:
    """A scatter of ``points`` ``[n, 2]`` (float), coloured by integer ``labels`` ``[n]`` with
    a legend of the classes present (``None``: one colour, no legend).

    The axes are named ``axis_names`` and their limits are :func:`scatter_limits`: every
    finite point is inside the frame, none is clipped or piled against the border. Points are
    drawn in a fixed shuffled order, so no class always hides the others.
    """
    points = np.asarray(points, np.float64)
    limits = scatter_limits(points)
    n = len(points)
    figure = _figure(6.4, 5.2)
    axes = figure.subplots()
    order = np.random.default_rng(0).permutation(n)
    size = 6.0 if n <= 2000 else 3.0
    if labels is None:
        axes.scatter(points[order, 0], points[order, 1], s=size, color="#1f77b4", alpha=0.7)
    else:
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        if labels.shape[0] != n:
            raise ValueError(f"{labels.shape[0]} labels for {n} points")
        classes = sorted({int(v) for v in labels})
        colours = class_colours(classes)
        rgb = np.array([colours[int(v)] for v in labels[order]]).reshape(-1, 3)
        axes.scatter(points[order, 0], points[order, 1], s=size, c=rgb, alpha=0.7, linewidths=0)
        if len(classes) <= MAX_LEGEND_CLASSES:
            from matplotlib.lines import Line2D

            handles = [
                Line2D([], [], marker="o", linestyle="", color=colours[c], label=str(c))
                for c in classes
            ]
            axes.legend(
                handles=handles,
                title="label",
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),
                frameon=False,
            )
        else:
            title = f"{title} ({len(classes)} classes)" if title else f"{len(classes)} classes"
    axes.set_xlim(*limits[0])
    axes.set_ylim(*limits[1])
    axes.set_xlabel(axis_names[0])
    axes.set_ylabel(axis_names[1])
    axes.set_title(title, fontsize=10)
    axes.grid(True, linewidth=0.3, alpha=0.5)
    return figure


def save_latent_scatter(
    points: np.ndarray,
    labels: np.ndarray | None,
    path: Path,
    *,
    title: str = "",
    axis_names: tuple[str, str] = ("z1", "z2"),
) -> Path:
    """:func:`latent_scatter` written as a PNG to ``path``; returns the path."""
    return save_figure(latent_scatter(points, labels, title=title, axis_names=axis_names), path)


# ------------------------------------------------------------------------ learning curves
def curve_series(
    history: Sequence[Mapping[str, Any]],
) -> dict[str, dict[str, tuple[list[int], list[float]]]]:
    """The learning curves in ``history`` (the records of ``metrics.jsonl``, one per epoch):
    ``{quantity: {split: (epochs, values)}}`` for every quantity of :data:`CURVE_QUANTITIES`
    and split of :data:`CURVE_SPLITS` with a finite number under ``{split}_{quantity}`` in at
    least one record; quantities and splits without any are left out."""
    series: dict[str, dict[str, tuple[list[int], list[float]]]] = {}
    for quantity in CURVE_QUANTITIES:
        for split, _ in CURVE_SPLITS:
            key = f"{split}_{quantity}"
            epochs, values = [], []
            for record in history:
                value = record.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    if np.isfinite(value):
                        epochs.append(int(record["epoch"]))
                        values.append(float(value))
            if epochs:
                series.setdefault(quantity, {})[split] = (epochs, values)
    return series


def learning_curves(history: Sequence[Mapping[str, Any]]) -> Figure:
    """One panel per quantity of :func:`curve_series` (ELBO, reconstruction, KL, and bits per
    dimension when the records have it), with the train, validation and test values per epoch
    (nats per item; train values are means over the epoch's steps, the others are measured
    after it). A history without any such value gives a figure that says so."""
    series = curve_series(history)
    panels = list(series)
    width, height = 3.6 * max(len(panels), 1), 3.2
    # fixed margins instead of a layout engine: this is redrawn after every epoch, and the
    # constrained layout would double its cost (measured: ~1.6 s against ~0.9 s, loaded CPU)
    figure = _figure(width, height, layout=None)
    figure.subplots_adjust(
        left=0.8 / width, right=1 - 0.15 / width, bottom=0.5 / height, top=1 - 0.35 / height
    )
    if not panels:
        axes = figure.subplots()
        axes.text(0.5, 0.5, "no ELBO, reconstruction or KL in metrics.jsonl", ha="center")
        axes.set_axis_off()
        return figure
    from matplotlib.ticker import MaxNLocator

    all_axes = figure.subplots(1, len(panels), squeeze=False, gridspec_kw={"wspace": 0.4})[0]
    styles = dict(CURVE_SPLITS)
    for axes, quantity in zip(all_axes, panels, strict=True):
        for split, (epochs, values) in series[quantity].items():
            axes.plot(
                epochs,
                values,
                linestyle=styles[split],
                marker="o",
                markersize=3,
                color=_SPLIT_COLOURS[split],
                label=split,
            )
        axes.set_title(_TITLES[quantity], fontsize=10)
        axes.set_xlabel("epoch")
        axes.set_ylabel(_UNITS.get(quantity, "nats per item"))
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        first = min(min(e) for e, _ in series[quantity].values())
        last = max(max(e) for e, _ in series[quantity].values())
        if first == last:  # one epoch: matplotlib's own margins would give fractional ticks
            axes.set_xlim(first - 0.5, last + 0.5)
            axes.set_xticks([first])
        axes.grid(True, linewidth=0.3, alpha=0.5)
        axes.legend(fontsize=8, frameon=False)
    return figure


def save_learning_curves(history: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """:func:`learning_curves` written as a PNG to ``path``; returns the path."""
    return save_figure(learning_curves(history), path)


# ------------------------------------------------------------------------- evaluation
def evaluation_figure(
    log_likelihood: np.ndarray, elbo: np.ndarray, *, num_samples: int, title: str = ""
) -> Figure:
    """Two histograms over the test images, from per-image estimates ``[n]`` (nats):

    left, the distribution of the IWAE log p(x) (K = ``num_samples``) and of the ELBO, with
    their means: a mean hides the tail of images the model finds improbable, this shows it;
    right, the per-image gap log p(x) - ELBO (>= 0 up to Monte Carlo noise): how much looser
    the ELBO is than the K-sample bound, i.e. how far q(z|x) is from the true posterior, image
    by image (a wide gap is what a richer posterior or more samples can still gain).
    """
    log_likelihood = np.asarray(log_likelihood, np.float64).reshape(-1)
    elbo = np.asarray(elbo, np.float64).reshape(-1)
    if log_likelihood.shape != elbo.shape:
        raise ValueError(f"{log_likelihood.size} log-likelihoods for {elbo.size} ELBOs")
    keep = np.isfinite(log_likelihood) & np.isfinite(elbo)
    log_likelihood, elbo = log_likelihood[keep], elbo[keep]
    gap = log_likelihood - elbo
    figure = _figure(10.0, 3.8)
    left, right = figure.subplots(1, 2)
    bins = min(60, max(10, int(np.sqrt(max(len(elbo), 1)))))
    if len(elbo):
        low = float(min(elbo.min(), log_likelihood.min()))
        high = float(max(elbo.max(), log_likelihood.max()))
        edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
        left.hist(elbo, bins=edges, histtype="step", color="#ff7f0e", label="ELBO")
        left.hist(
            log_likelihood,
            bins=edges,
            histtype="step",
            color="#1f77b4",
            label=f"IWAE, K={num_samples}",
        )
        left.axvline(elbo.mean(), color="#ff7f0e", linestyle="--", linewidth=1)
        left.axvline(log_likelihood.mean(), color="#1f77b4", linestyle="--", linewidth=1)
        right.hist(gap, bins=bins, color="#7f7f7f")
        right.axvline(gap.mean(), color="black", linestyle="--", linewidth=1, label="mean")
        right.legend(fontsize=8, frameon=False)
    left.set_title("per-image log p(x) and ELBO (dashed: means)", fontsize=10)
    left.set_xlabel("nats")
    left.set_ylabel("test images")
    left.legend(fontsize=8, frameon=False)
    mean_gap = f", mean {gap.mean():.2f}" if len(gap) else ""
    right.set_title(f"per-image gap log p(x) - ELBO{mean_gap}", fontsize=10)
    right.set_xlabel("nats")
    right.set_ylabel("test images")
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def save_evaluation_figure(
    log_likelihood: np.ndarray, elbo: np.ndarray, path: Path, *, num_samples: int, title: str = ""
) -> Path:
    """:func:`evaluation_figure` written as a PNG to ``path``; returns the path."""
    figure = evaluation_figure(log_likelihood, elbo, num_samples=num_samples, title=title)
    return save_figure(figure, path)


def save_evaluation_result(
    path: Path, result: Mapping[str, Any], per_item: Mapping[str, np.ndarray]
) -> Path:
    """The figure of one ``genmod evaluate``: :func:`evaluation_figure` of the per-image
    ``per_item["log_likelihood"]`` and ``per_item["elbo"]`` (nats), titled with their means
    (those of the result: ``result`` as :func:`genmod.evaluate.run.evaluate_run` returns it,
    which gives K), written to ``path`` (``RUN/evaluation.png``)."""
    title = (
        f"{len(per_item['elbo'])} test images: "
        f"log p(x) {float(np.mean(per_item['log_likelihood'])):.2f}, "
        f"ELBO {float(np.mean(per_item['elbo'])):.2f} nats per image"
    )
    return save_evaluation_figure(
        per_item["log_likelihood"],
        per_item["elbo"],
        path,
        num_samples=int(result["num_samples"]),
        title=title,
    )


# ------------------------------------------------------------------------- aggregate
def aggregate_figure(data: ChartData) -> Figure:
    """A value against a setting over groups of runs (``genmod runs --group-by ... --chart``):
    one line per :class:`~genmod.runs.aggregate.ChartLine` of ``data`` (a combination of the
    group keys after the first; a legend when there are several), a marker at each group's
    mean with an error bar of its sample standard deviation (none for a group of one run).

    The x axis is ``data.x_scale``: ``linear`` or ``log`` (numbers), or ``categories`` (the
    names ``data.categories`` at 0, 1, ...); the axes are labelled with the setting and with
    the value and its unit, the title names the value and the runs averaged. Every x value
    drawn is a tick (at most 12; matplotlib's own ticks beyond that)."""
    figure = _figure(6.4, 4.4)
    axes = figure.subplots()
    cycle = ("o", "s", "^", "D", "v", "P", "X", "*")
    for index, line in enumerate(data.lines):
        axes.errorbar(
            line.x,
            line.mean,
            yerr=line.std,
            marker=cycle[index % len(cycle)],
            markersize=5,
            capsize=3,
            linewidth=1.2,
            label=line.label,
        )
    xs = sorted({x for line in data.lines for x in line.x})
    if data.x_scale == "log":
        axes.set_xscale("log")
    if data.x_scale == "categories":
        axes.set_xticks(range(len(data.categories)), data.categories)
        axes.set_xlim(-0.5, len(data.categories) - 0.5)
    elif len(xs) <= 12:
        axes.set_xticks(xs, [f"{x:g}" for x in xs])
        axes.minorticks_off()
    axes.set_xlabel(data.x_label + (" (log scale)" if data.x_scale == "log" else ""))
    axes.set_ylabel(data.y_label)
    axes.set_title(data.title, fontsize=10)
    axes.grid(True, linewidth=0.3, alpha=0.5)
    if len(data.lines) > 1:
        axes.legend(fontsize=8, frameon=False)
    return figure


def save_aggregate_chart(data: ChartData, path: Path) -> Path:
    """:func:`aggregate_figure` written as a PNG to ``path`` (atomically); returns the path.
    Means near the float limits (a crafted run's) draw without numpy overflow warnings."""
    with np.errstate(over="ignore", invalid="ignore"):
        return save_figure(aggregate_figure(data), path)
