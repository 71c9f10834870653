"""Throughput of `genmod evaluate`'s estimator: importance samples per second, per model.

    python bench/eval_speed.py --data-dir /work/shared/data/mnist
    python bench/eval_speed.py --data-dir PATH --models cnn,mlp --variants default,xla
    python bench/eval_speed.py --data-dir PATH --models cnn --threads 1,2

For each model (``--models``; ``cnn-pixelcnn`` only when the likelihood ``pixelcnn`` is
registered, see ``genmod plugins``) the script builds the default MNIST model with that
encoder, posterior, prior or likelihood through :func:`genmod.api.build`, **untrained**: the
work of scoring a sample does not depend on the weights, so neither does the speed. It
estimates log p(x) of the first ``--test-size`` dynamically binarized MNIST test images with
K importance samples (per-model defaults, scaled by ``--scale``) under each variant
(``--variants``) and prints importance samples per second (images x K / seconds):

* ``default``: :func:`genmod.evaluate.loglik.evaluate_log_likelihood` as it is, a whole
  call: ``--batch-size`` images per batch, chunks from the default memory budget (512 MiB),
  and the tracing and memory estimate that every call does once;
* ``graph``: its per-batch function, made once here (same seeds, batches and chunks) and
  called on every batch: the steady state of a long evaluation. The variants below change
  one thing each in it and are compared with it:
* ``budget-128``, ``budget-2048``: chunks from a 4x smaller or larger memory budget;
* ``batch-50``, ``batch-200``: other batch sizes under the default budget;
* ``xla``: ``tf.function(jit_compile=True)``, compiled before the timing;
* ``fused-bernoulli``: a Bernoulli log-density in three ops, ``-sum softplus((1 - 2x) l)``,
  in place of TFP's (models with the ``bernoulli`` likelihood only);
* ``baseline``: ``iwae_log_likelihood`` as it was at the git revision ``--baseline`` (not
  in the defaults; 094ba7b is the code before the prior was built once per batch).

Timed calls alternate between the variants and are repeated (``--repeats``), as in
``bench/throughput.py``: each variant's best rate is printed, with the median, minimum and
maximum of its paired ratios (its rate over the rate of the variant named in ``vs`` in the
same repeat), so that bursts of load from other processes do not decide a ratio;
``cpu_ratio_median`` is the same median for the process's CPU seconds, which other processes
disturb less (while they hold the cores, this one waits without counting).
``max_rel_diff`` is the largest relative difference of a variant's per-image estimates from
those of ``vs`` (of the means, against ``default``): other chunks or batches draw other
samples (a stateless seed per chunk and batch), so only variants with the same chunks can
agree to round-off. ``full_protocol_h`` extrapolates the rate to K = 5000 over all 10,000
test images, without the few seconds each call spends tracing once. A model takes one to two
minutes with the default variants on two loaded cores.

``--check`` instead compares the working tree's estimator with the one at ``--baseline``
(default ``HEAD``) on the same untrained models, images and seeds: the means of
``evaluate_log_likelihood`` (log-likelihood, ELBO, reconstruction, KL) and every per-image
log-likelihood must agree to 1e-4 (relative); it exits with 1 where they do not.

``--threads 1,2`` instead runs the ``graph`` variant in child processes with each
intra-op thread count (TensorFlow fixes it at start-up), alternating, and prints the paired
ratios. One JSON line per model and variant is printed; ``--json FILE`` writes them all.
docs/performance.md ("Evaluation throughput") has the numbers.
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from genmod.api import RunConfig, build  # noqa: E402
from genmod.contract.errors import ConfigError  # noqa: E402
from genmod.evaluate.loglik import (  # noqa: E402
    binarized_test_set,
    chunk_size_for_budget,
    evaluate_log_likelihood,
    iwae_log_likelihood,
    working_memory,
)
from genmod.plugins import get_registry  # noqa: E402
from genmod_builtins.mnist_loader import MNIST  # noqa: E402

#: model name -> (RunConfig fields, K, images, batch size): calls of about a second on two
#: loaded cores. A pixelcnn sample needs ~20 MB, so batches of 25 under the 512 MiB default.
MODELS = {
    "cnn": (dict(encoder="cnn"), 50, 100, 100),
    "mlp": (dict(encoder="mlp"), 800, 100, 100),
    "residual": (dict(encoder="residual"), 25, 100, 100),
    "cnn-iaf": (dict(encoder="cnn", posterior="iaf"), 50, 100, 100),
    "cnn-vampprior": (dict(encoder="cnn", prior="vampprior"), 40, 100, 100),
    "mlp-vampprior": (dict(encoder="mlp", prior="vampprior"), 200, 100, 100),
    "cnn-pixelcnn": (dict(encoder="cnn", likelihood="pixelcnn"), 10, 50, 25),
}
DEFAULT_MODELS = "cnn,mlp,residual,cnn-iaf,cnn-pixelcnn"
VARIANTS = [
    "default",
    "graph",
    "budget-128",
    "budget-2048",
    "batch-50",
    "batch-200",
    "xla",
    "fused-bernoulli",
    "baseline",
]
DEFAULT_VARIANTS = "default,graph,budget-128,budget-2048,batch-50,xla,fused-bernoulli"
#: the literature's protocol: K = 5000 samples for each of the 10,000 MNIST test images
FULL_PROTOCOL_SAMPLES = 5000 * 10_000
SEED = 0
#: old and new estimates must agree this closely (relative), i.e. to float32 round-off
CHECK_RTOL = 1e-4


class _Wrapped:
    """The model with some methods replaced; everything else is the model's."""

    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        return getattr(self._model, name)


