"""Use a `genmod export` with plain TensorFlow: encode, decode, sample and score images.

    python use_export.py EXPORT_DIR INPUTS.npz OUTPUTS.npz

INPUTS.npz holds `x` (float32 [batch, *data_shape], in [0, 1], binarized as the model card
says), `z` (float32 [batch, latent_dim]) and, for a conditional model, `y` (one-hot float32
[batch, condition_dim]). OUTPUTS.npz gets one array per signature output, named
"signature/output". Only TensorFlow and NumPy are imported: no genmod, no plugins, no
TensorFlow Probability.
"""

import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf


def main(export_dir: str, inputs_file: str, outputs_file: str) -> None:
    card = json.loads((Path(export_dir) / "model-card.json").read_text())
    model = tf.saved_model.load(export_dir)
    inputs = np.load(inputs_file)
    conditional = card["data"]["condition_dim"] > 0
    label = {"y": tf.constant(inputs["y"], tf.float32)} if conditional else {}
    seed = tf.constant([1, 2], tf.int32)  # any two int32: the same seed, the same draws
    x = tf.constant(inputs["x"], tf.float32)
    outputs = {}

    def keep(name, result):
        for key, value in result.items():
            outputs[f"{name}/{key}"] = value.numpy()

    signatures = model.signatures
    if "encode" in signatures:  # x -> posterior parameters, its mean and one sample
        keep("encode", signatures["encode"](x=x, seed=seed, **label))
    if "decode" in signatures:  # z -> likelihood parameters and their mean (the picture)
        keep("decode", signatures["decode"](z=tf.constant(inputs["z"], tf.float32), **label))
    if "sample" in signatures:  # n new images from the prior
        n = tf.constant(x.shape[0], tf.int32)
        keep("sample", signatures["sample"](n=n, seed=seed, **label))
    if "elbo" in signatures:  # a score per image: the ELBO, a lower bound on log p(x), nats
        keep("elbo", signatures["elbo"](x=x, seed=seed, **label))
    np.savez(outputs_file, **outputs)
    print(f"{len(outputs)} outputs of {', '.join(signatures)} written to {outputs_file}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
