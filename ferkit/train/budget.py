"""A run sized to a wall-clock budget instead of an epoch count (--budget-minutes).

The one-cycle or cosine schedule spans the budget: its length in steps is a variable that
is set from the machine's speed, first from a timed forward pass before training, then
from the first epochs as they finish. A slow machine gets fewer epochs but a whole
schedule, and a run stopped by its budget is a finished run.
"""

import json
import math
import time

import keras
import numpy as np
from keras import ops

# The plan follows the mean pace of the last few epochs.
SIZING_EPOCHS = 3


@keras.saving.register_keras_serializable(package="ferkit")
class Budgeted(keras.optimizers.schedules.LearningRateSchedule):
    """make_schedule's `cosine` or `onecycle` whose total step count can be changed while
    training (`.total_steps.assign(n)`). Registered, so that a model compiled with it
    can be cloned (a bfloat16 model's float32 copy) and its config read back."""

    def __init__(self, kind, lr, total_steps, warmup=0.3):
        self.kind, self.lr, self.warmup = kind, lr, warmup
        self.total_steps = keras.Variable(float(total_steps), trainable=False, name="steps")

    def __call__(self, step):
        lr = self.lr
        step = ops.cast(step, "float32")
        total = ops.maximum(self.total_steps, 1.0)
        if self.kind == "cosine":
            progress = ops.minimum(step / total, 1.0)
            return lr * 0.5 * (1.0 + ops.cos(math.pi * progress))
        warm = ops.maximum(self.warmup * total, 1.0)
        rising = lr / 25 + (lr - lr / 25) * step / warm
        progress = ops.clip((step - warm) / ops.maximum(total - warm, 1.0), 0.0, 1.0)
        falling = lr * (1e-3 + (1 - 1e-3) * 0.5 * (1.0 + ops.cos(math.pi * progress)))
        return ops.where(step < warm, rising, falling)

    def get_config(self):
        total = float(self.total_steps.numpy())
        return {"kind": self.kind, "lr": self.lr, "total_steps": total, "warmup": self.warmup}


def budget_schedule(kind, lr, total_steps, warmup=0.3):
    """A Budgeted schedule of `total_steps` steps to start with."""
    return Budgeted(kind, lr, total_steps, warmup)


def _forward_seconds(model, batch):
    """Seconds of one inference-mode forward pass of model on batch, once traced."""
    model(batch, training=False)
    start = time.perf_counter()
    for _ in range(3):
        model(batch, training=False)
    return (time.perf_counter() - start) / 3


def first_guess(model, x, steps_per_epoch, batch_size, budget_s, teacher=None):
    """Epochs that fit the budget, guessed from timed forward passes: a training step
    costs about three of the model's (forward, backward, update), and one of the
    teacher's where a teacher labels every step's view."""
    batch = np.asarray(x[:batch_size], np.float32)
    step = 3 * _forward_seconds(model, batch)
    if teacher is not None:
        step += _forward_seconds(teacher, batch)
    return max(1, int(budget_s / (1.15 * step * steps_per_epoch)))


def budget_callback(budget_s, steps_per_epoch, schedule, state_path, prior_seconds=0.0):
    """Sets the schedule's length (schedule None: a schedule with no length) from the
    epochs' pace, end to end (saving and backups included), planned again after every
    epoch so the schedule ends with the budget; stops the run when the planned epochs
    are done or the budget is spent. The plan is kept in state_path, so a resumed run
    starts from the schedule it had."""

    class Budget(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.planned, self.paces, self.seen = None, [], 0
            if state_path.exists():
                self._plan(json.loads(state_path.read_text())["epochs"])

        def _plan(self, epochs):
            self.planned = epochs
            if schedule is not None:
                schedule.total_steps.assign(float(epochs * steps_per_epoch))

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter() - prior_seconds
            self.last_end = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() - self.start > budget_s:
                self.model.stop_training = True  # the budget is spent mid-epoch

        def on_epoch_end(self, epoch, logs=None):
            done, now = epoch + 1, time.perf_counter()
            elapsed = now - self.start
            # An epoch's cost shows at the next one's end, where its saving is done too;
            # the first of a session also traces the model, so it counts only alone.
            pace, self.last_end = now - self.last_end, now
            self.seen += 1
            self.paces = [pace] if self.seen <= 2 else [*self.paces, pace][-SIZING_EPOCHS:]
            mean = sum(self.paces) / len(self.paces)
            self._plan(max(done, done + int((budget_s - elapsed) / mean)))
            state_path.write_text(json.dumps({"epochs": self.planned}))
            if done >= self.planned or elapsed > budget_s:
                self.model.stop_training = True

    return Budget()
