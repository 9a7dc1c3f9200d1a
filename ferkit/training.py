"""One training function shared by every trainer; the builder is the only difference."""

import json
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import NUM_CLASSES, __version__
from .data import validation_split
from .errors import InputError
from .optim import plateau_callback
from .predict import predict_probs
from .runs import load_model, load_record, run_paths, save_model_atomic, write_json

# Settings that must match for an interrupted run to be resumed.
_RESUME_KEYS = (
    "model",
    "batch_size",
    "seed",
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
)


@dataclass
class TrainConfig:
    """Resolved settings of one run; stored in its JSON."""

    name: str = "cnn"
    model: str = "cnn"
    epochs: int = 200
    batch_size: int = 128
    seed: int = 0
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
    precision: str = "float32"
    recipe: str | None = None
    init_from: str | None = None

    @property
    def one_hot(self):
        """Label smoothing and mixup need one-hot targets; the reference recipe keeps
        integer labels (and so its exact compiled form)."""
        return self.label_smoothing > 0 or self.mixup > 0


def class_weights(labels, mode):
    """Per-class loss weights: None, `balanced` (n / (classes * count), as scikit-learn)
    or `sqrt` (its square root, a milder correction)."""
    if mode in (None, "none"):
        return None
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(labels)
    w = compute_class_weight("balanced", classes=classes, y=labels)
    if mode == "sqrt":
        w = np.sqrt(w)
    elif mode != "balanced":
        raise ValueError(f"unknown class weighting {mode!r}; use none, balanced or sqrt")
    return {int(c): float(v) for c, v in zip(classes, w)}


def split_indices(labels, config):
    """(train_idx, val_idx) into the full training set, from --limit, --val-split, --seed."""
    idx = np.arange(labels.size)
    if config.limit is not None and config.limit < labels.size:
        rng = np.random.default_rng(config.seed)
        idx = np.sort(rng.choice(labels.size, config.limit, replace=False))
    counts = np.bincount(labels[idx])
    classes = np.count_nonzero(counts)
    n_val = int(np.ceil(config.val_split * idx.size))
    # Stratifying needs two rows of every class and room for each class on both sides.
    stratify = counts[counts > 0].min() >= 2 and classes <= n_val <= idx.size - classes
    if stratify:
        tr, va = validation_split(labels[idx], config.val_split, config.seed)
    else:  # too few rows to stratify (tiny --limit smoke runs)
        perm = np.random.default_rng(config.seed).permutation(idx.size)
        n_val = max(1, n_val)
        tr, va = np.sort(perm[n_val:]), np.sort(perm[:n_val])
    return idx[tr], idx[va]


def make_dataset(x, y, batch_size, shuffle_seed=None, one_hot=False, mixup=0.0):
    """A tf.data pipeline over uint8 arrays; the model itself rescales.

    Args:
        one_hot: labels as one-hot float vectors (for label smoothing and mixup).
        mixup: alpha of Keras's MixUp applied to each batch (0: off); needs one_hot.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if one_hot:
        ds = ds.map(lambda xb, yb: (xb, tf.one_hot(yb, NUM_CLASSES)))
    if mixup:
        import keras

        mix = keras.layers.MixUp(alpha=mixup, seed=shuffle_seed)

        def mixed(xb, yb):
            out = mix({"images": tf.cast(xb, tf.float32), "labels": yb}, training=True)
            return out["images"], out["labels"]

        ds = ds.map(mixed)
    return ds.prefetch(tf.data.AUTOTUNE)


def accuracy(model, x, y, tta=False):
    """Share of faces x whose predicted class is y; None when there are none."""
    if len(x) == 0:
        return None
    return float(np.mean(predict_probs(model, x, tta=tta).argmax(axis=1) == y))


def tta_accuracies(model, data, val_idx):
    """Validation and public accuracy with test-time augmentation (`predict.py --tta`)."""
    public_x, public_y = data.x_test[data.public], data.test_labels[data.public]
    return {
        "val_accuracy": accuracy(model, data.x_train[val_idx], data.y_train[val_idx], tta=True),
        "public_accuracy": accuracy(model, public_x, public_y, tta=True),
    }


def per_class_accuracies(model, data, val_idx):
    """Each class's accuracy (recall) on validation and on the public faces."""
    from . import CLASS_NAMES

    parts = {
        "val": (data.x_train[val_idx], data.y_train[val_idx]),
        "public": (data.x_test[data.public], data.test_labels[data.public]),
    }
    result = {}
    for part, (x, y) in parts.items():
        if len(y):
            predicted = predict_probs(model, x).argmax(axis=1)
            result[part] = {
                name: float(np.mean(predicted[y == k] == k)) if np.any(y == k) else None
                for k, name in enumerate(CLASS_NAMES)
            }
    return result


