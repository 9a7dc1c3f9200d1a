"""A run sized to a wall-clock budget instead of an epoch count (--budget-minutes).

The one-cycle or cosine schedule spans the budget: its length in steps is a variable that
is set from the machine's speed, first from a timed forward pass before training, then
from the first epochs as they finish. A slow machine gets fewer epochs but a whole
schedule, and a run stopped by its budget is a finished run.
"""

import json
import math
import time

# The first epoch traces the model; from the second on, epochs run at their own pace.
SIZING_EPOCHS = 2


def budget_schedule(kind, lr, total_steps, warmup=0.3):
    """A Keras schedule like make_schedule's `cosine` or `onecycle` whose total step count
    can be changed while training (`.total_steps.assign(n)`)."""
    import keras
    from keras import ops

    class Budgeted(keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self):
            self.total_steps = keras.Variable(float(total_steps), trainable=False, name="steps")

        def __call__(self, step):
            step = ops.cast(step, "float32")
            total = ops.maximum(self.total_steps, 1.0)
            if kind == "cosine":
                progress = ops.minimum(step / total, 1.0)
                return lr * 0.5 * (1.0 + ops.cos(math.pi * progress))
            warm = ops.maximum(warmup * total, 1.0)
            rising = lr / 25 + (lr - lr / 25) * step / warm
            progress = ops.clip((step - warm) / ops.maximum(total - warm, 1.0), 0.0, 1.0)
            falling = lr * (1e-3 + (1 - 1e-3) * 0.5 * (1.0 + ops.cos(math.pi * progress)))
            return ops.where(step < warm, rising, falling)

        def get_config(self):
            return {"kind": kind, "lr": lr, "total_steps": float(self.total_steps.numpy())}

    return Budgeted()


def first_guess(model, x, steps_per_epoch, batch_size, budget_s):
    """Epochs that fit the budget, guessed from one timed forward pass: a training step
    costs about three forward passes (forward, backward, update)."""
    import numpy as np

    batch = np.asarray(x[:batch_size], np.float32)
    model(batch, training=False)  # traces
    start = time.perf_counter()
    for _ in range(3):
        model(batch, training=False)
    forward = (time.perf_counter() - start) / 3
    return max(1, int(budget_s / (1.15 * 3 * forward * steps_per_epoch)))


def budget_callback(budget_s, steps_per_epoch, schedule, state_path, prior_seconds=0.0):
    """Sets the schedule's length (schedule None: a schedule with no length) from the
    first epochs' speed and stops the run when the planned epochs are done or the budget
    is spent; keeps its plan in state_path so a resumed run keeps its schedule."""
    import keras

    class Budget(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.planned = None
            # A resumed run keeps the plan its first epochs made.
            self.fixed = state_path.exists()
            if self.fixed:
                self.planned = json.loads(state_path.read_text())["epochs"]
                self._plan(self.planned)

        def _plan(self, epochs):
            self.planned = epochs
            if schedule is not None:
                schedule.total_steps.assign(float(epochs * steps_per_epoch))

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter() - prior_seconds
            self.epoch_start = None

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() - self.start > budget_s:
                self.model.stop_training = True  # the budget is spent mid-epoch

        def on_epoch_end(self, epoch, logs=None):
            done = epoch + 1
            elapsed = time.perf_counter() - self.start
            if not self.fixed and done <= SIZING_EPOCHS:
                pace = time.perf_counter() - self.epoch_start
                self._plan(max(done, done + int((budget_s - elapsed) / pace)))
                if done == SIZING_EPOCHS:
                    state_path.write_text(json.dumps({"epochs": self.planned}))
                    self.fixed = True
            if done >= self.planned or elapsed > budget_s:
                self.model.stop_training = True

    return Budget()
