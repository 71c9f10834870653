"""Layer 13, studies: sweeps over run configurations (``genmod sweep``, docs/studies.md).

Owns the study file and its expansion into named, fully resolved runs (:mod:`~genmod.studies.plan`),
the study folder's record of that plan, ``study.json``, and the rule that one folder holds one plan
(:mod:`~genmod.studies.record`), the state of each run read from its folder and the sweep's
record of attempts (:mod:`~genmod.studies.state`), the executors that start the runs
(:mod:`~genmod.studies.executors`: the interface, the choice and their options;
:mod:`~genmod.studies.launch`: one attempt at a run, shared by all; :mod:`~genmod.studies.local`:
a pool of local processes; :mod:`~genmod.studies.cluster`: the loop of the cluster executors,
:mod:`~genmod.studies.slurm` through submitit and :mod:`~genmod.studies.ray_cluster` on Ray, whose
engines are optional extras imported only when such an executor is built) and the sweep
itself (:mod:`~genmod.studies.sweep`: lock, reconcile, launch, report). May import the layers
from contract to api (in practice contract, config, plugins and the TensorFlow-free modules of
runs). Nothing here imports TensorFlow: a sweep only plans and launches ``genmod run`` and
``genmod resume`` processes, which do the training.
"""