class RunDir:
    """Scratch state of an unfinished run: backups, best weights, per-epoch log."""

    def __init__(self, models_dir, name):
        self.path = Path(models_dir) / f"{name}.run"
        self.backup = self.path / "backup"
        self.best = self.path / "best.weights.h5"
        self.history = self.path / "history.csv"
        self.config = self.path / "config.json"

    def resume_epoch(self):
        """Epochs completed by an interrupted run, or 0 when there is none.

        A run killed while BackupAndRestore wrote its epoch counter leaves that file
        corrupt; the previous epoch's copies (double_checkpoint) then take its place.
        """
        meta = self.backup / "training_metadata.json"
        for source in (meta, meta.with_name(meta.name + ".bkp")):
            try:
                epoch = int(json.loads(source.read_text())["epoch"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if source != meta:
                weights = self.backup / "latest.weights.h5"
                shutil.copyfile(weights.with_name(weights.name + ".bkp"), weights)
                shutil.copyfile(source, meta)
            return epoch
        return 0

    def read_history(self):
        import pandas as pd

        if not self.history.exists() or self.history.stat().st_size == 0:
            return []
        df = pd.read_csv(self.history)
        # A run killed between logging and backing up an epoch repeats it on resume.
        df = df.drop_duplicates("epoch", keep="last").sort_values("epoch")
        df["epoch"] += 1  # Keras counts from 0; the record counts like the progress lines
        return [
            {
                k: (None if pd.isna(v) else (int(v) if k == "epoch" else float(v)))
                for k, v in r.items()
            }
            for r in df.to_dict("records")
        ]


def _epoch_log_callback(public_x, public_y, prior_seconds, total_epochs, out, log_lr=False):
    import keras

    class EpochLog(keras.callbacks.Callback):
        """Adds timing and public accuracy to the logs, prints one line per epoch."""

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs["epoch_seconds"] = time.perf_counter() - self.epoch_start
            if len(public_x):
                logs["public_accuracy"] = accuracy(self.model, public_x, public_y)
            logs["wall_seconds"] = prior_seconds + time.perf_counter() - self.start
            if log_lr:  # the rate the next step will use
                lr = self.model.optimizer.learning_rate
                logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))
            line = (
                f"epoch {epoch + 1}/{total_epochs}  {logs['epoch_seconds']:.1f}s  "
                f"loss {logs['loss']:.4f}  acc {logs['accuracy']:.4f}  "
                f"val_acc {logs['val_accuracy']:.4f}"
            )
            if "public_accuracy" in logs:
                line += f"  public_acc {logs['public_accuracy']:.4f}"
            if log_lr:
                line += f"  lr {logs['learning_rate']:.3g}"
            print(line, file=out, flush=True)

    return EpochLog()


def _snapshot_callback(save, read_history, best_so_far):
    import keras

    class Snapshot(keras.callbacks.Callback):
        """Keeps models/NAME.keras and .json at the best epoch so far: an unfinished run
        is usable, and its numbers visible, while it trains or after it was stopped."""

        def on_epoch_end(self, epoch, logs=None):
            nonlocal best_so_far
            if best_so_far is None or logs["val_accuracy"] > best_so_far:
                best_so_far = logs["val_accuracy"]
                save(read_history(), finished=False)

    return Snapshot()


def _resumable_early_stopping(patience, history):
    import keras

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        """EarlyStopping that remembers the best epoch of the run before a restart."""

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            if history:
                accs = [h["val_accuracy"] for h in history]
                best = int(np.argmax(accs))
                self.best = accs[best]
                self.wait = len(accs) - 1 - best

    return ResumableEarlyStopping(monitor="val_accuracy", mode="max", patience=patience)


