"""Run tracking: tensorboard scalars and tqdm bars on rank 0, and the run's `metrics.json`."""
from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import platform
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from common.atomic import write_json_atomic
from common.dist import is_main

METRICS_FILE = "metrics.json"
# metrics.json key -> installed distribution name
TRACKED_PACKAGES = {
    "torch": "torch",
    "torchvision": "torchvision",
    "open_clip": "open_clip_torch",
    "transformers": "transformers",
    "numpy": "numpy",
}
REPO_ROOT = Path(__file__).resolve().parents[1]


def package_versions() -> dict[str, str | None]:
    """Versions of python and the packages a result depends on (None when not installed).

    torch's build tag (e.g. `2.14.1+cu130`) is kept: it tells CPU and CUDA wheels apart.
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for key, dist_name in TRACKED_PACKAGES.items():
        if key == "torch":
            versions[key] = torch.__version__
            continue
        try:
            versions[key] = metadata.version(dist_name)
        except metadata.PackageNotFoundError:
            versions[key] = None
    return versions


@functools.lru_cache(maxsize=None)
def git_sha(repo: Path = REPO_ROOT) -> str | None:
    """HEAD commit of the repository, with a `-dirty` suffix when tracked files are modified; None outside git.

    Computed once per process: the code that runs is the code of the process start.
    """
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                                capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if status else sha


def to_jsonable(value: Any) -> Any:
    """Convert configs (argparse Namespace, dataclasses, Paths, tuples, sets) to plain JSON types."""
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(to_jsonable(v) for v in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return value.item()
    return str(value)


def _check_metrics(metrics: Mapping[str, Any], where: str = "metrics") -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            checked[key] = _check_metrics(value, f"{where}.{key}")
            continue
        if hasattr(value, "item") and callable(value.item):
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{where}.{key}: metric must be a finite number, got {value!r}")
        checked[key] = float(value)
    return checked


class RunTracker:
    """One run's outputs under `output_dir`: tensorboard events, progress bars and `metrics.json` (rank 0)."""

    def __init__(self, output_dir: str | Path, method: str, dataset: str, split: str, protocol: str,
                 config: Any = None, variant: str | None = None, tensorboard: bool = True) -> None:
        self.output_dir = Path(output_dir)
        self.method, self.dataset, self.split, self.protocol = method, dataset, split, protocol
        self.config = to_jsonable(config if config is not None else {})
        self.variant = variant
        self.is_main = is_main()
        self._use_tensorboard = tensorboard
        self._writer = None
        if self.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)

    @property
    def writer(self):
        """The tensorboard SummaryWriter (created on first use, rank 0 only; None elsewhere)."""
        if self._writer is None and self.is_main and self._use_tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.output_dir))
        return self._writer

    def log_scalar(self, tag: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, float(value), step)

    def log_scalars(self, values: Mapping[str, float], step: int, prefix: str = "") -> None:
        for tag, value in values.items():
            self.log_scalar(f"{prefix}{tag}", value, step)

    def progress(self, iterable: Iterable, desc: str = "", total: int | None = None, **tqdm_kwargs: Any) -> Iterable:
        """A tqdm bar over `iterable` on rank 0; the bare iterable on other ranks."""
        if not self.is_main:
            return iterable
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, total=total, dynamic_ncols=True, **tqdm_kwargs)

    def record(self, metrics: Mapping[str, Any], coverage: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The metrics.json content for `metrics` (validated: finite numbers only)."""
        record = {
            "method": self.method,
            "dataset": self.dataset,
            "split": self.split,
            "protocol": self.protocol,
            "metrics": _check_metrics(metrics),
            "config": self.config,
            "git_sha": git_sha(),
            "versions": package_versions(),
            "coverage": to_jsonable(coverage) if coverage is not None else None,
        }
        if self.variant is not None:
            record["variant"] = self.variant
        return record

    def write_metrics(self, metrics: Mapping[str, Any], coverage: Mapping[str, Any] | None = None) -> Path:
        """Atomically write `<output_dir>/metrics.json` (rank 0 only; other ranks just return the path)."""
        path = self.output_dir / METRICS_FILE
        record = self.record(metrics, coverage)
        if self.is_main:
            write_json_atomic(record, path)
            if self.writer is not None:
                for key, value in record["metrics"].items():
                    if isinstance(value, float):
                        self.writer.add_scalar(f"final/{key}", value, 0)
                self.writer.flush()
        return path

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> "RunTracker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
