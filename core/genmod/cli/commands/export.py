"""`genmod export`: a finished run as a SavedModel that loads with plain TensorFlow, and
`genmod export --check` of an export's checksums."""

from __future__ import annotations

import click

from genmod.cli.common import handle_errors, quiet_tensorflow
from genmod.export import FORMATS, PARTS


@click.command()
@click.argument("run_dir", required=False, type=click.Path(file_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(),
    default=None,
    help="Folder to write (must not exist). Default: RUN/export-FORMAT[-PART].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="savedmodel",
    show_default=True,
    help="Export format: a TensorFlow SavedModel with the signatures encode, decode, sample "
    "and elbo; tflite: encoder.tflite (encode without a sample) and decoder.tflite "
    "(decode), built-in TFLite operations only; onnx: encoder.onnx and decoder.onnx, the "
    "same two signatures as standard ONNX operators (needs pip install 'genmod[onnx]'; "
    "docs/export.md).",
)
@click.option(
    "--part",
    type=click.Choice(PARTS),
    default="all",
    show_default=True,
    help="What to export: all signatures, the encoder only (encode) or the decoder only "
    "(decode, sample).",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option(
    "--check",
    "check_dir",
    type=click.Path(),
    default=None,
    metavar="DIR",
    help="Verify the sha256 of every file of the export DIR against its model-card.json, "
    "instead of exporting.",
)
@handle_errors
def export(
    run_dir: str | None,
    out_dir: str | None,
    fmt: str,
    part: str,
    overwrite: bool,
    check_dir: str | None,
) -> None:
    """Export the trained model of RUN_DIR for use without genmod.

    Writes a TensorFlow SavedModel whose graphs hold TensorFlow operations only (it loads
    with `tf.saved_model.load`, without genmod, its plugins or TensorFlow Probability), or
    TFLite flatbuffers or ONNX models of the encoder and decoder (--format tflite|onnx),
    and a model card
    (model-card.json and README.md: configuration, components and versions, data
    preprocessing, test metrics, signatures, sha256 of every file). The export is written to
    a temporary folder and renamed into place, so a failed export leaves nothing behind.
    """
    from genmod.contract.errors import ConfigError

    if check_dir is not None:
        if run_dir is not None:
            raise ConfigError("give either RUN_DIR (to export) or --check DIR, not both.")
        from genmod.export.checksums import verify_export

        count = verify_export(check_dir)
        click.echo(f"{count} files verified in {check_dir}")
        return
    if run_dir is None:
        raise ConfigError("missing RUN_DIR: give the run folder to export (or --check DIR).")
    quiet_tensorflow()  # before genmod.export.run, which imports TensorFlow
    from genmod.export.checksums import CARD_FILE
    from genmod.export.run import export_run

    card = export_run(run_dir, out_dir, fmt=fmt, part=part, overwrite=overwrite)
    signatures = ", ".join(card["signatures"])
    click.echo(
        f"exported {part} of {run_dir} as {fmt} ({signatures}; {len(card['files'])} files and "
        f"{CARD_FILE}) to {card['out_dir']}"
    )
