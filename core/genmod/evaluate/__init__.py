"""Layer 7, evaluate: measuring a model on test data.

Owns the test-set ELBO (:mod:`~genmod.evaluate.elbo`), the importance-sampled log-likelihood
with its memory budget (:mod:`~genmod.evaluate.loglik`) and evaluating a finished run into
``evaluation.json`` (:mod:`~genmod.evaluate.run`). May import contract, config, plugins, data,
model and runs. Its modules import TensorFlow.
"""
