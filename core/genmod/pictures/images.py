"""Pictures a person can look at: image grids, animated GIFs and a quick scatter plot.

Pure numpy + Pillow (no TensorFlow, no matplotlib): images come in as float arrays in
``[0, 1]`` of shape ``[n, height, width, channels]`` with 1 channel (grey: mode "L" PNGs) or 3
(colour: mode "RGB" PNGs and colour GIFs). Every file is written
to a temporary name and renamed, so a kill leaves either the old picture or the new one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from genmod.config.toml import file_mode

#: ten colours that stay apart for the ten digit classes (Tableau 10)
LABEL_COLOURS = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float ``[0, 1]`` (values outside are clipped) -> uint8 ``[n, h, w, c]`` with c in 1, 3."""
    images = np.asarray(images, np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"expected images [n, h, w, 1 or 3], got shape {images.shape}")
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def grid(images: np.ndarray, columns: int, *, pad: int = 2, scale: int = 2) -> Image.Image:
    """Tile ``images`` row by row into one picture, ``columns`` per row, on a grey background.

    ``scale`` enlarges each pixel (nearest neighbour) so 28x28 digits are visible.
    """
    tiles = to_uint8(images)
    n, h, w, c = tiles.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    canvas = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 128, np.uint8)
    for i in range(n):
        r, k = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        canvas[top : top + h, left : left + w] = tiles[i]
    picture = Image.fromarray(canvas[..., 0] if c == 1 else canvas, "L" if c == 1 else "RGB")
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    return picture


def _atomic_save(path: Path, save) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.fchmod(fd, file_mode())
    os.close(fd)
    try:
        save(tmp)
        try:
            os.replace(tmp, path)
        except OSError as exc:  # name the file asked for, not the temporary one
            raise OSError(exc.errno, exc.strerror, str(path)) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def save_png(picture: Image.Image, path: Path) -> Path:
    """Write ``picture`` as PNG to ``path`` (atomically); returns the path."""
    return _atomic_save(path, lambda tmp: picture.save(tmp, format="PNG"))


def _palette_frames(images: list[Image.Image]) -> list[Image.Image]:
    """Frames in GIF's palette mode "P". Grey frames keep their 256 grey levels exactly; colour
    frames share one adaptive 256-colour palette (median cut over all frames, no dithering),
    so colours stay true and do not flicker from frame to frame. Deterministic."""
    if all(image.mode in ("L", "1") for image in images):
        return [image.convert("L").convert("P") for image in images]
    rgb = [image.convert("RGB") for image in images]
    width = max(image.width for image in rgb)
    strip = Image.new("RGB", (width, sum(image.height for image in rgb)))
    top = 0
    for image in rgb:
        strip.paste(image, (0, top))
        top += image.height
    palette = strip.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    return [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in rgb]


def save_gif(frames: Sequence[Path], path: Path, *, seconds_per_frame: float = 0.5) -> Path:
    """An animated GIF of the PNG ``frames`` (in order, looping forever); grey frames stay
    grey, colour frames stay in colour (see :func:`_palette_frames`)."""
    if not frames:
        raise ValueError("no frames for the GIF")
    opened = []
    for frame in frames:
        with Image.open(frame) as image:
            image.load()
            opened.append(image.copy())
    images = _palette_frames(opened)

    def save(tmp: str) -> None:
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=int(seconds_per_frame * 1000),
            loop=0,
            # Pillow's palette optimization gives a frame that uses other colours than the
            # first a trimmed local palette, which Pillow itself then reads back wrongly (grey
            # frames 0..127 then 128..255 came back as 0..127 twice); full palettes are exact
            optimize=False,
        )

    return _atomic_save(path, save)


def scatter(
    points: np.ndarray,
    labels: np.ndarray | None,
    *,
    size: int = 480,
    title: str = "",
    axis_names: tuple[str, str] = ("z1", "z2"),
) -> Image.Image:
    """A quick scatter plot of ``points`` ``[n, 2]`` coloured by integer ``labels`` ``[n]``
    (0..9), drawn with Pillow alone. A run's ``latent.png`` uses the matplotlib chart of
    :func:`genmod.pictures.charts.latent_scatter` instead (axes, legend, every point inside).

    The axes span the 0.5%-99.5% range of the points (outliers are drawn at the border), with a
    legend of the label colours on the right.
    """
    points = np.asarray(points, np.float64)
    margin, legend = 40, 70
    picture = Image.new("RGB", (size + legend, size), "white")
    draw = ImageDraw.Draw(picture)
    low = np.percentile(points, 0.5, axis=0)
    high = np.percentile(points, 99.5, axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    inner = size - 2 * margin
    xy = np.clip((points - low) / span, 0.0, 1.0)
    px = margin + xy[:, 0] * inner
    py = size - margin - xy[:, 1] * inner  # y grows upwards
    draw.rectangle([margin, margin, size - margin, size - margin], outline="black")
    colours = [
        LABEL_COLOURS[int(lbl) % len(LABEL_COLOURS)] if labels is not None else (31, 119, 180)
        for lbl in (labels if labels is not None else np.zeros(len(points), int))
    ]
    for x, y, colour in zip(px, py, colours, strict=True):
        draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=colour)
    draw.text((margin, 10), title, fill="black")
    draw.text((size // 2, size - margin + 12), axis_names[0], fill="black")
    draw.text((6, size // 2), axis_names[1], fill="black")
    draw.text((margin, size - margin + 2), f"{low[0]:.2g}", fill="black")
    draw.text((size - margin - 20, size - margin + 2), f"{high[0]:.2g}", fill="black")
    draw.text((4, size - margin - 12), f"{low[1]:.2g}", fill="black")
    draw.text((4, margin), f"{high[1]:.2g}", fill="black")
    if labels is not None:
        for i, value in enumerate(sorted({int(v) for v in labels})):
            top = margin + 18 * i
            colour = LABEL_COLOURS[value % len(LABEL_COLOURS)]
            draw.rectangle([size + 8, top, size + 20, top + 12], fill=colour)
            draw.text((size + 26, top), str(value), fill="black")
    return picture
