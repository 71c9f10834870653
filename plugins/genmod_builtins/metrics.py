"""The built-in evaluation components (hooks only, no numpy or TensorFlow imported here).

Metrics (``genmod evaluate --metric NAME``): the likelihood metrics
(:mod:`genmod_builtins.likelihood_metrics`), sample quality
(:mod:`genmod_builtins.sample_quality_metrics`) and disentanglement
(:mod:`genmod_builtins.disentanglement_metrics`); feature extractors (``--extractor``):
``inception-v3`` (:mod:`genmod_builtins.inception_extractor`) and ``domain-classifier``
(:mod:`genmod_builtins.domain_classifier`); latent samplers (``--sampler``): ``prior`` and
``gmm`` (:mod:`genmod_builtins.samplers_impl`). docs/metrics.md describes each one.
"""

from genmod import hookimpl
from genmod.contract.options import Option


def _iwae_options() -> list[Option]:
    return [
        Option("samples", "int", 1000, "importance samples K per test image", min=1, max=2**31 - 1),
        Option("batch_size", "int", 100, "test images per batch", min=1, max=1_000_000),
        Option(
            "chunk_size",
            "int",
            0,
            "importance samples decoded at once (0: derived from memory_budget_mib)",
            min=0,
        ),
        Option(
            "memory_budget_mib",
            "float",
            0.0,
            "working memory for decoding samples, MiB (0: 512 unless chunk_size is set)",
            min=0.0,
        ),
    ]


def _sample_options() -> list[Option]:
    return [
        Option(
            "samples",
            "int",
            10_000,
            "generated samples compared with the test set",
            min=2,
            max=10_000_000,
        ),
        Option("real_items", "int", 0, "test images compared (0: all)", min=0, max=10_000_000),
    ]


_ITEMS = Option(
    "items",
    "str",
    "all",
    "which items' codes are scored: all (training and test split, as disentanglement_lib "
    "does) or test",
    choices=("all", "test"),
)
_TEST_SHARE = Option(
    "test_share",
    "float",
    0.33,
    "share of the items the classifiers are scored on",
    min=0.05,
    max=0.95,
)
_MAX_ITEMS = Option(
    "max_items", "int", 10_000, "at most this many items (a seeded draw)", min=2, max=10_000_000
)


