"""Precision-recall plot (PNG, matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

from skyscan.evaluate.metrics import ClassResult

_COLOURS = {"car": "tab:red", "truck": "tab:orange", "bus": "tab:gray"}


def plot_pr(results: dict[str, ClassResult], path: str | Path, title: str = "") -> Path:
    """One PR curve per class with labels; the operating point (card threshold) is marked."""
    from skyscan.errors import require

    matplotlib = require("matplotlib", "train")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    for name, r in results.items():
        if r.n_labels == 0:
            continue
        colour = _COLOURS.get(name)
        ax.plot(
            r.curve_recall,
            r.curve_precision,
            color=colour,
            label=f"{name} AP50={r.ap50:.3f} (n={r.n_labels})",
        )
        ax.plot([r.recall], [r.precision], "o", color=colour)
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title or "precision-recall at IoU 0.5")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
