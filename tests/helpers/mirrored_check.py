"""Run in a fresh process: one SGD step of genmod's Trainer on one device and mirrored over two
logical CPU devices, same batch, same initial weights. Prints a JSON report on the last line.

Logical devices must be configured before TensorFlow initialises, hence a separate process.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tensorflow as tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
)

import keras  # noqa: E402

from genmod.config import RunConfig  # noqa: E402
from genmod.contract.components import Objective, ObjectiveOutput  # noqa: E402
from genmod.contract.errors import ConfigError  # noqa: E402
from genmod.model.assembly import build_model  # noqa: E402
from genmod.plugins import get_registry  # noqa: E402
from genmod.train.trainer import Trainer  # noqa: E402


class DeterministicELBO(Objective):
    """The ELBO with z at the posterior mean: no sampling noise, so one device and two replicas
    must give the same numbers for the same batch."""

    def __call__(self, model, x, condition=None, *, seed, step):
        q = model.posterior(x, condition)
        reconstruction = model.observation(q.mean(), condition).log_prob(x)
        kl = q.kl_divergence(model.prior_distribution())
        elbo = tf.reduce_mean(reconstruction - kl)
        return ObjectiveOutput(
            -elbo,
            {
                "loss": -elbo,
                "elbo": elbo,
                "reconstruction": tf.reduce_mean(reconstruction),
                "kl": tf.reduce_mean(kl),
            },
        )


def one_step(strategy, encoder: str, images: np.ndarray, batch: int):
    config = RunConfig(
        encoder=encoder,
        latent_dim=4,
        encoder_options={"hidden": (32,)} if encoder == "mlp" else {"filters": (4, 8)},
        decoder_options={"hidden": (32,)} if encoder == "mlp" else {"filters": (8, 4)},
    ).resolve(get_registry())
    keras.utils.set_random_seed(0)
    with strategy.scope() if strategy is not None else _null():
        model = build_model(config, get_registry(), images.shape[1:]).model
    trainer = Trainer(
        model,
        DeterministicELBO(),
        images,
        None,
        binarize="static",
        batch_size=batch,
        learning_rate=1e-3,
        seed=0,
        steps_per_execution=1,
        strategy=strategy,
    )
    # Plain SGD with rate 1: the weight change is minus the gradient (Adam would hide a wrong
    # gradient scale, being invariant to it).
    with strategy.scope() if strategy is not None else _null():
        trainer.optimizer = keras.optimizers.SGD(1.0)
        trainer.optimizer.build(trainer.variables)
    before = [v.numpy().copy() for v in trainer.variables]
    metrics = trainer.train_epoch()
    grads = [b - v.numpy() for b, v in zip(before, trainer.variables, strict=True)]
    return metrics, grads, trainer.num_replicas


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def main() -> None:
    rng = np.random.default_rng(0)
    batch = 16
    images = rng.integers(0, 256, size=(batch, 28, 28, 1), dtype=np.uint8)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    report = {}
    for encoder in sys.argv[1:] or ["mlp"]:
        single_metrics, single_grads, _ = one_step(None, encoder, images, batch)
        multi_metrics, multi_grads, replicas = one_step(mirrored, encoder, images, batch)
        grad_diff = max(
            float(np.max(np.abs(a - b)) / (np.max(np.abs(a)) + 1e-12))
            for a, b in zip(single_grads, multi_grads, strict=True)
        )
        report[encoder] = {
            "replicas": replicas,
            "single": single_metrics,
            "mirrored": multi_metrics,
            "max_relative_grad_diff": grad_diff,
            "grad_norm": float(np.sqrt(sum(float(np.sum(g**2)) for g in single_grads))),
        }
    try:  # a global batch that two replicas cannot share evenly is refused
        one_step(mirrored, "mlp", images[:15], 15)
        report["odd_batch_error"] = None
    except ConfigError as exc:
        report["odd_batch_error"] = str(exc)
    try:
        images16 = images[:16]
        with mirrored.scope():
            config = RunConfig(encoder="mlp", encoder_options={"hidden": (8,)})
            assembled = build_model(config.resolve(get_registry()), get_registry(), (28, 28, 1))
        Trainer(
            assembled.model,
            assembled.objective,
            images16,
            None,
            binarize="static",
            batch_size=16,
            learning_rate=1e-3,
            seed=0,
            strategy=mirrored,
            jit_compile=True,
        )
        report["jit_error"] = None
    except ConfigError as exc:
        report["jit_error"] = str(exc)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
