"""Named training recipes: bundles of settings that flags can still override."""

from dataclasses import asdict, fields, replace

from ferkit.train.config import TrainConfig
from ferkit.train.optim import DEFAULT_LR

RECIPES = {
    # The report's recipe, TrainConfig's defaults: Adadelta 1.0, batch 128, 200 epochs.
    # Every recipe computes in the precision this machine is fastest in (auto).
    "reference": {},
    # The shortest way to 0.62 validation accuracy on a 2-core CPU, for every seed
    # (bench/time_to_accuracy.py). Its net has no BatchNorm, so an epoch is 2.4 times as
    # fast as with it; every seed passes 0.62 a few epochs before the schedule ends.
    # In float32 it trains as FLOAT32 says.
    "fast": {
        "model": "fast",
        "optimizer": "adamw",
        "learning_rate": 4e-3,
        "weight_decay": 5e-4,
        "schedule": "onecycle",
        "augment": "light",
        "label_smoothing": 0.1,
        "epochs": 18,
        "batch_size": 128,
    },
    # Long training of the VGG-style net for the best single model.
    "strong": {
        "model": "vgg",
        "optimizer": "adamw",
        "learning_rate": 2e-3,
        "weight_decay": 5e-4,
        "schedule": "onecycle",
        "augment": "strong",
        "label_smoothing": 0.1,
        "epochs": 50,
        "batch_size": 128,
    },
}


# What a recipe changes where its run computes in float32, on a CPU without native
# bfloat16 (AVX2). There the convolutions' weight gradients over small maps run at a third
# of the forward pass's speed, and batches of 256 (the learning rate scaled by the square
# root of 2) make an epoch about 15% faster than 128 do; 16 epochs keep the fast recipe
# under 10 minutes on such a CPU. Under bfloat16 these settings left a seed short of 0.62.
FLOAT32 = {
    "fast": {"batch_size": 256, "learning_rate": 5.6e-3, "epochs": 16},
}


def resolve(default_model, recipe=None, used=None, **flags):
    """The TrainConfig of a run: the reference defaults with the script's model, then
    the recipe (as FLOAT32 changes it where the run computes in float32), then the flags
    given (None means not given). A new optimizer brings its own default learning rate.

    Args:
        used: the precision the run computes in; None: the one this machine chooses for
            the precision asked (read only for a recipe in FLOAT32).
    """
    settings = {"model": default_model, **RECIPES[recipe or "reference"]}
    given = {k: v for k, v in flags.items() if v is not None}
    if recipe in FLOAT32:
        if used is None:
            from ferkit.precision import choose_precision

            used = choose_precision(given.get("precision", TrainConfig.precision)).used
        if used == "float32":
            settings.update(FLOAT32[recipe])
    settings.update(given)
    names = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(settings) - names)
    if unknown:
        raise TypeError(f"unknown settings {unknown}")
    if "optimizer" in given and "learning_rate" not in given:
        settings["learning_rate"] = DEFAULT_LR[given["optimizer"]]
    elif "learning_rate" not in settings:
        settings["learning_rate"] = DEFAULT_LR[settings.get("optimizer", "adadelta")]
    return replace(TrainConfig(), recipe=recipe or "reference", **settings)


# The settings a recipe fixes, which a record names where a run changed them.
RECIPE_SETTINGS = (
    "model",
    "epochs",
    "batch_size",
    "optimizer",
    "learning_rate",
    "rho",
    "weight_decay",
    "schedule",
    "augment",
    "label_smoothing",
    "mixup",
    "class_weight",
    "precision",
    "progressive",
    "warmup",
    "ema",
)


def recipe_changes(config, used=None):
    """The settings of a run (a TrainConfig as a dict) that differ from its recipe's:
    what a record names besides the recipe, so that it says what ran. used: the precision
    it computed in (resolve)."""
    recipe = config.get("recipe") or "reference"
    base = asdict(resolve(config["model"], None if recipe == "reference" else recipe, used))
    return {k: config[k] for k in RECIPE_SETTINGS if k in config and config[k] != base[k]}


def recipe_flag(setting):
    """The training flag that gives a recipe setting."""
    return "--lr" if setting == "learning_rate" else "--" + setting.replace("_", "-")


def reproducing_command(command, config, used=None):
    """A run's recorded command with the flags it now needs to run as it did: the
    settings in which today's recipe differs from the run (recipe_changes, used: the
    precision it computed in) that the command does not give itself."""
    given = set(command.split())
    changes = recipe_changes(config, used)
    missing = {k: v for k, v in changes.items() if recipe_flag(k) not in given}
    return " ".join([command, *(f"{recipe_flag(k)} {v}" for k, v in missing.items())])
