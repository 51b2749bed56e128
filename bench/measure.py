"""Shared benchmark plumbing: one result row, median-of-N timing, peak RSS of a process, machine description."""
from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass
class Figure:
    """One row of the results table: a measured value against its goal (`value <= goal`, or `>=` when `higher`)."""

    name: str
    value: float
    goal: float
    higher_is_better: bool = False
    unit: str = ""
    details: dict[str, float | str] = field(default_factory=dict)
    note: str = ""

    @property
    def met(self) -> bool:
        return self.value >= self.goal if self.higher_is_better else self.value <= self.goal

    def as_row(self) -> dict[str, object]:
        return {"figure": self.name, "value": self.value, "goal": f"{'>=' if self.higher_is_better else '<='} "
                f"{self.goal:g}{self.unit}", "met": self.met, "details": self.details, "note": self.note}


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall seconds of `fn()` over `repeats` calls after `warmup` untimed calls."""
    if repeats < 1:
        raise ValueError(f"median_time: repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_medians(first: Callable[[], object], second: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of two functions timed alternately (one warm-up each), so machine-load drift hits both alike."""
    first()
    second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, bucket in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field_name} line")


def rss_bytes() -> int:
    """Current resident set size of this process."""
    return _status_kib("VmRSS") * 1024


def reset_peak_rss() -> None:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0 `clear_refs` 5)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def peak_rss_bytes() -> int:
    """Peak resident set size of this process since start or the last `reset_peak_rss()`."""
    return _status_kib("VmHWM") * 1024


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> float:
    """1-minute load average (how busy the shared machine was)."""
    return os.getloadavg()[0]


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    return {"nproc": os.cpu_count(), "cpu": cpu_model(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "load_average_1min": round(load_average(), 2)}
