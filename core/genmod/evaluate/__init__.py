"""Layer 7, evaluate: measuring a model on test data.

Owns the test-set ELBO (:mod:`~genmod.evaluate.elbo`), the importance-sampled log-likelihood
with its memory budget (:mod:`~genmod.evaluate.loglik`), posterior-collapse measures
(:mod:`~genmod.evaluate.collapse`), evaluating a finished run into ``evaluation.json``
(:mod:`~genmod.evaluate.run`), and the statistics that sample-quality and disentanglement
metrics are built on: FID, KID and precision/recall between feature sets
(:mod:`~genmod.evaluate.sample_quality`) and MIG (:mod:`~genmod.evaluate.disentanglement`).
May import contract, config, plugins, data, model and runs. Most of its modules import
TensorFlow; ``sample_quality`` and ``disentanglement`` are numpy only.
"""
