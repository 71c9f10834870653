"""The model card of an export: ``model-card.json`` and a readable ``README.md``.

The card says what the model is (resolved configuration, components and the plugins that
provide them, with versions), what it expects (data shape, preprocessing), how good it is (the
run's test metrics and ``evaluation.json``), what was used to make it (genmod and TensorFlow
versions), how to call it (the signatures, dtypes and shapes) and the sha256 of every file.
Imports TensorFlow (for its version).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import tensorflow as tf

import genmod
from genmod.contract.units import reports_bits_per_dim
from genmod.evaluate.run import EVALUATION_FILE
from genmod.export.checksums import CARD_FILE, card_digest, checksum_tree, export_entries
from genmod.export.savedmodel import TracedSignatures
from genmod.plugins import get_manager
from genmod.plugins.registry import KINDS
from genmod.runs import folder as rundir

#: bumped when the card's keys change meaning
CARD_FORMAT_VERSION = 1
README_FILE = "README.md"

_BINARIZATION = {
    "dynamic": "the run trained on x ~ Bernoulli(intensity), a fresh draw each epoch; feed "
    "images already binarized (0/1), e.g. tf.cast(uniform < x, float32)",
    "static": "the run trained on x = 1 where intensity > 0.5, else 0; feed images "
    "binarized that way",
    "none": "the run trained on the intensities themselves; feed them unchanged",
}


def _components(loaded) -> dict[str, dict[str, Any]]:
    """``{kind: {name, plugin, distribution, version, options}}`` for the run's components."""
    manager = get_manager()
    registry = manager.registry
    config = loaded.config.to_dict()
    out: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        name = config.get(kind)
        if not isinstance(name, str) or kind == "dataset" and not name:
            continue
        try:
            spec = registry.get(kind, name)
        except Exception:  # noqa: BLE001 - a kind a run does not name
            continue
        info = manager.infos.get(spec.plugin)
        out[kind] = {
            "name": name,
            "plugin": spec.plugin,
            "distribution": info.distribution if info else None,
            "version": info.version if info else None,
            "options": config.get(f"{kind}_options", {}),
        }
    return out


