"""Layer 10, train: turning a built model and a run folder into a trained run.

Owns the optimizer steps (:mod:`~genmod.train.trainer`), the epoch loop with checkpoints,
resume and per-epoch outputs (:mod:`~genmod.train.loop`), the data splits
(:mod:`~genmod.train.splits`), signal handling (:mod:`~genmod.train.signals`), mixed precision
(:mod:`~genmod.train.precision`) and ``tf.distribute`` strategies
(:mod:`~genmod.train.distribute`). May import every layer below it (contract, config,
plugins, data, model, runs, evaluate, pictures). Its modules import TensorFlow.
"""