def train(builder, data, config, out=None, strategy=None, extra_callbacks=()):
    """Trains builder()'s model on data with config; writes NAME.keras and NAME.json.

    Args:
        builder: returns an uncompiled model.
        data: a FERData.
        config: a TrainConfig.
        out: where progress lines go (default stdout).
        strategy: a tf.distribute strategy (default: TensorFlow's, one device). Under
            multi-worker training only the chief writes the run's files; the others
            keep their scratch state beside it until the run ends.
        extra_callbacks: more Keras callbacks, run after the progress line is logged.

    Returns:
        The run record (the JSON content) as a dict.
    """
    import keras
    import tensorflow as tf

    from .distribute import prepare_model, strategy_name, worker_id

    out = out or sys.stdout
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(config.seed)
    chief, task = worker_id()
    # Every worker keeps its own backup, so a stopped multi-worker run resumes on all of
    # them from the same epoch; only the chief's final files land in models_dir.
    run = RunDir(config.models_dir, config.name if chief else f"{config.name}.worker{task}")
    train_idx, val_idx = split_indices(data.y_train, config)
    steps = -(-train_idx.size // config.batch_size) * config.epochs
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if config.precision == "bfloat16" else policy)
    try:
        with strategy.scope():
            model = builder()
            model.compile(**_compile_args(config, steps))
    finally:
        keras.config.set_dtype_policy(policy)
    settings = {k: getattr(config, k) for k in _RESUME_KEYS}
    settings |= {"data": data.fingerprint, "architecture": architecture_id(model)}
    # Read once, also on resuming: every save records the run this one started from.
    init_record = load_record(run_paths(config.init_from)[1]) if config.init_from else None
    start_epoch = run.resume_epoch()
    if start_epoch:
        _check_resumable(run, settings)
        print(f"resuming {config.name} from epoch {start_epoch}", file=out, flush=True)
    else:
        if config.init_from:
            warm_start(model, config.init_from, init_record, data, val_idx)
            print(f"starting {config.name} from the weights of {config.init_from}", file=out)
        shutil.rmtree(run.path, ignore_errors=True)
        run.path.mkdir(parents=True)
        write_json(run.config, settings)
    history = run.read_history()[:start_epoch]
    x, y = data.x_train, data.y_train
    public_x, public_y = data.x_test[data.public], data.test_labels[data.public]
    best_so_far = max((h["val_accuracy"] for h in history), default=None)
    callbacks = [
        _epoch_log_callback(
            public_x,
            public_y,
            history[-1]["wall_seconds"] if history else 0.0,
            config.epochs,
            out,
            # A constant rate needs no column (and resumed older runs have none).
            log_lr=config.schedule != "constant",
        ),
        keras.callbacks.CSVLogger(str(run.history), append=True),
        keras.callbacks.ModelCheckpoint(
            str(run.best),
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best_so_far,
        ),
    ]
    models_dir = Path(config.models_dir) if chief else run.path

    def save(history, finished):
        record = _record(model, data, config, history, train_idx, val_idx, finished)
        if init_record:
            record["init"] = init_summary(config.init_from, init_record)
        record["devices"] = [d.device_type for d in tf.config.list_logical_devices()]
        record["strategy"] = {
            "name": strategy_name(strategy),
            "replicas": strategy.num_replicas_in_sync,
        }
        save_model_atomic(model, models_dir / f"{config.name}.keras")
        write_json(models_dir / f"{config.name}.json", record)
        return record

    callbacks += list(extra_callbacks)
    callbacks.append(_snapshot_callback(save, run.read_history, best_so_far))
    if config.patience:
        callbacks.append(_resumable_early_stopping(config.patience, history))
    if config.schedule == "plateau":
        callbacks.append(plateau_callback())
    callbacks.append(keras.callbacks.BackupAndRestore(str(run.backup), double_checkpoint=True))

    hot = config.one_hot
    prepare_model(model, strategy)
    # Under a multi-worker strategy, prepare_model leaves fit to find it in the scope.
    with strategy.scope():
        model.fit(
            make_dataset(
                x[train_idx],
                y[train_idx],
                config.batch_size,
                config.seed + start_epoch,
                one_hot=hot,
                mixup=config.mixup,
            ),
            validation_data=make_dataset(x[val_idx], y[val_idx], 512, one_hot=hot),
            class_weight=class_weights(y[train_idx], config.class_weight),
            epochs=config.epochs,
            callbacks=callbacks,
            shuffle=False,  # the dataset shuffles itself, seeded
            verbose=1 if out.isatty() else 0,
        )
        if run.best.exists():
            model.load_weights(run.best)
        record = save(run.read_history(), finished=True)
    shutil.rmtree(run.path, ignore_errors=True)
    return record


