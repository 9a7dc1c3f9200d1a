"""Figures from arrays and run records; callers decide where to save them (the entry
scripts choose matplotlib's file-only backend, ferkit.cli.headless)."""

import matplotlib.pyplot as plt


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
