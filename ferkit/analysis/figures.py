"""Figures of analysis results: arrays in, matplotlib Figure out."""

import math

import numpy as np

from ferkit import CLASS_NAMES
from ferkit.plotting import plt


def plot_confusion(stats, title):
    """Row-normalised confusion matrix with counts, class names and per-class accuracy."""
    norm, counts = stats["normalised"], stats["counts"]
    fig, ax = plt.subplots(figsize=(7.5, 6.5), layout="constrained")
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(norm.shape[0]):
        for j in range(norm.shape[1]):
            color = "white" if norm[i, j] > 0.6 else "black"
            ax.text(j, i, f"{norm[i, j]:.2f}\n({counts[i, j]})", ha="center", va="center",
                    fontsize=8, color=color)  # fmt: skip
    names = stats.get("class_names", CLASS_NAMES)
    rows = [f"{c} ({a:.2f})" for c, a in zip(names, stats["per_class_accuracy"])]
    ax.set(xticks=range(len(names)), yticks=range(len(names)))
    ax.set_xticklabels(names, rotation=45, ha="right")
    ax.set_yticklabels(rows)
    ax.set(xlabel="predicted", ylabel="true (per-class accuracy)")
    ax.set_title(f"{title}: accuracy {stats['accuracy']:.3f}")
    fig.colorbar(im, ax=ax, label="share of the true class")
    return fig


def _face(ax, image, title=None):
    ax.imshow(np.asarray(image).squeeze(), cmap="gray", vmin=0, vmax=255)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def plot_saliency(faces, maps, captions, method, per_row=2):
    """Face, heatmap and overlay for each face, `per_row` faces a row; None leaves a gap."""
    rows = math.ceil(len(faces) / per_row)
    fig, axes = plt.subplots(
        rows, 3 * per_row, figsize=(4.2 * per_row + 0.8, 1.55 * rows + 0.5), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for ax in axes.flat:
        ax.set_axis_off()
    im = None
    for k, (face, heat, caption) in enumerate(zip(faces, maps, captions)):
        if face is None:
            continue
        row, col = divmod(k, per_row)
        a_face, a_heat, a_over = axes[row, 3 * col : 3 * col + 3]
        _face(a_face, face)
        a_face.set_axis_on()
        a_face.set_ylabel(caption, fontsize=7)
        im = a_heat.imshow(heat, cmap="jet", vmin=0, vmax=1)
        _face(a_over, face)
        a_over.imshow(heat, cmap="jet", alpha=0.45, vmin=0, vmax=1)
    if im is not None:
        fig.colorbar(im, ax=axes, fraction=0.02, label="relevance (normalised per face)")
    fig.suptitle(
        f"{method}: face, map, overlay (label: true -> predicted, training row)", fontsize=9
    )
    return fig


def _grid(n, ncols, cell=1.0, colorbar=False):
    """A figure of n small cells. Spaced by hand: a constrained layout of a hundred axes
    took most of analyze.py's time, in drawing them."""
    nrows = math.ceil(n / ncols)
    size = (cell * ncols, cell * nrows + 0.5)
    right = 0.86 if colorbar else 0.98
    spacing = {"left": 0.02, "right": right, "bottom": 0.01, "top": 1 - 0.55 / size[1]}
    fig, axes = plt.subplots(
        nrows, ncols, figsize=size, squeeze=False, gridspec_kw=spacing | {"hspace": 0.45}
    )
    for ax in axes.flat:
        ax.set_axis_off()
    return fig, axes.flat


def _stretch(image):
    """Contrast-stretch for display: ascent pictures use only part of the range."""
    lo, hi = np.percentile(image, [1, 99])
    return np.clip((image - lo) / max(hi - lo, 1e-6), 0, 1) * 255


def plot_filter_grid(images, activations, title, ncols=8):
    """Gradient-ascent pictures of a layer's filters; dead filters are marked."""
    fig, cells = _grid(len(images), ncols, cell=1.15)
    for i, (ax, image, act) in enumerate(zip(cells, images, activations)):
        _face(ax, _stretch(image))
        ax.set_axis_on()
        ax.set_title(f"{i}: {act:.2g}" + (" dead" if act <= 0 else ""), fontsize=6)
    fig.suptitle(title + "  (filter: final mean activation)", fontsize=10)
    return fig


def plot_class_max(rows, title, class_names=CLASS_NAMES):
    """rows: list of (label, start image or None, images (classes, h, w), probabilities)."""
    n_cols = len(class_names) + 1
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.5 * n_cols, 1.9 * len(rows)),
                             layout="constrained", squeeze=False)  # fmt: skip
    for r, (label, start, images, probs) in enumerate(rows):
        for ax in axes[r]:
            ax.set_axis_off()
        if start is not None:
            _face(axes[r, 0], start, f"start: {label}")
        for c, (image, p) in enumerate(zip(images, probs), start=1):
            _face(axes[r, c], _stretch(image), f"{class_names[c - 1]}\np={p:.3f}")
    fig.suptitle(title, fontsize=10)
    return fig


