"""Layer 7, evaluate: measuring a model on test data.

Owns the test-set ELBO (:mod:`~genmod.evaluate.elbo`), the importance-sampled log-likelihood
with its memory budget (:mod:`~genmod.evaluate.loglik`), posterior-collapse measures
(:mod:`~genmod.evaluate.collapse`), and the metric machinery of ``genmod evaluate``: choosing,
checking and recording metrics (:mod:`~genmod.evaluate.suite`), the inputs they share
(:mod:`~genmod.evaluate.context`), the feature extractor and latent sampler they use
(:mod:`~genmod.evaluate.extractors`, :mod:`~genmod.evaluate.samplers`, which also saves a
sampler's fit in the run folder), the software a number came from
(:mod:`~genmod.evaluate.provenance`) and ``evaluation.json`` (:mod:`~genmod.evaluate.run`).
The statistics under the sample-quality and disentanglement metrics are public and numpy
only: FID, KID and precision/recall (:mod:`~genmod.evaluate.sample_quality`), MIG, DCI, SAP
and the FactorVAE score (:mod:`~genmod.evaluate.disentanglement`, whose classifiers come from
scikit-learn). May import contract, config, plugins, data, model and runs.
"""
