"""The Keras callbacks the trainer adds to Keras's own: a progress line per epoch, a
snapshot of the best model so far, and early stopping that survives a restart.

The public faces are not scored here: a run reports them once, when it has finished,
so that no number that must never steer a choice is shown while it trains."""

import time

import keras
import numpy as np


def epoch_log_callback(prior_seconds, total_epochs, out, log_lr=False):
    """A progress line per epoch, with the epoch's time and, with log_lr, the rate."""

    class EpochLog(keras.callbacks.Callback):
        """Adds timing to the logs, prints one line per epoch."""

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs["epoch_seconds"] = time.perf_counter() - self.epoch_start
            logs["wall_seconds"] = prior_seconds + time.perf_counter() - self.start
            if log_lr:  # the rate the next step will use
                lr = self.model.optimizer.learning_rate
                logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))
            line = (
                f"epoch {epoch + 1}/{total_epochs}  {logs['epoch_seconds']:.1f}s  "
                f"loss {logs['loss']:.4f}  acc {logs['accuracy']:.4f}  "
                f"val_acc {logs['val_accuracy']:.4f}"
            )
            if log_lr:
                line += f"  lr {logs['learning_rate']:.3g}"
            print(line, file=out, flush=True)

    return EpochLog()


def snapshot_callback(save, read_history, best_so_far):
    class Snapshot(keras.callbacks.Callback):
        """Keeps models/NAME.keras and .json at the best epoch so far: an unfinished run
        is usable, and its numbers visible, while it trains or after it was stopped."""

        def on_epoch_end(self, epoch, logs=None):
            nonlocal best_so_far
            if best_so_far is None or logs["val_accuracy"] > best_so_far:
                best_so_far = logs["val_accuracy"]
                save(read_history(), finished=False)

    return Snapshot()


def resumable_early_stopping(patience, history):
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