def plot_feature_maps(face, maps, layer, caption, ncols=8):
    """All channels of one layer's output for one face, with the face in the first cell."""
    channels = maps.shape[-1]
    fig, cells = _grid(channels + 1, ncols, cell=1.1, colorbar=True)
    cells = list(cells)
    _face(cells[0], face, caption)
    cells[0].set_axis_on()
    vmax = max(float(maps.max()), 1e-6)
    for c in range(channels):
        im = cells[c + 1].imshow(maps[..., c], cmap="viridis", vmin=0, vmax=vmax)
        cells[c + 1].set_title(str(c), fontsize=6)
    fig.colorbar(im, cax=fig.add_axes((0.89, 0.1, 0.02, 0.75)), label="activation")
    fig.suptitle(f"{layer}: {channels} channels, one colour scale", fontsize=10)
    return fig


def plot_compare(records):
    """Validation accuracy against epoch and against wall-clock minutes, one line per run."""
    fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for r in records:
        h = r["history"]
        acc = [e["val_accuracy"] for e in h]
        label = f"{' -> '.join(r.get('lineage', [r['name']]))} ({r['params']:,} params)"
        by_epoch.plot([e["epoch"] for e in h], acc, label=label)
        by_time.plot([e["wall_seconds"] / 60 for e in h], acc, label=label)
    by_epoch.set(xlabel="epoch", ylabel="validation accuracy", title="by epoch")
    by_time.set(xlabel="wall-clock minutes", ylabel="validation accuracy", title="by time")
    for ax in (by_epoch, by_time):
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


def plot_reliability(curves, stats, title):
    """Accuracy against confidence per bin (the diagonal is perfect calibration), one
    line per curve name; bar widths show the share of faces in each bin."""
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="calibrated")
    for name, rows in curves.items():
        ok = ~np.isnan(rows[:, 0])
        label = f"{name} (ECE {stats[name]['ece']:.3f})"
        ax.plot(rows[ok, 0], rows[ok, 1], marker="o", ms=3, label=label)
    first = next(iter(curves.values()))
    edges = np.linspace(0, 1, len(first) + 1)
    ax.bar(edges[:-1], first[:, 2], width=np.diff(edges), align="edge", alpha=0.15, color="k")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy", title=title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def plot_faces(faces, captions, title, ncols=4):
    """Faces (n, 48, 48, 1) in a grid, each with its caption below."""
    fig, axes = _grid(len(faces), ncols, cell=2.2)
    for ax, face, caption in zip(axes, faces, captions):
        ax.imshow(face[:, :, 0], cmap="gray", vmin=0, vmax=255)
        ax.set_title(caption, fontsize=7)
    fig.suptitle(title, fontsize=10)
    return fig