def warm_start(model, init_from, record, data, val_idx):
    """Copies the weights of the saved run init_from (with its JSON record) into model
    (fine-tuning, or a second learning-rate cycle). The saved run must share the data
    and the validation faces: it was trained on every other face, so another split
    would leak them."""
    if record.get("data", {}).get("fingerprint") != data.fingerprint:
        raise InputError(init_from, "was trained on other data (its fingerprint differs)")
    if record.get("split", {}).get("val_indices") != val_idx.tolist():
        raise InputError(
            init_from, "has another validation split; use its --seed, --val-split and --limit"
        )
    source = load_model(run_paths(init_from)[0])
    shapes = [tuple(w.shape) for w in model.weights]
    if [tuple(w.shape) for w in source.weights] != shapes:
        raise InputError(init_from, "is another architecture than --model")
    model.set_weights(source.get_weights())


def init_summary(init_from, r):
    """What a warm-started run's record says of the run it started from (record r)."""
    keys = ("name", "model", "val_accuracy", "public_accuracy", "epochs_run", "training_seconds")
    return {"path": str(init_from), **{k: r.get(k) for k in keys}}


def _compile_args(config, total_steps):
    """Optimizer, loss and metric of a run: the reference recipe compiles exactly as
    the report's Keras code did."""
    import keras

    from .optim import make_optimizer, make_schedule

    lr = make_schedule(config.schedule, config.learning_rate, total_steps)
    args = {"optimizer": make_optimizer(config.optimizer, lr, config.rho, config.weight_decay)}
    if config.one_hot:
        args["loss"] = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
        args["metrics"] = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    else:
        args["loss"] = "sparse_categorical_crossentropy"
        args["metrics"] = ["accuracy"]
    return args


def architecture_id(model):
    """A short hash of the model's full configuration (layers, sizes, dropout rates)."""
    import hashlib

    return hashlib.sha256(model.to_json().encode()).hexdigest()[:16]


def _check_resumable(run, settings):
    try:
        saved = json.loads(run.config.read_text())
    except (OSError, ValueError):
        saved = None
    # Runs started before a setting was recorded are checked on the others.
    mismatched = (
        {} if saved is None else {k: v for k, v in settings.items() if k in saved and saved[k] != v}
    )
    if saved is None or mismatched:
        diff = ", ".join(f"{k} {saved.get(k)!r} -> {v!r}" for k, v in mismatched.items())
        raise InputError(
            run.path,
            f"an unfinished run with other settings ({diff or 'unreadable config'}); "
            "use another --name or delete this folder",
        )


def _record(model, data, config, history, train_idx, val_idx, finished=True):
    """The run's JSON record for the model as it is now (its best weights)."""

    from .machine import describe
    from .models import count_params

    accs = [h["val_accuracy"] for h in history]
    best = int(np.argmax(accs)) if accs else None
    if finished or best is None:
        public_acc = accuracy(model, data.x_test[data.public], data.test_labels[data.public])
        val_acc = accuracy(model, data.x_train[val_idx], data.y_train[val_idx])
    else:  # a snapshot at the best epoch: its logs measured this very model
        val_acc, public_acc = accs[best], history[best].get("public_accuracy")
    seconds = sum(h["epoch_seconds"] for h in history)
    record = {
        "name": config.name,
        "model": config.model,
        "finished": finished,
        "config": asdict(config),
        "params": count_params(model),
        "val_accuracy": val_acc,
        "public_accuracy": public_acc,
        "best_epoch": None if best is None else history[best]["epoch"],
        "epochs_run": len(history),
        "training_seconds": round(seconds, 1),
        "seconds_per_epoch": round(seconds / len(history), 2) if history else None,
        "history": history,
        "split": {
            "method": "stratified" if config.limit is None else "stratified subset",
            "seed": config.seed,
            "val_split": config.val_split,
            "limit": config.limit,
            "n_train": int(train_idx.size),
            "n_val": int(val_idx.size),
            "val_indices": val_idx.tolist(),
        },
        "data": {
            "source": data.source,
            "fingerprint": data.fingerprint,
            "files": data.files,
            "n_train_rows": int(data.y_train.size),
            "n_test": int(data.test_ids.size),
            "n_public": int(data.public.sum()),
        },
        "versions": versions(),
        "machine": describe(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if finished:
        record["tta"] = tta_accuracies(model, data, val_idx)
        record["per_class"] = per_class_accuracies(model, data, val_idx)
    return record


def versions():
    """The library versions a record was made with."""
    import keras
    import tensorflow as tf

    return {
        "ferkit": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
    }
