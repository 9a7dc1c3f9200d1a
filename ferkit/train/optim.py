"""Optimizers and learning-rate schedules, built from Keras's own classes."""

OPTIMIZERS = ("adadelta", "adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "onecycle", "plateau")

# What each optimizer is usually run with; Adadelta's is the reference report's
# (Keras 2's default), not Keras 3's 0.001, which barely moves.
DEFAULT_LR = {"adadelta": 1.0, "adam": 1e-3, "adamw": 1e-3, "sgd": 0.05}


def make_schedule(name, lr, total_steps, warmup=0.3):
    """The learning rate as a float or a Keras schedule of the optimizer step.

    `onecycle` warms up linearly from lr/25 to lr over the first `warmup` of the steps,
    then anneals to lr/1000 along a cosine, as in Smith's one-cycle policy. `cosine`
    anneals from lr to 0 with no warm-up. `plateau` is a constant here; the trainer
    adds Keras's ReduceLROnPlateau callback.
    """
    from keras.optimizers.schedules import CosineDecay

    if name in ("constant", "plateau"):
        return lr
    if name == "cosine":
        return CosineDecay(lr, decay_steps=max(1, total_steps))
    if name == "onecycle":
        warm = max(1, int(warmup * total_steps))
        return CosineDecay(
            lr / 25,
            decay_steps=max(1, total_steps - warm),
            alpha=1e-3,  # of the peak rate
            warmup_target=lr,
            warmup_steps=warm,
        )
    raise ValueError(f"unknown schedule {name!r}; choose from {', '.join(SCHEDULES)}")


def make_optimizer(name, lr, rho=0.95, weight_decay=0.0, ema=0.0):
    """A Keras optimizer; lr may be a schedule. ema > 0 keeps a moving average of the
    weights at that momentum (Keras's use_ema; see ema_callback)."""
    import keras

    average = {"use_ema": True, "ema_momentum": ema} if ema else {}
    if name == "adadelta":
        return keras.optimizers.Adadelta(learning_rate=lr, rho=rho, **average)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr, **average)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=weight_decay, **average)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=0.9, nesterov=True, **average)
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")


def ema_callback(resumed):
    """Keras's SwapEMAWeights, swapping the averaged weights in at every epoch's end, so
    that validation, the checkpoints and the backup all hold them; it must come before
    those callbacks. A resumed run's backup was written with them swapped in, so they
    are swapped out again before its first epoch."""
    import keras

    swap = keras.callbacks.SwapEMAWeights(swap_on_epoch=True)
    swap._ema_weights_in_model = resumed  # no public way to tell it where they are
    return swap


def plateau_callback():
    """Halves the learning rate after 3 epochs without a better val accuracy."""
    import keras

    return keras.callbacks.ReduceLROnPlateau(
        monitor="val_accuracy", mode="max", factor=0.5, patience=3, min_lr=1e-6
    )
