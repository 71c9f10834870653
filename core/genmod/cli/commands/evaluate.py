"""`genmod evaluate`: metrics of a trained run (by default its test log-likelihood)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from genmod.cli.common import (
    handle_errors,
    quiet_tensorflow,
    run_data_dir_option,
    run_interruptibly,
    sampler_options,
)
from genmod.cli.progress import ProgressDisplay, progress_enabled


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--samples",
    "-k",
    type=int,
    default=1000,
    show_default=True,
    help="Importance samples K per test image (the literature uses 5000; cost grows "
    "linearly with K).",
)
@click.option(
    "--batch-size",
    type=int,
    default=100,
    show_default=True,
    help="Test images per batch.",
)
@click.option(
    "--memory-budget",
    type=float,
    default=None,
    metavar="MIB",
    help="Working memory for decoding importance samples, in MiB; the chunk size is derived "
    "from it and the model (default: 512 unless --chunk-size is given).",
)
@click.option(
    "--chunk-size",
    type=int,
    default=None,
    help="Importance samples decoded at once per image, instead of a --memory-budget: "
    "memory grows with batch-size x chunk-size, never with K.",
)
@click.option(
    "--test-size",
    type=int,
    default=None,
    help="Use only the first N test images (default: the whole test set).",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed of the test binarization and the importance samples (default: the run's "
    "eval seed, so the images are those of its test ELBO).",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME",
    help="A metric to compute (repeatable): log-likelihood, elbo, active-units, "
    "mutual-information, fid, kid, precision-recall, mig, dci, sap, factor-vae, or a plugin's "
    "(`genmod plugins`). Default: log-likelihood, elbo, active-units, mutual-information.",
)
@click.option(
    "--metric-opt",
    "metric_opts",
    multiple=True,
    metavar="[NAME.]KEY=VALUE",
    help="A metric's option, e.g. fid.samples=5000; without NAME, for every chosen metric "
    "that has KEY (repeatable).",
)
@click.option(
    "--extractor",
    default="auto",
    show_default=True,
    metavar="NAME",
    help="Feature extractor of fid, kid and precision-recall: inception-v3, "
    "domain-classifier, or a plugin's; auto: inception-v3 for colour images, "
    "domain-classifier for grey ones.",
)
@click.option(
    "--extractor-opt",
    "extractor_opts",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the extractor, e.g. weights=PATH (repeatable).",
)
@sampler_options
@run_data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@handle_errors
def evaluate(
    run_dir: str,
    samples: int,
    batch_size: int,
    memory_budget: float | None,
    chunk_size: int | None,
    test_size: int | None,
    seed: int | None,
    metrics: tuple[str, ...],
    metric_opts: tuple[str, ...],
    extractor: str,
    extractor_opts: tuple[str, ...],
    sampler: str,
    sampler_opts: tuple[str, ...],
    data_dir: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Measure a trained run with metrics, each value recorded with the method behind it.

    Without --metric: the test log-likelihood log p(x) by the IWAE estimator
    log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x) with z_k ~ q(z|x) (Burda et al. 2015), the ELBO
    with its reconstruction and KL terms, the active latent units (Cov_x E_q[z_i] > 0.01) and
    I(x; z), in nats per test image (and bits/dim for 8-bit likelihoods). --metric chooses
    others: sample quality (fid, kid, precision-recall, on the --extractor's features of
    samples drawn through the --sampler) and disentanglement (mig, dci, sap, factor-vae, on
    datasets with ground-truth factors). --samples, --batch-size, --chunk-size and
    --memory-budget set the options of log-likelihood and elbo. docs/metrics.md describes
    every metric.

    The values are printed and written to RUN_DIR/evaluation.json (after each metric, each
    value with its unit and method: estimator, counts, seeds, images, extractor and sampler,
    library versions), with a figure of the per-image log p(x) and ELBO in
    RUN_DIR/evaluation.png when the log-likelihood was computed.
    """
    quiet_tensorflow()  # before genmod.evaluate.loglik, which imports TensorFlow
    from genmod.contract.errors import ConfigError
    from genmod.evaluate.loglik import check_chunking, check_num_samples

    check_num_samples(samples)
    check_num_samples(batch_size, "--batch-size")
    check_chunking(chunk_size, memory_budget)
    if test_size is not None and test_size < 1:
        raise ConfigError(f"--test-size got {test_size}; it must be an integer >= 1.")
    if seed is not None and not 0 <= seed < 2**31 - 1:
        raise ConfigError(f"--seed got {seed}; it must be in [0, 2^31 - 1).")
    from genmod.contract.options import parse_assignments
    from genmod.evaluate.run import evaluate_run
    from genmod.evaluate.suite import DEFAULT_METRICS, parse_metric_options
    from genmod.pictures.charts import save_evaluation_result

    chosen = list(metrics) or list(DEFAULT_METRICS)
    stage = {"label": "evaluating"}

    def on_stage(label: str) -> None:
        stage["label"] = f"log p(x), K={samples}" if label == "metric log-likelihood" else label

    with ProgressDisplay(progress_enabled(quiet=quiet or as_json), unit="items") as display:
        result = run_interruptibly(
            lambda: evaluate_run(
                Path(run_dir),
                metrics=chosen,
                metric_options=parse_metric_options(metric_opts),
                extractor=extractor,
                extractor_options=parse_assignments(extractor_opts, "--extractor-opt"),
                sampler=sampler,
                sampler_options=parse_assignments(sampler_opts, "--sampler-opt"),
                num_samples=samples,
                batch_size=batch_size,
                chunk_size=chunk_size,
                memory_budget_mib=memory_budget,
                test_size=test_size,
                seed=seed,
                data_dir=data_dir,
                progress=lambda done, total: display.update(done, total, stage["label"]),
                on_stage=on_stage,
                figure=save_evaluation_result,
                from_strings=True,
            ),
            what="the evaluation",
            message="Interrupted: the evaluation stopped; evaluation.json holds the metrics "
            "that finished before it (if any).",
        )
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    if set(chosen) != set(DEFAULT_METRICS):
        click.echo(values_text(result, chosen))
        click.echo(f"written to {Path(run_dir) / 'evaluation.json'}")
        return
    kl_kind = "analytic" if result["kl_analytic"] else "Monte Carlo"
    bits, elbo_bits = "", ""
    if "bits_per_dim" in result:  # 8-bit data (genmod.contract.units)
        bits = f", {result['bits_per_dim']:.3f} bits/dim"
        elbo_bits = f", {result['elbo_bits_per_dim']:.3f} bits/dim"
    click.echo(
        f"test log p(x) {result['log_likelihood']:.2f} nats{bits} (IWAE, "
        f"K={result['num_samples']}, {result['test_size']} images; NLL {result['nll']:.2f})\n"
        f"test ELBO {result['elbo']:.2f} nats{elbo_bits} (reconstruction "
        f"{result['reconstruction']:.2f}, "
        f"KL {result['kl']:.2f}, {kl_kind})\n"
        f"active units {result['active_units']}/{result['latent_dim']} | "
        f"{result['chunk_size']} samples x {result['batch_size']} images per chunk, "
        f"~{result['working_memory_mib']:.0f} MiB | "
        f"{result['seconds']:.0f}s; written to {Path(run_dir) / 'evaluation.json'}"
        + (f" and {Path(run_dir) / result['figure']}" if result.get("figure") else "")
    )


