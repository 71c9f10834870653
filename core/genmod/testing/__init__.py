"""Layer 11, testing: the conformance kit, checks a plugin author runs from pytest to prove a
component honours genmod's interface contract.

Owns :func:`check_component` (:mod:`~genmod.testing.components`), :func:`check_options`
(:mod:`~genmod.testing.options`) and :class:`ConformanceError`. May import every layer up to
and including train (it builds components the way ``genmod run`` does); only the CLI and the
API are above it.

The quickest use checks a registered component by kind and name, exactly as ``genmod run``
would build it (its factory string is imported, its options resolved)::

    from genmod.testing import check_component

    def test_my_encoder_conforms():
        check_component("encoder", "resnet", options={"channels": (8, 16)})

``check_component`` runs :func:`check_options` (defaults validate, values survive the command
line and the run's ``config.toml``, unknown options are refused) and then the kind's own check
(:func:`check_encoder`, :func:`check_decoder`, :func:`check_likelihood`, :func:`check_prior`,
:func:`check_posterior`, :func:`check_objective`, :func:`check_dataset`; for the evaluation
kinds :func:`check_metric`, :func:`check_extractor`, :func:`check_sampler`, in
:mod:`~genmod.testing.evaluation`). Those take a zero-argument ``build`` callable returning a
fresh component, so classes can also be checked before they are registered. A failed check
raises :class:`ConformanceError` (an ``AssertionError``), whose message says which rule was
broken. Metrics are computed on a :class:`SyntheticContext` (small numpy data) or, for those
that need the model, on :func:`model_context` (a tiny untrained VAE on the same data).

Importing this package does not import TensorFlow; the component checks do.
"""

from genmod.testing.errors import ConformanceError
from genmod.testing.options import check_options

#: the checks of metrics, feature extractors and latent samplers (genmod.testing.evaluation)
_EVALUATION = (
    "SyntheticContext",
    "check_extractor",
    "check_metric",
    "check_sampler",
    "extractor_data",
    "model_context",
    "synthetic_data",
)

__all__ = [
    "ConformanceError",
    "check_component",
    "check_dataset",
    "check_decoder",
    "check_encoder",
    "check_likelihood",
    "check_likelihood_normalised",
    "check_objective",
    "check_observer",
    "check_options",
    "check_posterior",
    "check_prior",
    "check_prior_normalised",
    *_EVALUATION,
]


def __getattr__(name: str):
    # The TensorFlow-backed checks are imported on first use, so `import genmod.testing` is cheap.
    if name in _EVALUATION:
        from genmod.testing import evaluation

        return getattr(evaluation, name)
    if name in __all__:
        from genmod.testing import components

        return getattr(components, name)
    raise AttributeError(f"module 'genmod.testing' has no attribute {name!r}")
