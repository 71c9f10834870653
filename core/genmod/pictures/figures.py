"""What a trained model shows: samples, reconstructions, latent codes, manifolds, interpolations
and traversals, computed with TensorFlow and written as PNG files by :mod:`genmod.pictures`.

Every function is deterministic given its ``seed``. Images are the likelihood's
:meth:`~genmod.contract.components.Likelihood.image` of p(x|z), float32 in ``[0, 1]``,
``[n, *data_shape]``: the means of p(x|z) (for a Bernoulli likelihood, pixel probabilities), or,
for a likelihood without a closed-form mean (``pixelcnn``), one sample of p(x|z) per z drawn
from a fixed seed (:data:`IMAGE_SEED`, or one derived from ``seed``), so the same call always
gives the same picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from genmod.contract.errors import ConfigError
from genmod.model.preprocess import binarize_images, one_hot_labels
from genmod.pictures import images as pictures

#: the stateless seed of :meth:`Likelihood.image` for pictures decoded from given codes
#: (reconstructions, manifolds, interpolations, traversals); it only matters for a likelihood
#: whose pictures are samples of p(x|z)
IMAGE_SEED = (0, 4)


def _images(model, z: tf.Tensor, condition: tf.Tensor | None, seed) -> np.ndarray:
    params = model.decoder.decode(z, condition)
    return model.likelihood.image(params, seed=tf.constant(seed, tf.int32)).numpy()


def _condition(model, labels: np.ndarray | None, n: int) -> tf.Tensor | None:
    """One-hot conditions for a conditional model (labels cycle 0..C-1 when not given)."""
    if not model.condition_dim:
        return None
    if labels is None:
        labels = np.arange(n) % model.condition_dim
    return one_hot_labels(tf.constant(np.asarray(labels)), model.condition_dim)


def check_label(model, label: int | None) -> None:
    """Refuse ``--label`` for unconditional models and labels out of range."""
    if label is None:
        return
    if not model.condition_dim:
        raise ConfigError(
            "--label needs a conditional model (one trained with a condition on the digit "
            "label); this run's model is unconditional."
        )
    if not 0 <= label < model.condition_dim:
        raise ConfigError(
            f"--label got {label}; this model's labels are 0..{model.condition_dim - 1}."
        )


def prior_samples(model, n: int, *, seed: int = 0, label: int | None = None) -> np.ndarray:
    """Pictures of p(x|z) (its means, or one sample each for a likelihood without a mean) for
    ``n`` draws z ~ p(z) from the stateless ``seed``."""
    check_label(model, label)
    labels = None if label is None else np.full(n, label)
    condition = _condition(model, labels, n)
    z = model.prior_distribution().sample(n, seed=tf.constant([seed, 1], tf.int32))
    return _images(model, z, condition, [seed, 3])


def encode_means(
    model, images: np.ndarray, labels: np.ndarray | None, *, binarize: str, batch: int = 500
) -> np.ndarray:
    """Posterior means E[z|x] ``[n, latent_dim]`` (binarized with a fixed seed, like the test)."""
    codes = []
    for start in range(0, len(images), batch):
        x = binarize_images(tf.constant(images[start : start + batch]), binarize, [0, start])
        y = None if labels is None else labels[start : start + batch]
        codes.append(model.posterior_location(x, _condition(model, y, len(x))).numpy())
    return np.concatenate(codes)


def decode_means(model, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Pictures of p(x|z) for latent codes ``z`` ``[n, latent_dim]``: its means, or one sample
    each from :data:`IMAGE_SEED` for a likelihood without a mean."""
    z = tf.constant(np.asarray(z, np.float32))
    return _images(model, z, _condition(model, labels, len(z)), IMAGE_SEED)


def reconstructions(
    model, images: np.ndarray, labels: np.ndarray | None, *, binarize: str
) -> tuple[np.ndarray, np.ndarray]:
    """(inputs as the model sees them, reconstructions through the posterior mean)."""
    x = binarize_images(tf.constant(images), binarize, [0, 0]).numpy()
    z = encode_means(model, images, labels, binarize=binarize)
    return x, decode_means(model, z, labels)


