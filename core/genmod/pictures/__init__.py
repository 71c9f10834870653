"""Layer 9, pictures: what a run shows a person.

Owns image grids (grey or colour), PNG/GIF files and a quick scatter drawn with Pillow
(:mod:`~genmod.pictures.images`, no TensorFlow); the charts drawn with matplotlib, imported
only when one is drawn: latent-space scatter, learning curves, the evaluation's figure,
the aggregate over seeds (:mod:`~genmod.pictures.charts`, no TensorFlow); and the model's
pictures: samples, reconstructions, latent space, interpolations, traversals
(:mod:`~genmod.pictures.figures`, imports TensorFlow). May import contract, config, plugins,
data, model, runs and evaluate.

The names of the former ``genmod.pictures`` module (``grid``, ``save_png``, ...) are
re-exported here from :mod:`~genmod.pictures.images`.
"""

from genmod.pictures.images import LABEL_COLOURS, grid, save_gif, save_png, scatter, to_uint8

__all__ = ["LABEL_COLOURS", "grid", "save_gif", "save_png", "scatter", "to_uint8"]
