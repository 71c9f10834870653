"""`genmod evaluate`: importance-sampled test log-likelihood of a trained run."""

from __future__ import annotations

import json
from pathlib import Path

import click

from genmod.cli.common import (
    handle_errors,
    quiet_tensorflow,
    run_data_dir_option,
    run_interruptibly,
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
    data_dir: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Estimate the test log-likelihood log p(x) of a trained run with K importance samples.

    Uses the IWAE estimator log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x) with z_k ~ q(z|x)
    (Burda et al. 2015), and reports it next to the ELBO, its reconstruction and KL terms and
    the number of active latent units (Cov_x E_q[z_i] > 0.01), all in nats per test image
    (and in bits/dim for 8-bit likelihoods such as discretized-logistic).
    The results are printed and written to RUN_DIR/evaluation.json, with a figure of the
    per-image log p(x) and ELBO and of their gap in RUN_DIR/evaluation.png.
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
    from genmod.evaluate.run import evaluate_run
    from genmod.pictures.charts import save_evaluation_result

    with ProgressDisplay(progress_enabled(quiet=quiet or as_json), unit="images") as display:
        result = run_interruptibly(
            lambda: evaluate_run(
                Path(run_dir),
                num_samples=samples,
                batch_size=batch_size,
                chunk_size=chunk_size,
                memory_budget_mib=memory_budget,
                test_size=test_size,
                seed=seed,
                data_dir=data_dir,
                progress=lambda done, total: display.update(done, total, f"log p(x), K={samples}"),
                figure=save_evaluation_result,
            ),
            what="the evaluation",
        )
    if as_json:
        click.echo(json.dumps(result, indent=2))
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
