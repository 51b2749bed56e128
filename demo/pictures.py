"""Pictures of a demo run: recall bars per protocol, training curves, and one HTML retrieval viewer per run."""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.viewer import PREDICTIONS_FILE, render_viewer  # noqa: E402


def plot_recalls(tables: dict[str, dict], dest: Path) -> list[Path]:
    """One grouped bar chart per protocol: methods × the protocol's metric columns."""
    out = []
    for protocol, t in tables.items():
        cols, rows = t["columns"], t["rows"]
        if not cols or not rows:
            continue
        fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(cols) * max(1, len(rows)) / 2), 4))
        width = 0.8 / len(rows)
        for i, row in enumerate(rows):
            xs = [j + i * width for j in range(len(cols))]
            ax.bar(xs, [row["values"][c] or 0.0 for c in cols], width, label=row["method"])
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(cols))], cols, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("%")
        ax.set_title(protocol)
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        path = dest / f"recall_{protocol.replace('/', '_')}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        out.append(path)
    return out


def _scalars(event_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(event_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags().get("scalars", [])}


def plot_curves(runs_root: Path, dest: Path) -> list[Path]:
    """Training loss and validation curves of every run that wrote tensorboard events, one PNG per method."""
    per_method: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(dict)
    for ev in sorted(runs_root.rglob("events.out.tfevents.*")):
        run_dir = ev.parent
        method = run_dir.relative_to(runs_root).parts[0]
        label = "/".join(run_dir.relative_to(runs_root).parts[1:]) or method
        for tag, points in _scalars(run_dir).items():
            if len(points) > 1:
                per_method[method][f"{label}:{tag}"] = points
    out = []
    for method, series in per_method.items():
        losses = {k: v for k, v in series.items() if "loss" in k.lower()}
        others = {k: v for k, v in series.items() if k not in losses}
        panels = [(n, s) for n, s in (("training loss", losses), ("validation", others)) if s]
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 3.6), squeeze=False)
        for ax, (name, s) in zip(axes[0], panels):
            for k, pts in sorted(s.items())[:12]:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=k, lw=1)
            ax.set_title(f"{method}: {name}")
            ax.set_xlabel("step")
            ax.legend(fontsize=6)
        fig.tight_layout()
        path = dest / f"curves_{method}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        out.append(path)
    return out


def render_viewers(runs_root: Path, dest: Path) -> list[Path]:
    """An HTML viewer for every predictions.json below runs_root (opens from disk)."""
    out = []
    for pred in sorted(runs_root.rglob(PREDICTIONS_FILE)):
        rel = pred.parent.relative_to(runs_root)
        name = "_".join(rel.parts)
        data = json.loads(pred.read_text())
        out.append(render_viewer(data, f"{'/'.join(rel.parts)}", dest / f"{name}.html"))
    return out


def draw_everything(runs_root: str | os.PathLike, out_dir: str | os.PathLike, tables: dict[str, dict]) -> list[Path]:
    """All pictures of a run into `<out_dir>/pictures` and `<out_dir>/viewer`."""
    runs_root, out_dir = Path(runs_root), Path(out_dir)
    pics, viewer = out_dir / "pictures", out_dir / "viewer"
    pics.mkdir(parents=True, exist_ok=True)
    viewer.mkdir(parents=True, exist_ok=True)
    return plot_recalls(tables, pics) + plot_curves(runs_root, pics) + render_viewers(runs_root, viewer)