@hookimpl
def register_metrics(register):
    register(
        "log-likelihood",
        "genmod_builtins.likelihood_metrics:LogLikelihoodMetric",
        description="test log p(x) and NLL by importance sampling (IWAE bound, K samples), "
        "nats (bits/dim for 8-bit data)",
        options=_iwae_options(),
    )
    register(
        "elbo",
        "genmod_builtins.likelihood_metrics:ELBOMetric",
        description="test ELBO, reconstruction and KL (nats), from the same pass as "
        "log-likelihood when K agrees",
        options=_iwae_options(),
    )
    register(
        "active-units",
        "genmod_builtins.likelihood_metrics:ActiveUnitsMetric",
        description="latent dimensions whose posterior mean varies over the test set "
        "(Burda et al.)",
        options=[
            Option("threshold", "float", 0.01, "variance above which a unit is active", min=0.0)
        ],
    )
    register(
        "mutual-information",
        "genmod_builtins.likelihood_metrics:MutualInformationMetric",
        description="I(x; z) under the encoder, nats (ELBO surgery; posterior collapse shows "
        "as ~0)",
        options=[
            Option(
                "max_items", "int", 2000, "test images used (cost grows as N^2)", min=2, max=100_000
            )
        ],
    )
    register(
        "fid",
        "genmod_builtins.sample_quality_metrics:FIDMetric",
        description="Fréchet distance between features of generated and test images "
        "(Heusel et al. 2017)",
        options=_sample_options(),
    )
    register(
        "kid",
        "genmod_builtins.sample_quality_metrics:KIDMetric",
        description="kernel inception distance, unbiased MMD^2 with a cubic kernel "
        "(Bińkowski et al. 2018)",
        options=[
            *_sample_options(),
            Option("subsets", "int", 100, "random subsets averaged", min=1, max=100_000),
            Option("subset_size", "int", 1000, "items per subset", min=2, max=1_000_000),
        ],
    )
    register(
        "precision-recall",
        "genmod_builtins.sample_quality_metrics:PrecisionRecallMetric",
        description="improved precision and recall of generated images, k-NN manifolds "
        "(Kynkäänniemi et al. 2019)",
        options=[*_sample_options(), Option("k", "int", 3, "nearest neighbours", min=1, max=1000)],
    )
    register(
        "mig",
        "genmod_builtins.disentanglement_metrics:MIGMetric",
        description="mutual information gap between codes and ground-truth factors "
        "(Chen et al. 2018)",
        options=[
            _ITEMS,
            _MAX_ITEMS,
            Option("bins", "int", 20, "equal-width bins per code dimension", min=2, max=10_000),
        ],
    )
    register(
        "dci",
        "genmod_builtins.disentanglement_metrics:DCIMetric",
        description="disentanglement, completeness, informativeness from per-factor "
        "classifiers (Eastwood & Williams 2018)",
        options=[
            _ITEMS,
            _MAX_ITEMS,
            _TEST_SHARE,
            Option(
                "regressor",
                "str",
                "gradient-boosting",
                "importance model per factor",
                choices=("gradient-boosting", "random-forest"),
            ),
        ],
    )
    register(
        "sap",
        "genmod_builtins.disentanglement_metrics:SAPMetric",
        description="separated attribute predictability: gap between the two most "
        "predictive code dimensions (Kumar et al. 2018)",
        options=[
            _ITEMS,
            _MAX_ITEMS,
            _TEST_SHARE,
        ],
    )
    register(
        "factor-vae",
        "genmod_builtins.disentanglement_metrics:FactorVAEMetric",
        description="FactorVAE score: majority-vote accuracy of the least-varying code "
        "dimension under a fixed factor (Kim & Mnih 2018)",
        options=[
            _ITEMS,
            Option("batch_size", "int", 64, "items per vote", min=2, max=100_000),
            Option(
                "train_votes",
                "int",
                10_000,
                "votes the classifier is built from",
                min=1,
                max=10_000_000,
            ),
            Option("eval_votes", "int", 5000, "votes it is scored on", min=1, max=10_000_000),
            Option(
                "prune_threshold",
                "float",
                0.05,
                "standard deviation below which a code dimension is inactive",
                min=0.0,
            ),
        ],
    )


@hookimpl
def register_extractors(register):
    register(
        "inception-v3",
        "genmod_builtins.inception_extractor:InceptionV3Extractor",
        description="2048 pool features of Keras' ImageNet Inception-v3 (colour images; "
        "weights from a file or the Keras cache)",
        options=[
            Option("weights", "str", "", "the weights file (empty: the Keras cache)"),
            Option("download", "bool", True, "download the weights when not cached"),
        ],
    )
    register(
        "domain-classifier",
        "genmod_builtins.domain_classifier:DomainClassifierExtractor",
        description="penultimate features of a small CNN classifier of the dataset, trained "
        "once (seeded), stored with its sha256 and reused",
        options=[
            Option("epochs", "int", 5, "training passes over the training split", min=1, max=1000),
            Option("seed", "int", 0, "seed of its initial weights and batch order", min=0),
            Option("feature_dims", "int", 128, "size of the feature layer", min=2, max=65_536),
            Option("retrain", "bool", False, "train again even if a stored one matches"),
        ],
    )


@hookimpl
def register_samplers(register):
    register(
        "prior",
        "genmod_builtins.samplers_impl:PriorSampler",
        description="z ~ p(z), the model's prior (the default)",
    )
    register(
        "gmm",
        "genmod_builtins.samplers_impl:GaussianMixtureSampler",
        description="a Gaussian mixture fitted to the training codes after training "
        "(ex-post density estimation, Ghosh et al. 2020)",
        options=[
            Option("components", "int", 10, "mixture components", min=1, max=10_000),
            Option(
                "covariance",
                "str",
                "full",
                "covariance of each component",
                choices=("full", "diag"),
            ),
            Option("max_iterations", "int", 200, "EM iterations at most", min=1, max=1_000_000),
            Option("regularization", "float", 1e-6, "added to the covariances' diagonals", min=0.0),
        ],
    )
