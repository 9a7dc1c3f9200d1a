"""TensorFlow's own distribution strategies for the trainers; no hand-made averaging.

`mirrored` copies the model to every visible GPU (or to the logical CPU devices made by
--cpu-devices) and averages gradients with MirroredStrategy. --batch-size is the global
batch, split evenly among replicas. `make_strategy("multiworker")` builds
MultiWorkerMirroredStrategy from TF_CONFIG, and training writes files from the chief only,
but Keras 3's fit() cannot yet train under it (keras-team/keras#20585), so the trainers do
not offer it.
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
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--distribute multiworker needs the TF_CONFIG environment variable")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {kind!r}; expected one of {KINDS}")


def describe(strategy):
    return f"{type(strategy).__name__}, {strategy.num_replicas_in_sync} replicas"


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