class _FusedBernoulli:
    def __init__(self, logits):
        self.logits = logits

    def log_prob(self, x):
        # log Bernoulli(x; sigmoid(l)) = -softplus(-l) for x = 1 and -softplus(l) for x = 0
        sign = 1.0 - 2.0 * tf.convert_to_tensor(x, tf.float32)
        return -tf.reduce_sum(tf.nn.softplus(sign * self.logits), axis=[-3, -2, -1])


class FusedBernoulli(_Wrapped):
    """``observation(z)`` whose ``log_prob`` is the Bernoulli log-density of binary images in
    three element-wise passes (TFP's takes about eight)."""

    def observation(self, z, condition=None):
        return _FusedBernoulli(self._model.decoder.decode(z, condition)[..., 0])


def graph_function(model, *, num_samples, chunk_size, jit_compile, estimator=None):
    """The per-batch function of ``evaluate_log_likelihood`` (same seeds), made once;
    ``estimator``: ``iwae_log_likelihood`` or another version of it."""
    estimator = estimator or iwae_log_likelihood

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def batch_estimates(x, batch_index):
        out = estimator(
            model,
            x,
            None,
            num_samples=num_samples,
            chunk_size=chunk_size,
            seed=tf.stack([tf.constant(SEED + 1, tf.int32), batch_index]),
        )
        out.pop("kl_analytic")
        return out

    return batch_estimates


def per_image(function, data: np.ndarray, batch_size: int) -> np.ndarray:
    """A :func:`graph_function`'s log-likelihoods of ``data``, batch by batch (float64)."""
    parts = []
    for b, start in enumerate(range(0, len(data), batch_size)):
        x = tf.constant(data[start : start + batch_size])
        parts.append(function(x, tf.constant(b, tf.int32))["log_likelihood"].numpy())
    return np.concatenate(parts).astype(np.float64)


