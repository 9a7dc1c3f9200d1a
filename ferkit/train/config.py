"""The resolved settings of a training run. Plain Python, so every CLI can build one
without loading Keras."""

from dataclasses import dataclass

# What --precision takes; auto picks bfloat16 where the device computes it natively.
PRECISIONS = ("auto", "float32", "bfloat16")

# Settings that must match for an interrupted run to be resumed.
RESUME_KEYS = (
    "model",
    "batch_size",
    "seed",
    "split_seed",
    "val_split",
    "limit",
    "learning_rate",
    "rho",
    "optimizer",
    "schedule",
    "weight_decay",
    "augment",
    "label_smoothing",
    "mixup",
    "class_weight",
    "precision",
    "init_from",
    "labels",
    # The epoch count (or the budget) shapes the cosine and one-cycle schedules.
    "epochs",
    "budget_minutes",
    "teacher",
    "distill_weight",
    "teacher_tta",
    "consistent_teacher",
    "progressive",
    "warmup",
    "ema",
)


@dataclass
class TrainConfig:
    """Resolved settings of one run; stored in its JSON."""

    name: str = "cnn"
    model: str = "cnn"
    epochs: int = 200
    batch_size: int = 128
    seed: int = 0
    # None: the split follows --seed, as before this setting existed.
    split_seed: int | None = None
    val_split: float = 0.1
    limit: int | None = None
    patience: int | None = None
    learning_rate: float = 1.0
    rho: float = 0.95
    models_dir: str = "models"
    distribute: str | None = None
    optimizer: str = "adadelta"
    schedule: str = "constant"
    weight_decay: float = 0.0
    augment: str = "none"
    label_smoothing: float = 0.0
    mixup: float = 0.0
    class_weight: str = "none"
    # auto: bfloat16 where the device computes it natively, float32 elsewhere; the
    # record states what it resolved to.
    precision: str = "auto"
    recipe: str | None = None
    labels: str = "fer2013"  # or ferplus-majority, ferplus-votes
    # Size the run to this many minutes instead of `epochs` (then only a ceiling).
    budget_minutes: float | None = None
    init_from: str | None = None
    # Knowledge distillation: a saved run whose probabilities, at this weight, are
    # blended into the training targets.
    teacher: str | None = None
    distill_weight: float = 0.5
    # The teacher labels each face averaged over its whole test-time view set instead of
    # the face and its mirror image: a better teacher, at several times the one-off cost.
    teacher_tta: bool = False
    # The teacher labels each augmented view the student trains on, every step, instead
    # of each plain face once (consistent teaching).
    consistent_teacher: bool = False
    # The first epochs train on faces shrunk: "32:6,40:4" is 32 pixels for 6 epochs,
    # then 40 for 4, then full size (ferkit.train.progressive).
    progressive: str = ""
    # The share of a one-cycle schedule spent warming up to the peak rate.
    warmup: float = 0.3
    # Polyak averaging: the momentum of an exponential moving average of the weights,
    # which validation, the checkpoints and the saved model use (0: none).
    ema: float = 0.0

    @property
    def split_seed_used(self):
        """The seed of the validation split: --split-seed, or --seed when not given."""
        return self.seed if self.split_seed is None else self.split_seed

    @property
    def num_classes(self):
        """7 for FER2013's labels, 8 for FER+'s (contempt added)."""
        return 8 if self.labels.startswith("ferplus") else 7

    @property
    def soft_targets(self):
        """Training on FER+ vote distributions instead of one label a face."""
        return self.labels == "ferplus-votes"

    @property
    def one_hot(self):
        """Label smoothing and mixup need one-hot targets; the reference recipe keeps
        integer labels (and so its exact compiled form)."""
        return self.label_smoothing > 0 or self.mixup > 0 or self.soft_targets or bool(self.teacher)