def _metrics(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    summary = rundir.read_summary(run_dir)
    final = summary.get("final") if isinstance(summary.get("final"), dict) else {}
    test = {k: v for k, v in final.items() if k.startswith("test_")}
    evaluation = None
    try:
        data = json.loads((run_dir / EVALUATION_FILE).read_text(encoding="utf-8"))
        evaluation = data if isinstance(data, dict) else None
    except (OSError, ValueError):
        pass
    return test, evaluation


def build_card(loaded, traced: TracedSignatures, *, fmt: str, part: str) -> dict[str, Any]:
    """The card's content, without the ``files`` table (added by :func:`write_card`)."""
    model = loaded.model
    test, evaluation = _metrics(loaded.run_dir)
    binarize = loaded.binarize
    card: dict[str, Any] = {
        "card_format_version": CARD_FORMAT_VERSION,
        "format": fmt,
        "part": part,
        "run": str(Path(loaded.run_dir).resolve()),
        "genmod_version": genmod.__version__,
        "tensorflow_version": tf.__version__,
        "trained_with_genmod": loaded.meta.get("genmod_version"),
        "config": loaded.config.to_dict(),
        "components": _components(loaded),
        "data": {
            "dataset": loaded.config.dataset,
            "shape": list(model.data_shape),
            "dtype": "float32",
            "scaling": "uint8 pixels k are divided by 255 into [0, 1]; floats are used as given",
            "binarization": binarize,
            "binarization_meaning": _BINARIZATION.get(binarize, binarize),
            "likelihood_support": getattr(model.likelihood, "support", None),
            "bits_per_dim_reported": reports_bits_per_dim(getattr(model.likelihood, "support", "")),
            "condition_dim": int(model.condition_dim),
            "condition": "one-hot labels, float32 [batch, condition_dim]"
            if model.condition_dim
            else None,
        },
        "latent_dim": int(model.latent_dim),
        "test_metrics": test,
        "evaluation": evaluation,
        "signatures": {
            name: {
                "inputs": [asdict(s) for s in traced.inputs[name]],
                "outputs": [asdict(s) for s in traced.outputs[name]],
            }
            for name in traced.functions
        },
        "units": "log-probabilities and ELBO in nats per data item",
    }
    return card


def _shape(shape: list[int | None]) -> str:
    return "[" + ", ".join("None" if d is None else str(d) for d in shape) + "]"


def readme_text(card: dict[str, Any]) -> str:
    """A readable README.md of the card (everything but the config and file tables in
    prose and small tables)."""
    data = card["data"]
    files = ", ".join(f"`{f}` (signature `{s}`)" for s, f in card.get("model_files", {}).items())
    deterministic = (
        "no random draws: `encode` gives q(z|x)'s parameters and location, not a sample."
    )
    if card["format"] == "tflite":
        how = (
            f"Run it with a TFLite interpreter (LiteRT): {files}; "
            f"`interpreter.get_signature_runner(name)`. Built-in TFLite operations only, "
            f"{deterministic}"
        )
    elif card["format"] == "onnx":
        how = (
            f"Run it with any ONNX runtime (opset {card['onnx_opset']}): {files}; inputs and "
            f"outputs keep the signature's names. Standard ONNX operators only, {deterministic}"
        )
    else:
        how = (
            "Load it with plain TensorFlow: `tf.saved_model.load(this_folder)`; genmod, its "
            "plugins and TensorFlow Probability are not needed."
        )
    lines = [
        f"# genmod export ({card['format']}, part: {card['part']})",
        "",
        f"Exported from the run `{card['run']}` by genmod {card['genmod_version']} with "
        f"TensorFlow {card['tensorflow_version']}. {how}",
        "",
        "## Model",
        "",
        "| kind | name | plugin | version |",
        "| --- | --- | --- | --- |",
    ]
    for kind, comp in card["components"].items():
        plugin = comp["distribution"] or comp["plugin"]
        lines.append(f"| {kind} | {comp['name']} | {plugin} | {comp['version'] or '?'} |")
    lines += [
        "",
        f"Latent dimension: {card['latent_dim']}. The resolved configuration is in "
        f"`{CARD_FILE}` (`config`).",
        "",
        "## Data",
        "",
        f"- dataset: {data['dataset']}, one item float32 {_shape(data['shape'])}",
        f"- scaling: {data['scaling']}",
        f"- binarization: {data['binarization']}: {data['binarization_meaning']}",
    ]
    if data["condition_dim"]:
        lines.append(
            f"- conditional: every signature takes `y`, {data['condition']}, "
            f"condition_dim = {data['condition_dim']}"
        )
    lines += ["", "## Results (nats per item)", ""]
    if card["test_metrics"]:
        for key, value in card["test_metrics"].items():
            lines.append(
                f"- {key}: {value:.4f}" if isinstance(value, float) else f"- {key}: {value}"
            )
    else:
        lines.append("- no test metrics: the run's summary.json is missing or unreadable")
    evaluation = card.get("evaluation")
    if evaluation:
        lines.append(
            f"- IWAE test log p(x): {evaluation.get('log_likelihood')} with "
            f"K = {evaluation.get('num_samples')} importance samples over "
            f"{evaluation.get('test_size')} test images (evaluation.json)"
        )
    else:
        lines.append("- no evaluation.json (run `genmod evaluate RUN` before exporting)")
    lines += ["", "## Signatures", "", "| signature | inputs | outputs |", "| --- | --- | --- |"]
    for name, sig in card["signatures"].items():
        ins = ", ".join(f"`{s['name']}` {s['dtype']} {_shape(s['shape'])}" for s in sig["inputs"])
        outs = ", ".join(f"`{s['name']}` {s['dtype']} {_shape(s['shape'])}" for s in sig["outputs"])
        lines.append(f"| `{name}` | {ins} | {outs} |")
    lines += [
        "",
        "Random draws are stateless: the same `seed` (int32 [2]) gives the same numbers.",
        "",
        "## Checksums",
        "",
        f"`{CARD_FILE}` lists the sha256 of every other file; `genmod export --check "
        "THIS_FOLDER` verifies them.",
        "",
    ]
    return "\n".join(lines)


def write_card(folder: Path, card: dict[str, Any]) -> dict[str, Any]:
    """Write README.md, then model-card.json with the sha256 of every other file, the list
    of folders and the card's own ``card_sha256`` (:mod:`genmod.export.checksums`)."""
    folder = Path(folder)
    (folder / README_FILE).write_text(readme_text(card), encoding="utf-8")
    _, folders = export_entries(folder)
    card = {**card, "files": checksum_tree(folder, skip=(CARD_FILE,)), "folders": folders}
    card["card_sha256"] = card_digest(card)
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card
