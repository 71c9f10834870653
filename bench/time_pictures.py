"""Seconds spent drawing a run's pictures, on a loaded run (this machine; not a unit test).

python bench/time_pictures.py RUN_DIR DATA_DIR
"""

import sys
import tempfile
import time
from pathlib import Path

from genmod.api import load_run
from genmod.pictures.images import figures as visuals
from genmod.train import loop as runloop
from genmod_builtins.mnist_loader import MNIST

run = load_run(sys.argv[1])
data = MNIST().load(Path(sys.argv[2]))
out = Path(tempfile.mkdtemp())
visuals.samples_picture(run.model, out / "warm-up.png")  # the first call traces functions
started = time.perf_counter()
visuals.samples_picture(run.model, out / "samples.png", seed=runloop.PICTURE_SEED)
visuals.reconstruction_picture(
    run.model, data.x_test[:16], data.y_test[:16], out / "r.png", binarize=run.binarize, n=16
)
print(f"per-epoch pictures: {time.perf_counter() - started:.2f} s")
started = time.perf_counter()
runloop.write_final_pictures(run.model, data, out, run.binarize)
print(f"final pictures ({len(data.x_test)} test images): {time.perf_counter() - started:.2f} s")
