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


def resolve(default_model, recipe=None, **flags):
    """The TrainConfig of a run: the reference defaults with the script's model, then
    the recipe, then the flags given (None means not given). A new optimizer brings its
    own default learning rate.
    """
    settings = {"model": default_model, **RECIPES[recipe or "reference"]}
    given = {k: v for k, v in flags.items() if v is not None}
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


def recipe_changes(config):
    """The settings of a run (a TrainConfig as a dict) that differ from its recipe's:
    what a record names besides the recipe, so that it says what ran."""
    recipe = config.get("recipe") or "reference"
    base = asdict(resolve(config["model"], None if recipe == "reference" else recipe))
    return {k: config[k] for k in RECIPE_SETTINGS if k in config and config[k] != base[k]}
