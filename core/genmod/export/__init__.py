"""Layer 8, export: a trained run as files that work without genmod.

Owns the TensorFlow SavedModel with fixed signatures (:mod:`~genmod.export.savedmodel`), its
TFLite and ONNX conversions (:mod:`~genmod.export.tflite`, :mod:`~genmod.export.onnx`), the
model card and checksums written next to it (:mod:`~genmod.export.card`,
:mod:`~genmod.export.checksums`) and writing a whole export atomically
(:mod:`~genmod.export.run`). May import contract, config, plugins, data, model, runs and
evaluate. :mod:`~genmod.export.checksums` stays free of TensorFlow (``genmod export --check``);
the other modules import it.
"""

#: the export formats ``genmod export --format`` accepts
FORMATS = ("savedmodel", "tflite", "onnx")
#: the parts ``genmod export --part`` accepts
PARTS = ("all", "encoder", "decoder")
