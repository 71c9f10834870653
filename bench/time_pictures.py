"""Seconds spent drawing a run's pictures, on a loaded run (this machine; not a unit test).

python bench/time_pictures.py RUN_DIR DATA_DIR [--repeats N] [--no-final]

Prints the per-epoch pictures (64 prior samples, 16 reconstructions: what every epoch of
``genmod run`` draws) split in their two parts, as the best of N repeats after a warm-up that
traces the functions, then the final pictures once. For a likelihood whose pictures are samples
(``pixelcnn``) these times are dominated by its sequential sampler.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from genmod.api import load_run
from genmod.pictures import figures as visuals
from genmod.train import loop as runloop
from genmod_builtins.mnist_loader import MNIST

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("run_dir")
parser.add_argument("data_dir")
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--no-final", action="store_true", help="skip the final pictures")
args = parser.parse_args()

run = load_run(args.run_dir)
data = MNIST().load(Path(args.data_dir))
out = Path(tempfile.mkdtemp())
x, y = data.x_test[:16], data.y_test[:16]


def samples() -> None:
    visuals.samples_picture(run.model, out / "samples.png", seed=runloop.PICTURE_SEED)


def reconstructions() -> None:
    visuals.reconstruction_picture(run.model, x, y, out / "r.png", binarize=run.binarize, n=16)


def best(fn) -> float:
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


samples()  # the first calls trace functions
reconstructions()
s, r = best(samples), best(reconstructions)
print(f"likelihood {run.config.likelihood}, load average {os.getloadavg()[0]:.1f}")
print(f"per-epoch pictures: {s + r:.2f} s (64 samples {s:.2f} s, 16 reconstructions {r:.2f} s)")
if not args.no_final:
    started = time.perf_counter()
    runloop.write_final_pictures(run.model, data, out, run.binarize)
    print(f"final pictures ({len(data.x_test)} test images): {time.perf_counter() - started:.2f} s")
