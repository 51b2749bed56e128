"""How much of a benchmark is on disk: a coverage record for metrics.json and a loud check before evaluation."""
from __future__ import annotations

import sys
import warnings

from common.data.base import BenchmarkReader
from common.data.errors import DataFormatError


def coverage(reader: BenchmarkReader) -> dict:
    """``{"dataset", "split", "referenced", "present", "missing", "fraction"}`` over the reader's referenced images."""
    referenced = reader.referenced_images()
    missing = [name for name in referenced if not reader.image_path(name).is_file()]
    total = len(referenced)
    return {"dataset": reader.dataset, "split": reader.split, "referenced": total,
            "present": total - len(missing), "missing": len(missing),
            "fraction": (total - len(missing)) / total if total else 1.0}


def check_coverage(reader: BenchmarkReader, allow_partial: bool) -> dict:
    """Return :func:`coverage`; on a partial dataset raise, or (``allow_partial``) warn and print to stderr."""
    report = coverage(reader)
    if report["missing"]:
        message = (f"PARTIAL DATASET: {reader.dataset} {reader.split}: {report['missing']} of {report['referenced']} "
                   f"referenced images are missing (coverage {100 * report['fraction']:.2f}%); "
                   f"numbers are not comparable to published ones")
        if not allow_partial:
            first = reader.missing_images()[0]
            raise DataFormatError(reader.image_path(first), "image",
                                  f"missing; {message} (pass allow_partial to evaluate anyway)")
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        print(f"WARNING: {message}", file=sys.stderr, flush=True)
    return report
