"""The procedural ``sprites`` images: binary white-on-black shapes on a full grid of factors
(shape, scale, rotation, x position, y position), rendered with numpy. No files, no TensorFlow.

Geometry, in pixels (x to the right, y down, pixel ``(row i, column j)`` covering
``[j, j+1) x [i, i+1)``):

- Every shape is defined in its own unit disk (``u`` to the right, ``v`` up) and clipped to it:
  a square of side ``sqrt(2)`` (its corners on the circle), an ellipse with semi-axes 1 and
  0.6, and the heart ``(x^2 + y^2 - 1)^3 - x^2 y^3 <= 0`` scaled by 1/1.25 and centred so it
  fits the disk. The disk is drawn with radius ``r`` pixels: ``scales`` values evenly from
  ``r_max / 2`` to ``r_max = size / 4``, and turned counter-clockwise (as seen) by
  ``2 pi k / rotations``.
- The centre takes ``positions`` values per axis, evenly over ``[r_max + 1, size - 1 - r_max]``
  and rounded to a quarter pixel, so no shape ever reaches the border rows and columns.
- Each pixel is sampled at 4 x 4 points, ``(j + (a + 0.5) / 4, i + (b + 0.5) / 4)``, and is
  white (255) when at least half of them fall inside the shape, else black (0).

Because the centres lie on the quarter-pixel grid of the sample points, every image of one
(shape, scale, rotation) is an exact shift of one fine rendering: the grid is rendered per
(shape, scale, rotation) and sub-pixel phase, then placed; 6,144 images of 32 x 32 take a few
tens of milliseconds.
"""

from __future__ import annotations

import functools
import math

import numpy as np

SHAPES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "rotation", "pos_x", "pos_y")
#: samples per pixel along each axis (4 x 4 per pixel)
SUPERSAMPLE = 4
#: the largest shape's radius as a share of the image side
MAX_RADIUS = 0.25
_ELLIPSE_MINOR = 0.6
_HEART_SCALE, _HEART_SHIFT = 1.25, 0.25  # its smallest enclosing circle: centre (0, 0.25), r 1.25


def max_radius(size: int) -> float:
    """The radius in pixels of the unit disk holding the largest shape."""
    return MAX_RADIUS * size


def centre_steps(size: int, positions: int) -> np.ndarray:
    """The shape centres along one axis, in quarter pixels (int ``[positions]``, increasing)."""
    r = max_radius(size)
    low = math.ceil((r + 1) * SUPERSAMPLE)
    high = math.floor((size - 1 - r) * SUPERSAMPLE)
    if positions == 1:
        return np.array([(low + high) // 2])
    return np.round(np.linspace(low, high, positions)).astype(np.int64)


def max_positions(size: int) -> int:
    """The most positions per axis that stay at least a quarter pixel apart."""
    r = max_radius(size)
    return math.floor((size - 1 - r) * SUPERSAMPLE) - math.ceil((r + 1) * SUPERSAMPLE) + 1


def inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether the points ``(u, v)`` (unit-disk coordinates, v up) lie in shape ``shape``."""
    disk = u * u + v * v <= 1.0
    if shape == 0:
        half = 1.0 / math.sqrt(2.0)
        return disk & (np.abs(u) <= half) & (np.abs(v) <= half)
    if shape == 1:
        w = v / _ELLIPSE_MINOR
        return disk & (u * u + w * w <= 1.0)
    # plain products (no pow from the C library), so every platform computes the same bits
    x = u * _HEART_SCALE
    y = v * _HEART_SCALE + _HEART_SHIFT
    t = x * x + y * y - 1.0
    return disk & (t * t * t - x * x * y * y * y <= 0.0)


def _windows(shape: int, radius: float, angle: float, half: int) -> np.ndarray:
    """The binary pixel windows of one (shape, scale, rotation) for each quarter-pixel phase:
    uint8 ``[4, 4, 2 * half + 1, 2 * half + 1]`` indexed ``[phase_y, phase_x, row, col]``;
    the window's top-left pixel lies ``half`` pixels left of and above the centre's pixel."""
    s = SUPERSAMPLE
    fine = 2 * half * s
    # offsets of the sample points from the centre, in pixels: (m + 0.5) / 4, m in [-L, L)
    d = (np.arange(fine) - half * s + 0.5) / s
    dx, dy = d[None, :], d[:, None]
    cos, sin = math.cos(angle), math.sin(angle)
    # turn the sample points back by the angle (y up) into the shape's own frame
    u = (cos * dx - sin * dy) / radius
    v = (-sin * dx - cos * dy) / radius
    mask = inside(shape, u, v).astype(np.uint8)
    side = 2 * half + 1
    padded = np.zeros((s, s, side * s, side * s), np.uint8)
    for py in range(s):
        for px in range(s):
            padded[py, px, py : py + fine, px : px + fine] = mask
    counts = padded.reshape(s, s, side, s, side, s).sum(axis=(3, 5))
    return np.where(2 * counts >= s * s, 255, 0).astype(np.uint8)


@functools.lru_cache(maxsize=2)
def render_grid(
    size: int, scales: int, rotations: int, positions: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every combination of the factors once: (uint8 images ``[n, size, size, 1]`` in {0, 255},
    int64 factor indices ``[n, 5]`` in the order of :data:`FACTOR_NAMES`), item ``k`` being
    the ``k``-th combination in row-major order (shape slowest, y position fastest). Cached per
    process (read-only arrays; index them to get copies)."""
    steps = centre_steps(size, positions)
    whole, phase = steps // SUPERSAMPLE, steps % SUPERSAMPLE
    half = math.ceil(max_radius(size)) + 1
    side = 2 * half + 1
    radii = max_radius(size) * (np.linspace(0.5, 1.0, scales) if scales > 1 else np.ones(1))
    grid = (len(SHAPES), scales, rotations, positions, positions)
    images = np.zeros((*grid, size, size), np.uint8)
    rows = np.arange(side)
    # canvas index of window pixel t at centre pixel q: q + t (the canvas has `half` margin)
    row_index = (whole[:, None] + rows)[None, :, :, None]  # [1, y, side, 1]
    col_index = (whole[:, None] + rows)[:, None, None, :]  # [x, 1, 1, side]
    ix, iy = np.meshgrid(np.arange(positions), np.arange(positions), indexing="ij")
    canvas = np.zeros((positions, positions, size + 2 * half + 1, size + 2 * half + 1), np.uint8)
    for shape in range(len(SHAPES)):
        for k, radius in enumerate(radii):
            for t in range(rotations):
                windows = _windows(shape, float(radius), 2 * math.pi * t / rotations, half)
                chosen = windows[phase[iy], phase[ix]]  # [x, y, side, side]
                canvas[:] = 0
                canvas[ix[:, :, None, None], iy[:, :, None, None], row_index, col_index] = chosen
                images[shape, k, t] = canvas[:, :, half : half + size, half : half + size]
    factors = np.indices(grid).reshape(len(grid), -1).T.astype(np.int64)
    images = images.reshape(-1, size, size, 1)
    images.setflags(write=False)
    factors.setflags(write=False)
    return images, factors
