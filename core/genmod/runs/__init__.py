"""Layer 6, runs: the run folder on disk and what reads it back.

Owns the folder's files and crash-safe writes (:mod:`~genmod.runs.folder`), checkpoints
(:mod:`~genmod.runs.checkpoints`), TensorBoard events (:mod:`~genmod.runs.tensorboard`),
loading a trained run (:mod:`~genmod.runs.loading`), the lock that allows one writer per
run folder (:mod:`~genmod.runs.lock`), the folder as a trust boundary
(:mod:`~genmod.runs.trust`), the evaluated values of several runs side by side
(:mod:`~genmod.runs.compare`) and grouped and averaged over seeds
(:mod:`~genmod.runs.aggregate`). Its ``config.toml`` belongs to :mod:`genmod.config`.
May import contract, config, plugins, data and model; ``folder``, ``lock``, ``trust``,
``compare``, ``aggregate`` and ``tensorboard`` import no TensorFlow.
"""
