"""One training function shared by every trainer; the builder is the only difference."""

import shutil
import sys
from pathlib import Path

from ferkit.precision import dtype_policy
from ferkit.record import build_record, init_summary, lineage_cost, read_record, write_record
from ferkit.runs import run_paths, save_model_atomic, write_json
from ferkit.train.budget import budget_callback, budget_schedule, first_guess
from ferkit.train.callbacks import epoch_log_callback, resumable_early_stopping, snapshot_callback
from ferkit.train.config import RESUME_KEYS
from ferkit.train.distill import distill_targets, teacher_record, teaching_views
from ferkit.train.optim import plateau_callback
from ferkit.train.pipeline import class_weights, make_dataset, split
from ferkit.train.resume import RunDir, architecture_id, check_resumable
from ferkit.train.sources import warm_start


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

    from ferkit.train.distribute import prepare_model, strategy_name, worker_id

    out = out or sys.stdout
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(config.seed)
    chief, task = worker_id()
    # Every worker keeps its own backup, so a stopped multi-worker run resumes on all of
    # them from the same epoch; only the chief's final files land in models_dir.
    run = RunDir(config.models_dir, config.name if chief else f"{config.name}.worker{task}")
    strata = data.y_train if data.split_labels is None else data.split_labels
    train_idx, val_idx, split_method = split(strata, config, usable=data.y_train >= 0)
    steps_per_epoch = -(-train_idx.size // config.batch_size)
    budget_lr = None
    # Checked before anything is written.
    teacher = (
        teacher_record(config.teacher, data, val_idx, config.num_classes)
        if config.teacher
        else None
    )
    with dtype_policy(config.precision), strategy.scope():
        model = builder()
        # What fit() trains: the model itself, or a wrapper that shares its weights.
        fitted = model
        if teacher and config.consistent_teacher:
            from ferkit.train.consistent import consistent_teacher

            fitted = consistent_teacher(model, config.teacher, config.distill_weight)
        if config.budget_minutes and config.schedule in ("onecycle", "cosine"):
            guess = first_guess(
                model,
                data.x_train,
                steps_per_epoch,
                config.batch_size,
                60 * config.budget_minutes,
                teacher=fitted.teacher if fitted is not model else None,
            )
            budget_lr = budget_schedule(
                config.schedule, config.learning_rate, min(guess, config.epochs) * steps_per_epoch
            )
        fitted.compile(**compile_args(config, steps_per_epoch * config.epochs, budget_lr))
    settings = {k: getattr(config, k) for k in RESUME_KEYS}
    settings |= {"data": data.fingerprint, "architecture": architecture_id(model)}
    # Read once, also on resuming: every save records the run this one started from.
    init_record = read_record(run_paths(config.init_from)[1]) if config.init_from else None
    start_epoch = run.resume_epoch()
    if start_epoch:
        check_resumable(run, settings)
        print(f"resuming {config.name} from epoch {start_epoch}", file=out, flush=True)
    else:
        if config.init_from:
            warm_start(model, config.init_from, init_record, data, val_idx, out)
            print(f"starting {config.name} from the weights of {config.init_from}", file=out)
        shutil.rmtree(run.path, ignore_errors=True)
        run.path.mkdir(parents=True)
        write_json(run.config, settings)
    history = run.read_history()[:start_epoch]
    x, y = data.x_train, data.y_train
    # FER+ votes train on each face's distribution; accuracy still counts its top class.
    targets = y if data.soft_train is None else data.soft_train.astype("float32")
    train_targets = targets
    if teacher and not config.consistent_teacher:
        train_targets = distill_targets(
            config.teacher,
            data,
            val_idx,
            config.distill_weight,
            config.num_classes,
            cache=run.path / "teacher.npy",
            tta=config.teacher_tta,
        )
    if teacher:
        views = teaching_views(config.teacher_tta, config.consistent_teacher)
        weight = f"weight {config.distill_weight:g}{views}"
        print(f"distilling from {config.teacher} ({weight})", file=out)
    public_x, public_y = data.public_faces
    best_so_far = max((h["val_accuracy"] for h in history), default=None)
    callbacks = [
        epoch_log_callback(
            model,
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
        record = build_record(
            model, data, config, history, train_idx, val_idx, finished, split_method
        )
        if init_record:
            record["init"] = init_summary(config.init_from, init_record)
        if teacher:
            record["teacher"] = init_summary(config.teacher, teacher)
        record["lineage"] = lineage_cost(record, Path(config.models_dir))
        record["devices"] = [d.device_type for d in tf.config.list_logical_devices()]
        record["strategy"] = {
            "name": strategy_name(strategy),
            "replicas": strategy.num_replicas_in_sync,
        }
        save_model_atomic(model, models_dir / f"{config.name}.keras")
        write_record(models_dir / f"{config.name}.json", record)
        return record

    if config.budget_minutes:
        prior = history[-1]["wall_seconds"] if history else 0.0
        callbacks.append(
            budget_callback(
                60 * config.budget_minutes,
                steps_per_epoch,
                budget_lr,
                run.path / "budget.json",
                prior,
            )
        )
    callbacks += list(extra_callbacks)
    callbacks.append(snapshot_callback(save, run.read_history, best_so_far))
    if config.patience:
        callbacks.append(resumable_early_stopping(config.patience, history))
    if config.schedule == "plateau":
        callbacks.append(plateau_callback())
    callbacks.append(keras.callbacks.BackupAndRestore(str(run.backup), double_checkpoint=True))

    hot = config.one_hot
    prepare_model(fitted, strategy)
    # Under a multi-worker strategy, prepare_model leaves fit to find it in the scope.
    with strategy.scope():
        fitted.fit(
            make_dataset(
                x[train_idx],
                train_targets[train_idx],
                config.batch_size,
                config.seed + start_epoch,
                one_hot=hot,
                mixup=config.mixup,
                num_classes=config.num_classes,
            ),
            validation_data=make_dataset(
                x[val_idx], targets[val_idx], 512, one_hot=hot, num_classes=config.num_classes
            ),
            class_weight=class_weights(y[train_idx], config.class_weight),
            epochs=config.epochs,
            callbacks=callbacks,
            shuffle=False,  # the dataset shuffles itself, seeded
            verbose=1 if out.isatty() else 0,
        )
        if run.best.exists():
            fitted.load_weights(run.best)
        record = save(run.read_history(), finished=True)
    shutil.rmtree(run.path, ignore_errors=True)
    return record


def compile_args(config, total_steps, lr=None):
    """Optimizer, loss and metric of a run: the reference recipe compiles exactly as
    the report's Keras code did."""
    import keras

    from ferkit.train.optim import make_optimizer, make_schedule

    if lr is None:  # a budgeted run brings its own schedule
        lr = make_schedule(config.schedule, config.learning_rate, total_steps)
    args = {"optimizer": make_optimizer(config.optimizer, lr, config.rho, config.weight_decay)}
    if config.one_hot:
        args["loss"] = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
        args["metrics"] = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    else:
        args["loss"] = "sparse_categorical_crossentropy"
        args["metrics"] = ["accuracy"]
    return args
