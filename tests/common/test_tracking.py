"""metrics.json carries every required field; bad metrics are refused; scalars reach tensorboard."""
import argparse
import json
import math
from pathlib import Path

import pytest

from common.tracking import RunTracker, package_versions

REQUIRED = {"method", "dataset", "split", "protocol", "metrics", "config", "git_sha", "versions", "coverage"}


def test_metrics_json_fields(tmp_path):
    config = argparse.Namespace(lr=1e-4, data_root=Path("datasets/synthetic"), ks=(1, 5))
    tracker = RunTracker(tmp_path / "run", "image_only", "cirr", "val", "cirr.rc2", config, variant="seed1",
                         tensorboard=False)
    path = tracker.write_metrics({"R@1": 12.5, "R@5": 40}, coverage={"queries": 10, "queries_total": 12})
    record = json.loads(path.read_text())
    assert path == tmp_path / "run" / "metrics.json"
    assert REQUIRED <= set(record)
    assert (record["method"], record["dataset"], record["split"], record["protocol"]) == \
        ("image_only", "cirr", "val", "cirr.rc2")
    assert record["metrics"] == {"R@1": 12.5, "R@5": 40.0}
    assert record["config"] == {"lr": 1e-4, "data_root": "datasets/synthetic", "ks": [1, 5]}
    assert record["coverage"] == {"queries": 10, "queries_total": 12}
    assert record["variant"] == "seed1"
    assert set(record["versions"]) == {"python", "torch", "torchvision", "open_clip", "transformers", "numpy"}
    assert record["versions"]["torch"] and record["versions"]["numpy"]
    assert record["git_sha"] is None or len(record["git_sha"].split("-")[0]) == 40
    assert not list((tmp_path / "run").glob(".*.tmp"))


def test_versions_are_the_installed_ones():
    import numpy
    import torch

    versions = package_versions()
    assert versions["numpy"] == numpy.__version__
    assert versions["torch"] == torch.__version__


@pytest.mark.parametrize("bad", [math.nan, math.inf, "12%", None])
def test_non_numeric_metrics_are_refused_and_nothing_is_written(tmp_path, bad):
    tracker = RunTracker(tmp_path, "m", "d", "val", "p", {}, tensorboard=False)
    with pytest.raises(ValueError, match="metrics.R@1: metric must be a finite number"):
        tracker.write_metrics({"R@1": bad})
    assert not (tmp_path / "metrics.json").exists()


def test_tensorboard_scalars_and_progress(tmp_path):
    with RunTracker(tmp_path, "m", "d", "val", "p", {"a": 1}) as tracker:
        tracker.log_scalar("train/loss", 0.5, 1)
        assert list(tracker.progress(range(3), desc="x")) == [0, 1, 2]
        tracker.write_metrics({"R@1": 1.0})
    events = list(tmp_path.glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
