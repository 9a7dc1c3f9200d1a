"""TensorFlow's own distribution strategies for the trainers; no hand-made averaging.

`mirrored` copies the model to every visible GPU (or to the logical CPU devices made by
--cpu-devices) and averages gradients with MirroredStrategy. `multiworker` builds
MultiWorkerMirroredStrategy from the standard TF_CONFIG variable: every worker runs the
same command, the strategy all-reduces gradients across them, and only the chief writes
the run's files. --batch-size is the global batch, split evenly among all replicas.
"""

import json
import os

KINDS = ("mirrored", "multiworker")


def split_cpu(n):
    """Splits the CPU into n logical devices; must run before TensorFlow initialises."""
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
    )


def tf_config_problem():
    """What is wrong with the TF_CONFIG variable for multi-worker training, or None."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return "set the TF_CONFIG environment variable (see the README)"
    try:
        config = json.loads(raw)
        task, workers = config["task"], config["cluster"]
        kind, index = task["type"], int(task["index"])
        if kind not in workers or not 0 <= index < len(workers[kind]):
            return f"TF_CONFIG task {kind} {index} is not in its cluster"
    except (ValueError, KeyError, TypeError) as err:
        return f"TF_CONFIG is not a cluster and task description ({err!r})"
    return None


def make_strategy(kind):
    """The strategy for --distribute KIND (None: TensorFlow's default, one device)."""
    import tensorflow as tf

    if kind is None:
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=gpus or cpus)
    if kind == "multiworker":
        if problem := tf_config_problem():
            raise ValueError(f"--distribute multiworker: {problem}")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {kind!r}; expected one of {KINDS}")


def multi_worker(strategy):
    """Whether strategy spans several processes (MultiWorkerMirroredStrategy with a
    cluster in TF_CONFIG)."""
    import tensorflow as tf

    return (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    )


def prepare_model(model, strategy):
    """Lets Keras 3's fit(), evaluate() and predict() run model under a multi-worker
    strategy; call fit inside strategy.scope(). A no-op for other strategies.

    Keras 3.x's TensorFlow trainer fails there in two places (tensorflow/tensorflow#72388):
    before the first step it averages a distributed input batch across workers to build
    the metrics, and after each step it reduces the scalar metric results along axis 0.
    Detaching the model from its strategy makes Keras build the metrics while tracing
    the step instead, under the strategy taken from the surrounding scope; giving each
    step's results one axis makes the cross-worker mean valid. The results are already
    synchronised across workers, so the mean changes no value.
    """
    if not multi_worker(strategy):
        return model
    import keras

    def rank1(step):
        def step_with_axis(data):
            return keras.tree.map_structure(lambda v: keras.ops.reshape(v, (1,)), step(data))

        return step_with_axis

    model._distribute_strategy = None
    model.train_step = rank1(model.train_step)
    model.test_step = rank1(model.test_step)
    return model


def strategy_name(strategy):
    """The strategy's public name (TensorFlow's multi-worker class is an alias)."""
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "MultiWorkerMirroredStrategy"
    return type(strategy).__name__


def describe(strategy):
    return f"{strategy_name(strategy)}, {strategy.num_replicas_in_sync} replicas"


def worker_id():
    """(is_chief, task id) from TF_CONFIG; a single process is the chief."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    except ValueError:
        return True, 0
    task = config.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    has_chief = "chief" in config.get("cluster", {})
    return (kind == "chief" or (kind == "worker" and index == 0 and not has_chief)), index