def baseline_module(rev: str):
    """``genmod.evaluate.loglik`` as it was at git revision ``rev`` of this repository (written
    to a temporary file and imported from there, so that autograph finds its source)."""
    path = "core/genmod/evaluate/loglik.py"
    source = subprocess.run(
        ["git", "show", f"{rev}:{path}"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="eval_speed_baseline_"))
    atexit.register(shutil.rmtree, folder, True)
    (folder / "loglik_baseline.py").write_text(source)
    spec = importlib.util.spec_from_file_location("loglik_baseline", folder / "loglik_baseline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def make_variants(model, images, *, samples, batch_size, names, baseline=None):
    """variant -> function() returning ``(estimates, info)``: the per-image log-likelihoods
    for the variants timed through the per-batch function, the mean log-likelihood (what
    ``evaluate_log_likelihood`` returns) for the others."""
    n = len(images)
    memory = working_memory(model)

    def through_evaluate():
        def call():
            result = evaluate_log_likelihood(
                model,
                images,
                None,
                binarize="dynamic",
                num_samples=samples,
                batch_size=batch_size,
                seed=SEED,
            )
            return np.asarray([result["log_likelihood"]]), result

        return call

    def through_graph(m=model, *, budget=512, batch=batch_size, jit_compile=False, estimator=None):
        batch = min(batch, n)
        # the chunks of the model itself (a wrapper would change the traced memory estimate)
        chunk = min(chunk_size_for_budget(memory, batch, budget), samples)
        data = binarized_test_set(images, binarize="dynamic", batch_size=500, seed=SEED)
        function = graph_function(
            m, num_samples=samples, chunk_size=chunk, jit_compile=jit_compile, estimator=estimator
        )

        def call():
            return per_image(function, data, batch), {"chunk_size": chunk, "batch_size": batch}

        return call

    bernoulli = type(getattr(model, "likelihood", None)).__name__ == "BernoulliLikelihood"
    table = {
        "default": lambda: through_evaluate(),
        "graph": lambda: through_graph(),
        "budget-128": lambda: through_graph(budget=128),
        "budget-2048": lambda: through_graph(budget=2048),
        "batch-50": lambda: through_graph(batch=50),
        "batch-200": lambda: through_graph(batch=200),
        "xla": lambda: through_graph(jit_compile=True),
        "fused-bernoulli": (lambda: through_graph(FusedBernoulli(model))) if bernoulli else None,
        "baseline": (
            (lambda: through_graph(estimator=baseline.iwae_log_likelihood)) if baseline else None
        ),
    }
    variants = {}
    for variant in names:
        try:
            if table[variant] is not None:
                variants[variant] = table[variant]()
        except ConfigError as error:  # e.g. a batch too large for the budget
            print(f"skipping {variant}: {error}", flush=True)
    return variants


def base_of(variant: str, measured) -> str | None:
    """The variant a variant's ratio is taken against: ``default`` for ``graph`` (the cost of
    tracing per call), ``graph`` for the others (the same steady state, one change each)."""
    base = "default" if variant in ("default", "graph") else "graph"
    return base if base in measured else None


def measure(name: str, args) -> list[dict]:
    fields, samples, test_size, batch_size = MODELS[name]
    samples = max(1, round(samples * args.scale)) if args.samples is None else args.samples
    test_size = args.test_size or test_size
    batch_size = args.batch_size or batch_size
    images = MNIST().load(args.data_dir).x_test[:test_size]
    model = build(RunConfig(**fields))
    variants = make_variants(
        model,
        images,
        samples=samples,
        batch_size=batch_size,
        names=args.variants,
        baseline=args.baseline_module,
    )
    # One untimed call per variant: its estimate for the comparison, and the warm-up (XLA
    # compiles here).
    values, info = {}, {}
    for variant, call in variants.items():
        started = time.perf_counter()
        values[variant], info[variant] = call()
        info[variant]["first_call_s"] = round(time.perf_counter() - started, 2)
    rates: dict[str, list[float]] = {variant: [] for variant in variants}
    cpu: dict[str, list[float]] = {variant: [] for variant in variants}  # process seconds
    order = list(variants)
    for repeat in range(args.repeats):
        for variant in order if repeat % 2 == 0 else order[::-1]:
            started, cpu_started = time.perf_counter(), time.process_time()
            variants[variant]()
            rates[variant].append(len(images) * samples / (time.perf_counter() - started))
            cpu[variant].append(time.process_time() - cpu_started)
    rows = []
    for variant in variants:
        base = base_of(variant, variants)
        row = {
            "model": name,
            "variant": variant,
            "images": len(images),
            "samples_k": samples,
            "batch_size": info[variant]["batch_size"],
            "chunk_size": info[variant]["chunk_size"],
            "samples_per_s": round(max(rates[variant]), 1),
            "first_call_s": info[variant]["first_call_s"],
            "log_likelihood": round(float(np.mean(values[variant])), 4),
        }
        if base is not None:
            paired = sorted(np.asarray(rates[variant]) / np.asarray(rates[base]))
            row["vs"] = base
            row["paired_ratio_median"] = round(float(np.median(paired)), 3)
            row["paired_ratio_min"] = round(float(paired[0]), 3)
            row["paired_ratio_max"] = round(float(paired[-1]), 3)
            cpu_paired = np.asarray(cpu[base]) / np.asarray(cpu[variant])
            row["cpu_ratio_median"] = round(float(np.median(cpu_paired)), 3)
            mine, theirs = values[variant], values[base]
            if mine.shape != theirs.shape:  # per image against a mean: compare the means
                mine, theirs = np.mean(mine, keepdims=True), np.mean(theirs, keepdims=True)
            row["max_rel_diff"] = float(f"{np.max(np.abs(mine - theirs) / np.abs(theirs)):.3g}")
        if variant in ("default", "graph"):
            # K = 5000 x 10,000 images at this rate; from ``graph``, the tracing that each
            # call of the estimator pays once (a few seconds) is left out
            row["full_protocol_h"] = round(FULL_PROTOCOL_SAMPLES / max(rates[variant]) / 3600, 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def check_against_baseline(args) -> list[dict]:
    """The estimator at ``--baseline`` and the working tree's, on the same model, images and
    seed: every mean (evaluate_log_likelihood) and every per-image log-likelihood (the
    per-batch function) must agree within ``CHECK_RTOL``; exits 1 where one does not."""
    old = args.baseline_module
    rows, failed = [], False
    for name in args.models:
        fields, samples, test_size, batch_size = MODELS[name]
        samples = args.samples or max(1, round(samples * args.scale))
        batch_size = args.batch_size or batch_size
        images = MNIST().load(args.data_dir).x_test[: args.test_size or test_size]
        model = build(RunConfig(**fields))
        options = dict(binarize="dynamic", num_samples=samples, batch_size=batch_size, seed=SEED)
        means = {
            "new": evaluate_log_likelihood(model, images, None, **options),
            "old": old.evaluate_log_likelihood(model, images, None, **options),
        }
        row = {"model": name, "samples_k": samples, "images": len(images), "rev": args.baseline}
        for key in ("log_likelihood", "elbo", "reconstruction", "kl"):
            new, before = means["new"][key], means["old"][key]
            row[f"{key}_rel_diff"] = float(f"{abs(new - before) / abs(before):.3g}")
        chunk = means["new"]["chunk_size"]
        assert chunk == means["old"]["chunk_size"], "the chunk size changed"
        data = binarized_test_set(images, binarize="dynamic", batch_size=500, seed=SEED)
        new, before = (
            per_image(
                graph_function(
                    model, num_samples=samples, chunk_size=chunk, jit_compile=False, estimator=e
                ),
                data,
                batch_size,
            )
            for e in (iwae_log_likelihood, old.iwae_log_likelihood)
        )
        row["per_image_max_rel_diff"] = float(
            f"{np.max(np.abs(new - before) / np.abs(before)):.3g}"
        )
        row["ok"] = all(v <= CHECK_RTOL for k, v in row.items() if k.endswith("rel_diff"))
        failed |= not row["ok"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    if failed:
        sys.exit(1)
    return rows


def compare_threads(args) -> list[dict]:
    """The ``graph`` variant in child processes with each intra-op thread count, alternating."""
    counts = [int(t) for t in args.threads.split(",")]
    rows = []
    for name in args.models:
        rates: dict[int, list[float]] = {t: [] for t in counts}
        for repeat in range(args.repeats):
            for threads in counts if repeat % 2 == 0 else counts[::-1]:
                argv = [sys.executable, os.path.abspath(__file__), "--models", name]
                argv += ["--variants", "graph", "--repeats", "1", "--scale", str(args.scale)]
                argv += ["--intra-op-threads", str(threads)]
                if args.data_dir:
                    argv += ["--data-dir", args.data_dir]
                for flag in ("samples", "test_size", "batch_size"):
                    if getattr(args, flag) is not None:
                        argv += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
                out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
                row = json.loads(out.strip().splitlines()[-1])
                rates[threads].append(row["samples_per_s"])
        base = np.asarray(rates[counts[-1]])
        for threads in counts:
            paired = sorted(np.asarray(rates[threads]) / base)
            row = {
                "model": name,
                "intra_op_threads": threads,
                "samples_per_s": round(max(rates[threads]), 1),
                f"paired_ratio_vs_{counts[-1]}_median": round(float(np.median(paired)), 3),
                "paired_ratio_min": round(float(paired[0]), 3),
                "paired_ratio_max": round(float(paired[-1]), 3),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Prints one JSON line per model and variant; see the module docstring.",
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("GENMOD_DATA_DIR"),
        help="folder with the MNIST IDX files (env GENMOD_DATA_DIR)",
    )
    parser.add_argument(
        "--models",
        default=DEFAULT_MODELS,
        type=lambda s: s.split(","),
        help=f"comma-separated, of {', '.join(MODELS)} (default {DEFAULT_MODELS})",
    )
    parser.add_argument(
        "--variants",
        default=DEFAULT_VARIANTS,
        type=lambda s: s.split(","),
        help=f"comma-separated, of {', '.join(VARIANTS)} (default {DEFAULT_VARIANTS})",
    )
    parser.add_argument("--samples", type=int, help="K for every model (default: per model)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the per-model K")
    parser.add_argument("--test-size", type=int, help="test images (default: per model)")
    parser.add_argument("--batch-size", type=int, help="images per batch (default: per model)")
    parser.add_argument("--repeats", type=int, default=8, help="timed calls per variant")
    parser.add_argument(
        "--threads", help="compare these intra-op thread counts (e.g. 1,2) in child processes"
    )
    parser.add_argument(
        "--baseline",
        default="HEAD",
        metavar="REV",
        help="git revision whose estimator the variant 'baseline' and --check run (default HEAD)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="only check that the working tree's estimates equal --baseline's to 1e-4 (relative)",
    )
    parser.add_argument("--intra-op-threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", help="write all rows to this file")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.models) - set(MODELS)) + sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown models or variants: {', '.join(unknown)}")
    if args.intra_op_threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op_threads)
    likelihoods = get_registry().names("likelihood")
    if "cnn-pixelcnn" in args.models and "pixelcnn" not in likelihoods:
        print("the likelihood pixelcnn is not registered: skipping cnn-pixelcnn", flush=True)
        args.models = [m for m in args.models if m != "cnn-pixelcnn"]
    args.baseline_module = None
    if args.check or "baseline" in args.variants:
        args.baseline_module = baseline_module(args.baseline)
    if args.check:
        rows = check_against_baseline(args)
    elif args.threads:
        rows = compare_threads(args)
    else:
        print(
            f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU(s), load "
            f"{os.getloadavg()[0]:.2f}, intra-op threads "
            f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}",
            flush=True,
        )
        rows = [row for name in args.models for row in measure(name, args)]
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"argv": sys.argv[1:], "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
