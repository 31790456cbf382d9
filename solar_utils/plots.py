"""The figures the notebooks show (matplotlib); each function returns the figure so a stage can save it."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

ORIGINAL, COPY, DROPPED = "#4C72B0", "#DD8452", "#D0D0D0"


def loss_curve(log_history: list[dict[str, Any]], baselines: dict[str, float] | None = None,
               title: str = "Pretraining") -> Figure:
    """Training and held-out loss against steps (from the Trainer's log history), with baseline lines."""
    fig, ax = plt.subplots(figsize=(7, 4))
    train = [(r["step"], r["loss"]) for r in log_history if "loss" in r]
    held = [(r["step"], r["eval_loss"]) for r in log_history if "eval_loss" in r]
    if train:
        ax.plot(*zip(*train), label="training loss", alpha=0.6)
    if held:
        ax.plot(*zip(*held), "o-", label="held-out loss")
    for (label, value), style in zip((baselines or {}).items(), ("--", ":", "-.")):
        ax.axhline(value, color="gray", linestyle=style, label=f"{label} ({value:.2f})")
    ax.set(xlabel="step", ylabel="loss (nats/token)", title=title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def loss_curves(curves: dict[str, list[tuple[int, float]]], baselines: dict[str, float] | None = None,
                title: str = "", ylabel: str = "held-out loss (nats/token)") -> Figure:
    """One line per run (step, loss), with horizontal reference lines (e.g. the base model's loss)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for label, curve in curves.items():
        ax.plot(*zip(*curve), "o-", markersize=3, label=label)
    for (label, value), style in zip((baselines or {}).items(), ("--", ":", "-.")):
        ax.axhline(value, color="black", linestyle=style, linewidth=1, label=f"{label} ({value:.3f})")
    ax.set(xlabel="step", ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def layer_map(n: int, m: int, ax: plt.Axes | None = None) -> Figure:
    """Depth up-scaling as a picture: two copies of an n-layer model, the 2m dropped layers, the 2(n-m) stack."""
    fig = ax.figure if ax is not None else plt.figure(figsize=(7.5, max(3.0, n * 0.22 + 1.2)))
    ax = ax or fig.add_subplot()
    height = 1.0
    for col, (label, color, dropped) in enumerate((("original", ORIGINAL, range(n - m, n)),
                                                   ("copy", COPY, range(0, m)))):
        x = col * 1.6
        for i in range(n):
            face = DROPPED if i in dropped else color
            ax.add_patch(Rectangle((x, i * height), 1.2, 0.85 * height, facecolor=face, edgecolor="white"))
        ax.text(x + 0.6, n * height + 0.3, f"{label}\n(n = {n})", ha="center", va="bottom", fontsize=9)
    stack_x = 4.6
    for j in range(2 * (n - m)):
        from_original = j < n - m
        source = j if from_original else j - (n - m) + m
        y = j * height * n / (2 * (n - m))
        h = 0.85 * height * n / (2 * (n - m))
        ax.add_patch(Rectangle((stack_x, y), 1.2, h, facecolor=ORIGINAL if from_original else COPY,
                               edgecolor="white"))
        if n <= 16:
            ax.text(stack_x + 0.6, y + h / 2, str(source), ha="center", va="center", fontsize=7, color="white")
    ax.add_patch(FancyArrowPatch((3.0, n * height / 2), (4.4, n * height / 2), arrowstyle="-|>",
                                 mutation_scale=18, color="black"))
    ax.text(stack_x + 0.6, n * height + 0.3, f"DUS model\n(s = 2(n - m) = {2 * (n - m)})", ha="center",
            va="bottom", fontsize=9)
    ax.text(1.4, -0.9, f"grey: the last m = {m} layers of the original and the first m of the copy are dropped",
            ha="center", fontsize=8, color="dimgray")
    ax.set_xlim(-0.3, 6.2)
    ax.set_ylim(-1.4, n * height + 2.0)
    ax.axis("off")
    return fig


def layer_maps(*shapes: tuple[int, int]) -> Figure:
    """Several ``(n, m)`` layer maps side by side (e.g. ours and the paper's)."""
    fig, axes = plt.subplots(1, len(shapes), figsize=(6.5 * len(shapes), 5.5), squeeze=False)
    for ax, (n, m) in zip(axes[0], shapes):
        layer_map(n, m, ax=ax)
    return fig


def bars(values: dict[str, float], reference: float | None = None, reference_label: str = "base",
         ylabel: str = "held-out loss (nats/token)", title: str = "") -> Figure:
    """A bar per model, with an optional horizontal reference line (e.g. the base model's loss)."""
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(values)), 3.8))
    bars_ = ax.bar(list(values), list(values.values()), color=ORIGINAL)
    ax.bar_label(bars_, fmt="%.3f", fontsize=8)
    if reference is not None:
        ax.axhline(reference, color="black", linestyle="--", linewidth=1, label=f"{reference_label} ({reference:.3f})")
        ax.legend()
    ax.set(ylabel=ylabel, title=title)
    ax.tick_params(axis="x", labelsize=8)
    fig.autofmt_xdate(rotation=20)
    return fig


def sweep(xs: list[float], ys: list[float], xlabel: str, ylabel: str, reference: float | None = None,
          reference_label: str = "base", title: str = "") -> Figure:
    """A line plot of a metric against a swept setting, with an optional reference line."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(xs, ys, "o-")
    for x, y in zip(xs, ys):
        ax.annotate(f"{y:.3f}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    if reference is not None:
        ax.axhline(reference, color="black", linestyle="--", linewidth=1, label=f"{reference_label} ({reference:.3f})")
        ax.legend()
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    return fig
