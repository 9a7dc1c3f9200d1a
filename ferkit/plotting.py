"""Figures from arrays and run records; callers decide where to save them (the entry
scripts choose matplotlib's file-only backend, ferkit.cli.headless)."""

import matplotlib.pyplot as plt
import numpy as np


def plot_history(history, title=None):
    """Train/validation accuracy and loss per epoch (plus public accuracy if logged)."""
    epochs = [h["epoch"] for h in history]
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ax_acc.plot(epochs, [h["accuracy"] for h in history], label="train")
    ax_acc.plot(epochs, [h["val_accuracy"] for h in history], label="validation")
    if any(h.get("public_accuracy") is not None for h in history):
        ax_acc.plot(
            epochs, [h.get("public_accuracy") for h in history], label="public test", ls="--"
        )
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax_loss.plot(epochs, [h["loss"] for h in history], label="train")
    ax_loss.plot(epochs, [h["val_loss"] for h in history], label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def plot_emotion_track(seconds, probs, class_names, title=None, window=1):
    """One face's class probabilities over time, each a moving average over `window`
    analysed frames, and beneath them the label of every frame."""
    probs = np.asarray(probs, float)
    kernel = np.ones(max(1, window)) / max(1, window)
    smooth = np.stack(
        [np.convolve(np.pad(p, (window // 2, (window - 1) // 2), mode="edge"), kernel, "valid")
         for p in probs.T],
        axis=1,
    )  # fmt: skip
    fig, (ax_p, ax_l) = plt.subplots(
        2, 1, figsize=(10, 4.5), sharex=True, height_ratios=(3, 1), layout="constrained"
    )
    colours = plt.get_cmap("tab10").colors
    for k, name in enumerate(class_names):
        ax_p.plot(seconds, smooth[:, k], label=name, color=colours[k % 10])
    ax_p.set(ylabel="probability", ylim=(0, 1))
    ax_p.legend(ncol=len(class_names), fontsize=8, loc="upper center")
    ax_p.grid(alpha=0.3)
    labels = probs.argmax(axis=1)
    ax_l.scatter(seconds, labels, c=[colours[k % 10] for k in labels], s=8)
    ax_l.set(yticks=range(len(class_names)), xlabel="seconds")
    ax_l.set_yticklabels(class_names, fontsize=7)
    ax_l.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig
