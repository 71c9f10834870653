"""One worker of a two-process MultiWorkerMirroredStrategy run (TF_CONFIG set by the caller).

Usage: python multiworker_check.py MNIST_DIR OUT_DIR. Trains a tiny MLP for one short epoch
through ``genmod.api.train`` and prints a JSON line with a fingerprint of the final weights.
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np

from genmod.api import train
from genmod.config import RunConfig


def main() -> None:
    mnist_dir, out_dir = sys.argv[1], sys.argv[2]
    config = RunConfig(
        encoder="mlp",
        encoder_options={"hidden": (32,)},
        decoder_options={"hidden": (32,)},
        latent_dim=4,
        epochs=1,
        batch_size=32,
        train_size=256,
        test_size=100,
        strategy="multiworker",
        steps_per_execution=4,
    )
    result = train(config, data_dir=mnist_dir, out_dir=out_dir)
    weights = [np.asarray(v.numpy()) for v in result.model.variables]
    digest = hashlib.sha256(b"".join(w.tobytes() for w in weights)).hexdigest()
    last = result.history[-1]
    print(json.dumps({"digest": digest, "train_loss": last["train_loss"], "step": last["step"]}))


if __name__ == "__main__":
    main()
