"""A trained VAE as ONNX models: ``encoder.onnx`` (``encode``) and ``decoder.onnx``
(``decode``), converted with ``tf2onnx`` (the optional extra ``genmod[onnx]``).

The same deterministic signatures as TFLite (:data:`~genmod.export.savedmodel.
DETERMINISTIC_SIGNATURES`): ONNX's random generators cannot reproduce TensorFlow's seeded
stateless draws, so ``encode`` gives q(z|x)'s parameters and location without a sample and
there is no ``sample`` or ``elbo``. Every node of a converted graph must be a standard ONNX
operator (domain ``ai.onnx``) and none may be a random generator; otherwise the signature is
refused, its components and the TensorFlow operations tf2onnx could not convert named,
before anything is written. Imports TensorFlow and, when called, tf2onnx and onnx.
"""

from __future__ import annotations

import logging
from typing import Any

from genmod.contract.errors import ConfigError
from genmod.export.savedmodel import (
    DETERMINISTIC_SIGNATURES,
    ExportFailed,
    TracedSignatures,
    component_names,
)

#: signature -> the file it is written to
ONNX_FILES = {"encode": "encoder.onnx", "decode": "decoder.onnx"}
#: the ONNX operator set the files use (ONNX Runtime >= 1.13 runs it)
ONNX_OPSET = 17
_STANDARD_DOMAINS = ("", "ai.onnx")
_RANDOM_OPS = ("RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike")


def require_tf2onnx():
    """``(tf2onnx, onnx.TensorProto)``; :class:`ConfigError` naming the extra when missing."""
    try:
        import tf2onnx
        from onnx import TensorProto
    except ImportError:  # either package
        raise ConfigError(
            "--format onnx needs tf2onnx and onnx, which genmod does not install by default; "
            "install them with `pip install 'genmod[onnx]'` (or use --format savedmodel or "
            "tflite)."
        ) from None
    return tf2onnx, TensorProto


def _broadcast_args_handler(tensor_proto):
    """A tf2onnx handler for TensorFlow's ``BroadcastArgs`` (the broadcast of two shape
    vectors), which tf2onnx 1.17 lacks and TensorFlow Probability's distributions emit when
    they compute a batch shape: the shape of a zero tensor of shape ``s0`` expanded to
    ``s1``, which ONNX's ``Expand`` broadcasts numpy-style."""

    def handler(ctx, node, name, args):
        s0, s1 = node.input
        shapes, dtypes = node.output_shapes, node.output_dtypes
        cast0 = ctx.make_node("Cast", [s0], attr={"to": tensor_proto.INT64})
        cast1 = ctx.make_node("Cast", [s1], attr={"to": tensor_proto.INT64})
        zeros = ctx.make_node("ConstantOfShape", [cast0.output[0]])
        expanded = ctx.make_node("Expand", [zeros.output[0], cast1.output[0]])
        shape = ctx.make_node("Shape", [expanded.output[0]])
        ctx.remove_node(node.name)
        ctx.make_node(
            "Cast",
            [shape.output[0]],
            attr={"to": dtypes[0]},
            name=node.name,
            outputs=node.output,
            shapes=shapes,
            dtypes=dtypes,
        )

    return handler


class _Traced:
    """tf2onnx's ``from_function`` asks its argument for ``get_concrete_function``; this
    hands it the function :func:`~genmod.export.savedmodel.trace_signatures` traced, so the
    ONNX graph is the very graph the SavedModel and TFLite exports hold."""

    def __init__(self, concrete):
        self._concrete = concrete

    def get_concrete_function(self, *_signature):
        return self._concrete


def _nodes(graph):
    """Every node of an ONNX graph, those of loop and branch bodies included."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            for body in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
                yield from _nodes(body)


def _refusal(proto) -> str | None:
    from onnx import defs

    nodes = list(_nodes(proto.graph))
    # tf2onnx leaves an operation it cannot convert in the graph under its TensorFlow name
    foreign = sorted(
        {n.op_type for n in nodes if n.domain not in _STANDARD_DOMAINS or not defs.has(n.op_type)}
    )
    if foreign:
        return f"tf2onnx has no ONNX conversion for {', '.join(foreign)}"
    random = sorted({n.op_type for n in nodes if n.op_type in _RANDOM_OPS})
    if random:
        return (
            f"it draws random numbers ({', '.join(random)}), which ONNX cannot reproduce "
            "from TensorFlow's seeds"
        )
    return None


def convert_onnx(model, traced: TracedSignatures) -> dict[str, bytes]:
    """``{file name: serialized ONNX model}`` for the deterministic signatures in ``traced``.

    Inputs and outputs keep the SavedModel signature's names (``x``/``z``[, ``y``];
    ``params``, ``location``/``mean``) and the free batch dimension. Raises
    :class:`ConfigError` when tf2onnx is not installed and :class:`ExportFailed` naming the
    signature, its components and the unconvertible operations.
    """
    tf2onnx, tensor_proto = require_tf2onnx()
    handlers = {"BroadcastArgs": (_broadcast_args_handler(tensor_proto), [])}
    out: dict[str, bytes] = {}
    tf2onnx_logger = logging.getLogger("tf2onnx")
    level = tf2onnx_logger.level
    tf2onnx_logger.setLevel(logging.CRITICAL)  # its "Unsupported ops" lines: the refusal says it
    try:
        for name, concrete in traced.functions.items():
            out[ONNX_FILES[name]] = _convert_one(tf2onnx, handlers, model, name, concrete)
    finally:
        tf2onnx_logger.setLevel(level)
    return out


def _convert_one(tf2onnx, handlers, model, name: str, concrete) -> bytes:
    specs: list[Any] = [s for s in concrete.structured_input_signature[0] if s is not None]
    try:
        proto, _ = tf2onnx.convert.from_function(
            _Traced(concrete),
            input_signature=specs,
            opset=ONNX_OPSET,
            custom_op_handlers=dict(handlers),
        )
        reason = _refusal(proto)
    except Exception as exc:  # noqa: BLE001 - the converter's errors have many types
        reason = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:300]}"
    if reason:
        where = DETERMINISTIC_SIGNATURES[name][2]
        raise ExportFailed(
            f"the {name!r} signature cannot be converted to ONNX "
            f"({component_names(model, where)}): {reason}; export it with --format "
            "savedmodel instead."
        )
    return proto.SerializeToString()