def values_text(result: dict, metrics: list[str]) -> str:
    """The values of ``metrics`` in ``result`` (an evaluation record), one line each:
    ``fid  3.21 squared feature units  (fid, domain-classifier features, 10000 samples)``."""
    lines = []
    for name, record in result.get("values", {}).items():
        if record.get("metric") not in metrics:
            continue
        value = record.get("value")
        if isinstance(value, float):
            shown = f"{value:.4g}"
        elif isinstance(value, list):
            order = record.get("method", {}).get("order")
            shown_items = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in value]
            if isinstance(order, list) and len(order) == len(value):
                shown_items = [f"{k}={v}" for k, v in zip(order, shown_items, strict=True)]
            shown = "[" + ", ".join(shown_items) + "]"
        else:
            shown = str(value)
        method = record.get("method", {})
        notes = [record.get("metric", "")]
        extractor = method.get("extractor")
        if isinstance(extractor, dict):
            digest = str(extractor.get("weights_sha256") or "")[:8]
            notes.append(f"{extractor.get('name')} features" + (f" {digest}" if digest else ""))
        if "generated_samples" in method:
            notes.append(
                f"{method['generated_samples']} samples vs {method.get('real_items')} test images"
            )
        sampler = method.get("sampler")
        if isinstance(sampler, dict) and sampler.get("name") != "prior":
            notes.append(f"{sampler.get('name')} sampler")
        lines.append(f"{name}  {shown} {record.get('unit', '')}  ({', '.join(notes)})")
    return "\n".join(lines)