def prior_quantiles(model, probabilities: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Per-dimension quantiles of p(z) ``[len(probabilities), latent_dim]``, estimated from
    20,000 prior draws (works for any prior, including learned ones)."""
    draws = model.prior_distribution().sample(20000, seed=tf.constant([seed, 2], tf.int32))
    return np.quantile(draws.numpy(), probabilities, axis=0)


def pca_2d(codes: np.ndarray) -> np.ndarray:
    """Project ``codes`` ``[n, d]`` on their two main principal axes ``[n, 2]``."""
    centred = codes - codes.mean(axis=0)
    if codes.shape[1] == 1:
        return np.concatenate([centred, np.zeros_like(centred)], axis=1)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ vt[:2].T
    if projected.shape[1] < 2:  # fewer than 2 codes have fewer than 2 principal axes
        projected = np.pad(projected, ((0, 0), (0, 2 - projected.shape[1])))
    return projected


def _as_images(images: np.ndarray, data_shape: tuple[int, ...]) -> np.ndarray:
    if len(data_shape) == 2:
        return images[..., None]
    if len(data_shape) == 3 and data_shape[-1] in (1, 3):
        return images
    raise ConfigError(f"cannot draw data of shape {data_shape} as pictures.")


def generated_images(
    model, n: int, *, seed: int = 0, label: int | None = None, codes: np.ndarray | None = None
) -> np.ndarray:
    """``n`` generated pictures ``[n, *data_shape]``: of draws z ~ p(z) from ``seed``
    (:func:`prior_samples`), or of the given ``codes`` ``[n, latent_dim]`` (from a latent
    sampler, ``genmod sample --sampler``), decoded with the image seed ``[seed, 3]``."""
    if codes is None:
        return prior_samples(model, n, seed=seed, label=label)
    check_label(model, label)
    labels = None if label is None else np.full(len(codes), label)
    condition = _condition(model, labels, len(codes))
    return _images(model, tf.constant(np.asarray(codes, np.float32)), condition, [seed, 3])


def samples_picture(
    model,
    path: Path,
    *,
    n: int = 64,
    seed: int = 0,
    label: int | None = None,
    codes: np.ndarray | None = None,
):
    """A grid of :func:`generated_images` written as a PNG to ``path``."""
    drawn = generated_images(model, n, seed=seed, label=label, codes=codes)
    images = _as_images(drawn, model.data_shape)
    return pictures.save_png(pictures.grid(images, int(np.ceil(np.sqrt(len(images))))), path)


def reconstruction_picture(model, images, labels, path: Path, *, binarize: str, n: int = 32):
    """Rows alternate: 8 inputs, then their 8 reconstructions."""
    x, r = reconstructions(
        model, images[:n], None if labels is None else labels[:n], binarize=binarize
    )
    columns = 8
    rows = []
    for start in range(0, len(x), columns):
        rows += [x[start : start + columns], r[start : start + columns]]
    tiles = _as_images(np.concatenate(rows), model.data_shape)
    return pictures.save_png(pictures.grid(tiles, columns), path)


def latent_points(codes: np.ndarray) -> tuple[np.ndarray, tuple[str, str], str]:
    """The 2-d points of a latent scatter of ``codes`` ``[n, d]``, their axis names and what
    they are: the codes themselves (``z1, z2``) when d = 2, the first latent dimension against
    zero when d = 1, otherwise their projection on the first two principal components
    (``PC1, PC2``, :func:`pca_2d`)."""
    d = codes.shape[1]
    if d == 2:
        return codes, ("z1", "z2"), "latent space (z1, z2)"
    if d == 1:
        flat = np.concatenate([codes, np.zeros_like(codes)], axis=1)
        return flat, ("z1", "(0: a 1-d latent space)"), "1-d latent space"
    return pca_2d(codes), ("PC1", "PC2"), f"PCA of the {d}-d latent codes"


def latent_picture(model, images, labels, path: Path, *, binarize: str):
    """Test codes (posterior means E[z|x]) as a matplotlib scatter coloured by label, with a
    legend of the labels present; PCA when latent_dim > 2 (the title says which)."""
    from genmod.pictures import charts

    codes = encode_means(model, images, labels, binarize=binarize)
    points, names, how = latent_points(codes)
    title = f"{how}: posterior means of {len(codes)} test images"
    return charts.save_latent_scatter(points, labels, path, title=title, axis_names=names)


def manifold_picture(model, path: Path, *, steps: int = 20, label: int | None = None):
    """For 2-d latents: decode a ``steps x steps`` grid of prior quantiles (5%..95%)."""
    if model.latent_dim != 2:
        raise ConfigError(
            f"the manifold picture needs a 2-d latent space; this model's is {model.latent_dim}-d "
            "(use traversals instead)."
        )
    check_label(model, label)
    q = prior_quantiles(model, np.linspace(0.05, 0.95, steps))
    z = np.array([[q[k, 0], q[steps - 1 - r, 1]] for r in range(steps) for k in range(steps)])
    labels = None if label is None else np.full(len(z), label)
    images = _as_images(decode_means(model, z, labels), model.data_shape)
    return pictures.save_png(pictures.grid(images, steps, pad=0, scale=1), path)


def interpolation_picture(
    model, images, labels, path: Path, *, binarize: str, pairs: int = 4, steps: int = 10
):
    """Each row: decoded straight line in z between the codes of test images 2i and 2i+1, with
    the two inputs at the ends. Needs ``2 * pairs`` images."""
    n = 2 * pairs
    if len(images) < n:
        raise ConfigError(
            f"{pairs} interpolations need {n} test images; there are {len(images)}. "
            f"Give at most {len(images) // 2} pairs."
        )
    x = binarize_images(tf.constant(images[:n]), binarize, [0, 0]).numpy()
    y = None if labels is None else labels[:n]
    codes = encode_means(model, images[:n], y, binarize=binarize)
    rows = []
    for i in range(pairs):
        a, b = codes[2 * i], codes[2 * i + 1]
        t = np.linspace(0.0, 1.0, steps)[:, None]
        row_labels = None if y is None else np.full(steps, y[2 * i])
        decoded = decode_means(model, (1 - t) * a + t * b, row_labels)
        rows += [x[2 * i : 2 * i + 1], decoded, x[2 * i + 1 : 2 * i + 2]]
    tiles = _as_images(np.concatenate(rows), model.data_shape)
    return pictures.save_png(pictures.grid(tiles, steps + 2), path)


def traversal_picture(
    model, images, labels, path: Path, *, binarize: str, steps: int = 9, max_dims: int = 16
):
    """Row d: the code of the first test image with dimension d swept over the prior's
    5%..95% quantiles (other dimensions fixed); at most ``max_dims`` rows."""
    y = None if labels is None else labels[:1]
    base = encode_means(model, images[:1], y, binarize=binarize)[0]
    q = prior_quantiles(model, np.linspace(0.05, 0.95, steps))
    dims = min(model.latent_dim, max_dims)
    z = np.repeat(base[None, None, :], dims * steps, axis=0).reshape(dims, steps, -1)
    for d in range(dims):
        z[d, :, d] = q[:, d]
    row_labels = None if y is None else np.full(dims * steps, y[0])
    decoded = decode_means(model, z.reshape(dims * steps, -1), row_labels)
    tiles = _as_images(decoded, model.data_shape)
    return pictures.save_png(pictures.grid(tiles, steps), path)
