"""PNG figures for training and evaluation (matplotlib, no display needed)."""

from __future__ import annotations

import io

import numpy as np

__all__ = ["training_curves", "score_histogram", "confusion_figure", "confusion_matrix"]


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def training_curves(history: dict, kind: str) -> bytes:
    """Loss and accuracy per epoch, training vs validation."""
    fig = _figure(9, 3.5)
    for i, metric in enumerate(("loss", "accuracy")):
        ax = fig.add_subplot(1, 2, i + 1)
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            if key in history:
                ax.plot(np.arange(1, len(history[key]) + 1), history[key], label=label, marker=".")
        ax.set_xlabel("epoch")
        ax.set_title(f"{kind} head: {metric}")
        ax.grid(alpha=0.3)
        ax.legend()
    return _png(fig)


def score_histogram(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> bytes:
    """Best scores of held-out enrolled photos vs impostors, with the calibrated threshold."""
    fig = _figure(6, 3.5)
    ax = fig.add_subplot(1, 1, 1)
    bins = np.linspace(0, 1, 41)
    if len(genuine):
        ax.hist(genuine, bins=bins, alpha=0.6, label=f"enrolled, held out ({len(genuine)})")
    if len(impostor):
        ax.hist(impostor, bins=bins, alpha=0.6, label=f"impostors ({len(impostor)})")
    ax.axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold:.3f}")
    ax.set_xlabel("best score")
    ax.set_ylabel("photos")
    ax.legend()
    return _png(fig)


def confusion_figure(matrix: np.ndarray, rows: list[str], cols: list[str]):
    """The figure of :func:`confusion_matrix`: each non-zero cell shows its count (white on dark cells)."""
    size = max(5.0, 0.18 * max(len(rows), len(cols)) + 2)
    fig = _figure(size, size)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(matrix, cmap="Blues", interpolation="nearest")
    small = 6 if max(len(rows), len(cols)) > 20 else 9
    ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=small)
    ax.set_yticks(range(len(rows)), rows, fontsize=small)
    dark = matrix.max() / 2.0
    for (r, c), count in np.ndenumerate(matrix):
        if count:
            ax.text(c, r, str(int(count)), ha="center", va="center", fontsize=small,
                    color="white" if count > dark else "black")
    ax.set_xlabel("given name")
    ax.set_ylabel("true name")
    return fig


def confusion_matrix(matrix: np.ndarray, rows: list[str], cols: list[str]) -> bytes:
    """Counts of true name (rows) vs given name (columns, ``unknown`` last), as a PNG."""
    return _png(confusion_figure(matrix, rows, cols))
