"""The run configuration: every choice a run makes, validated without importing TensorFlow.

A :class:`RunConfig` is what ``genmod run`` builds from its options, what the run directory
records (``config.toml``) and what is enough to rebuild the model later.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genmod.contract.errors import ConfigError
from genmod.contract.options import resolve_options

if TYPE_CHECKING:  # the registry lives in a layer above; config only calls its methods
    from genmod.plugins.registry import Registry

#: accepted values of :attr:`RunConfig.binarize` (``auto``: from the likelihood's support)
BINARIZATIONS = ("auto", "dynamic", "static", "none")
#: accepted values of :attr:`RunConfig.precision` (Keras dtype policies)
#: (Keras dtype policies; ``auto``: chosen from the hardware when the run starts, see
#: :func:`genmod.train.precision.choose_precision`)
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
#: accepted values of :attr:`RunConfig.strategy` (``tf.distribute`` strategies)
STRATEGIES = ("default", "mirrored", "multiworker")  # see genmod.train.distribute
#: accepted values of :attr:`RunConfig.lr_schedule` (see genmod.train.schedules)
LR_SCHEDULES = ("constant", "exponential", "cosine", "plateau")
#: accepted values of :attr:`RunConfig.on_nonfinite`: what a step with a NaN or infinite loss
#: or gradient does (see genmod.train.trainer and docs/runs.md, "Numerical health")
NONFINITE_ACTIONS = ("stop", "skip")
#: the format version of the ``config.toml`` that this genmod writes
CONFIG_FORMAT_VERSION = 2  # 2: validation split, checkpoint position, pictures

#: component kind -> (name field, options field)
COMPONENT_FIELDS = {
    "dataset": ("dataset", "dataset_options"),
    "encoder": ("encoder", "encoder_options"),
    "decoder": ("decoder", "decoder_options"),
    "likelihood": ("likelihood", "likelihood_options"),
    "prior": ("prior", "prior_options"),
    "posterior": ("posterior", "posterior_options"),
    "objective": ("objective", "objective_options"),
}


@dataclass
class RunConfig:
    """Everything that defines a training run. Units: learning rate per step; sizes in items.

    Components, by registered name: ``dataset``, ``encoder``, ``decoder`` (``None``: the
    decoder named like the encoder), ``likelihood``, ``prior``, ``posterior``, ``objective``;
    each has a ``*_options`` dict of option values (typed values, or command-line strings with
    ``resolve(from_strings=True)``), checked against the component's declared
    :class:`genmod.contract.options.Option` list by :meth:`resolve`.

    Training: ``latent_dim`` (z has shape ``[batch, latent_dim]``), ``epochs``, ``batch_size``
    (items per optimizer step), ``learning_rate`` (Adam, per step), ``seed`` (weights and every
    sampled seed of the run; an int in ``[0, 2**31)``), ``binarize`` (one of
    :data:`BINARIZATIONS`), ``train_size`` / ``test_size`` (the first N items; ``None``: all),
    ``validation_size`` (items held out of the end of the training set; 0: none),
    ``steps_per_execution`` (optimizer steps per compiled call), ``checkpoints_to_keep``.
    Evaluation: ``eval_batch_size`` (items), ``eval_seed`` (the fixed seeds of the test ELBO).
    Speed and scale: ``precision`` (:data:`PRECISIONS`), ``strategy`` (:data:`STRATEGIES`),
    ``jit_compile`` (XLA). ``observers``: observer name -> its options.
    Schedules (:mod:`genmod.train.schedules`): ``lr_schedule`` (:data:`LR_SCHEDULES`),
    ``lr_decay_rate`` (the factor per ``lr_decay_epochs`` for ``exponential``, per reduction for
    ``plateau``), ``lr_decay_epochs`` (epochs of the decay; 0: the run's ``epochs``, fixed when
    the run starts), ``lr_min`` (the floor), ``lr_patience`` (``plateau``: epochs without a
    better validation ELBO before a reduction), ``early_stopping_patience`` (epochs without a
    better validation ELBO before the run stops; 0: never), ``clip_grad_norm`` (the largest
    global gradient norm; 0: no clipping).
    Numerical health: ``on_nonfinite`` (:data:`NONFINITE_ACTIONS`: ``stop`` ends the run at the
    first step whose loss or gradients are NaN or infinite; ``skip`` skips such steps and stops
    only after ``max_nonfinite_steps`` of them in a row). A non-finite step is never applied.
    """

    dataset: str = "mnist"
    encoder: str = "mlp"
    decoder: str | None = None  # None: the same family as the encoder
    likelihood: str = "bernoulli"
    prior: str = "normal"
    posterior: str = "diagonal"
    objective: str = "elbo"
    dataset_options: dict[str, Any] = field(default_factory=dict)
    encoder_options: dict[str, Any] = field(default_factory=dict)
    decoder_options: dict[str, Any] = field(default_factory=dict)
    likelihood_options: dict[str, Any] = field(default_factory=dict)
    prior_options: dict[str, Any] = field(default_factory=dict)
    posterior_options: dict[str, Any] = field(default_factory=dict)
    objective_options: dict[str, Any] = field(default_factory=dict)
    latent_dim: int = 16
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    seed: int = 0
    binarize: str = "auto"
    train_size: int | None = None  # None: the whole training set
    test_size: int | None = None  # None: the whole test set
    eval_batch_size: int = 500
    eval_seed: int = 0
    steps_per_execution: int = 50
    validation_size: int = 5000  # held out of the end of the training set; 0: no validation
    checkpoints_to_keep: int = 3  # the last N epoch checkpoints (the best one is kept apart)
    # Speed and scale (issue 5): see docs/performance.md.
    precision: str = "float32"
    strategy: str = "default"
    jit_compile: bool = False
    # Learning-rate schedules, early stopping, gradient clipping: see genmod.train.schedules.
    lr_schedule: str = "constant"
    lr_decay_rate: float = 0.5
    lr_decay_epochs: int = 0  # 0: the run's epochs (resolve() fixes the number)
    lr_min: float = 0.0
    lr_patience: int = 5
    early_stopping_patience: int = 0  # 0: never stop early
    clip_grad_norm: float = 0.0  # 0: no clipping
    # Numerical health: a non-finite step is never applied; stop at once, or skip it.
    on_nonfinite: str = "stop"
    max_nonfinite_steps: int = 3  # with "skip": consecutive non-finite steps before stopping
    # Run observers (issue: observers): name -> options, see genmod.contract.observers.
    # Not part of the model; old config.toml files without the table load as "none".
    observers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def validate_scalars(self) -> None:
        """Check every non-component field; raise :class:`ConfigError` naming the option."""

        def need(cond: bool, option: str, value: Any, rule: str) -> None:
            if not cond:
                raise ConfigError(f"--{option} got {value!r}; it must be {rule}.")

        def integer(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        need(
            integer(self.latent_dim) and self.latent_dim >= 1,
            "latent-dim",
            self.latent_dim,
            "an integer >= 1",
        )
        need(integer(self.epochs) and self.epochs >= 1, "epochs", self.epochs, "an integer >= 1")
        need(
            integer(self.batch_size) and self.batch_size >= 1,
            "batch-size",
            self.batch_size,
            "an integer >= 1",
        )
        need(
            isinstance(self.learning_rate, (int, float))
            and not isinstance(self.learning_rate, bool)
            and 0 < self.learning_rate < 10,
            "learning-rate",
            self.learning_rate,
            "a number in (0, 10)",
        )
        need(
            integer(self.seed) and 0 <= self.seed < 2**31,
            "seed",
            self.seed,
            "an integer in [0, 2^31)",
        )
        need(
            self.binarize in BINARIZATIONS,
            "binarize",
            self.binarize,
            "one of " + ", ".join(BINARIZATIONS),
        )
        for name in ("train_size", "test_size"):
            value = getattr(self, name)
            need(
                value is None or (integer(value) and value >= 1),
                name.replace("_", "-"),
                value,
                "an integer >= 1 (or left out for the whole set)",
            )
        need(
            integer(self.eval_batch_size) and self.eval_batch_size >= 1,
            "eval-batch-size",
            self.eval_batch_size,
            "an integer >= 1",
        )
        need(
            integer(self.steps_per_execution) and self.steps_per_execution >= 1,
            "steps-per-execution",
            self.steps_per_execution,
            "an integer >= 1",
        )
        need(
            integer(self.validation_size) and self.validation_size >= 0,
            "validation-size",
            self.validation_size,
            "an integer >= 0 (0: no validation split)",
        )
        need(
            integer(self.checkpoints_to_keep) and self.checkpoints_to_keep >= 1,
            "checkpoints-to-keep",
            self.checkpoints_to_keep,
            "an integer >= 1",
        )
        need(
            self.precision in PRECISIONS,
            "precision",
            self.precision,
            "one of " + ", ".join(PRECISIONS),
        )
        need(
            self.strategy in STRATEGIES,
            "strategy",
            self.strategy,
            "one of " + ", ".join(STRATEGIES),
        )
        need(isinstance(self.jit_compile, bool), "jit-compile", self.jit_compile, "true or false")
        self._validate_schedule(need, integer)
        need(
            isinstance(self.observers, dict)
            and all(
                isinstance(k, str) and k and isinstance(v, dict) for k, v in self.observers.items()
            ),
            "observer",
            self.observers,
            "a table of observer name -> table of options",
        )
        for name in ("dataset", "encoder", "likelihood", "prior", "posterior", "objective"):
            need(
                isinstance(getattr(self, name), str) and getattr(self, name) != "",
                name,
                getattr(self, name),
                "a component name",
            )

    def _validate_schedule(self, need, integer) -> None:
        def number(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v

        need(
            self.lr_schedule in LR_SCHEDULES,
            "lr-schedule",
            self.lr_schedule,
            "one of " + ", ".join(LR_SCHEDULES),
        )
        need(
            number(self.lr_decay_rate) and 0 < self.lr_decay_rate < 1,
            "lr-decay-rate",
            self.lr_decay_rate,
            "a number in (0, 1) (the factor the learning rate is multiplied by)",
        )
        need(
            integer(self.lr_decay_epochs) and self.lr_decay_epochs >= 0,
            "lr-decay-epochs",
            self.lr_decay_epochs,
            "an integer >= 0 (0: the run's --epochs)",
        )
        need(
            number(self.lr_min) and 0 <= self.lr_min < self.learning_rate,
            "lr-min",
            self.lr_min,
            f"a number in [0, --learning-rate {self.learning_rate!r})",
        )
        need(
            integer(self.lr_patience) and self.lr_patience >= 1,
            "lr-patience",
            self.lr_patience,
            "an integer >= 1 (epochs)",
        )
        need(
            integer(self.early_stopping_patience) and self.early_stopping_patience >= 0,
            "early-stopping",
            self.early_stopping_patience,
            "an integer >= 0 (epochs without a better validation ELBO; 0: never stop early)",
        )
        need(
            number(self.clip_grad_norm) and 0 <= self.clip_grad_norm < float("inf"),
            "clip-grad-norm",
            self.clip_grad_norm,
            "a finite number >= 0 (0: no clipping)",
        )
        need(
            self.on_nonfinite in NONFINITE_ACTIONS,
            "on-nonfinite",
            self.on_nonfinite,
            "one of " + ", ".join(NONFINITE_ACTIONS),
        )
        need(
            integer(self.max_nonfinite_steps) and self.max_nonfinite_steps >= 1,
            "max-nonfinite-steps",
            self.max_nonfinite_steps,
            "an integer >= 1 (consecutive non-finite steps before the run stops)",
        )
        needs_validation = [
            option
            for option, used in (
                ("--lr-schedule plateau", self.lr_schedule == "plateau"),
                ("--early-stopping", self.early_stopping_patience > 0),
            )
            if used
        ]
        if needs_validation and self.validation_size == 0:
            raise ConfigError(
                f"{' and '.join(needs_validation)} watch the validation ELBO, but "
                "--validation-size is 0; give a validation split (for example "
                "--validation-size 5000, the default)."
            )

    def resolve(
        self,
        registry: Registry,
        *,
        from_strings: bool = False,
        drop_unknown_observers: bool = False,
    ) -> RunConfig:
        """A copy with the decoder chosen and every component option checked and defaulted.

        Unknown component names and options raise :class:`ConfigError` listing what exists.
        ``from_strings`` parses option values given as command-line strings. Observers are
        checked the same way, except that ``drop_unknown_observers`` leaves out those no
        installed plugin provides (for an existing run, whose observer plugin may be gone).
        """
        self.validate_scalars()
        resolved = dataclasses.replace(self)
        if resolved.decoder is None:
            registry.get("encoder", resolved.encoder)  # an unknown encoder is reported first
            if resolved.encoder not in registry.names("decoder"):
                raise ConfigError(
                    f"--decoder was not given and there is no decoder named like the encoder "
                    f"{resolved.encoder!r}; choose one of: "
                    + ", ".join(registry.names("decoder"))
                    + "."
                )
            resolved.decoder = resolved.encoder
        if resolved.lr_schedule in ("exponential", "cosine") and resolved.lr_decay_epochs == 0:
            # fixed when the run starts, so `resume --epochs N` does not bend the curve
            resolved.lr_decay_epochs = resolved.epochs
        for kind, (name_field, options_field) in COMPONENT_FIELDS.items():
            spec = registry.get(kind, getattr(resolved, name_field))
            values = resolve_options(
                spec.options,
                getattr(resolved, options_field),
                f"{kind} {spec.name!r}",
                from_strings=from_strings,
            )
            setattr(resolved, options_field, values)
        observers = {}
        for name, given in resolved.observers.items():
            if drop_unknown_observers and name not in registry.names("observer"):
                continue
            spec = registry.get("observer", name)
            observers[name] = resolve_options(
                spec.options, given, f"observer {name!r}", from_strings=from_strings
            )
        resolved.observers = observers
        return resolved

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (tuples become lists) suitable for TOML/JSON."""

        def plain(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, (tuple, list)):
                return [plain(v) for v in value]
            return value

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "configuration") -> RunConfig:
        """Build from a dict (a parsed config file); unknown keys and wrong types are errors."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(
                f"{source}: unknown key(s) {', '.join(map(repr, unknown))}. Known keys: "
                + ", ".join(sorted(known))
                + "."
            )
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key.endswith("_options"):
                if not isinstance(value, dict):
                    raise ConfigError(f"{source}: {key!r} must be a table of options.")
                value = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
            if key == "observers":
                if not isinstance(value, dict) or not all(
                    isinstance(v, dict) for v in value.values()
                ):
                    raise ConfigError(
                        f"{source}: 'observers' must be a table of observer name -> table of "
                        "options (for example [observers.jsonl-log])."
                    )
                value = {
                    name: {k: tuple(v) if isinstance(v, list) else v for k, v in opts.items()}
                    for name, opts in value.items()
                }
            kwargs[key] = value
        for key, value in kwargs.items():
            # 1 and 1.0 are one learning rate: a float setting holds a float, so that two
            # configurations (and two runs of a study) that differ only so are equal
            whole = isinstance(value, int) and not isinstance(value, bool)
            if whole and isinstance(known[key].default, float):
                kwargs[key] = float(value)
        config = cls(**kwargs)
        for key in data:
            if key.endswith("_options") or key == "observers":
                continue
            default = known[key].default
            value = data[key]
            if value is None and key in ("decoder", "train_size", "test_size"):
                continue
            expected = type(default) if default is not None else (str if key == "decoder" else int)
            ok = isinstance(value, expected) and not (
                isinstance(value, bool) and expected is not bool
            )
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok:
                raise ConfigError(
                    f"{source}: key {key!r} must be {expected.__name__}, got {value!r} "
                    f"({type(value).__name__})."
                )
        return config
