"""Write CIRR (recall + recall_subset) and CIRCO test-server JSON files, checked before writing."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from common.atomic import write_json_atomic
from common.submission.validator import CIRCO_TOP_K, CIRR_SUBSET_TOP_K, CIRR_TOP_K, check_content


def _top(rankings: Sequence[Sequence[str]], k: int, what: str, ids: Sequence) -> list[list[str]]:
    if len(rankings) != len(ids):
        raise ValueError(f"{what}: {len(rankings)} rankings for {len(ids)} queries")
    return [list(r[:k]) for r in rankings]


def write_cirr_submission(out_dir: str | Path, name: str, pairids: Sequence[int | str],
                          ranked: Sequence[Sequence[str]], subset_ranked: Sequence[Sequence[str]]) -> tuple[Path, Path]:
    """Write `recall_submission_<name>.json` (top-50) and `recall_subset_submission_<name>.json` (top-3).

    `ranked` must already exclude each query's reference image; `subset_ranked` is the ranking
    restricted to the query's `img_set.members` (reference removed). Returns both paths.
    """
    keys = [str(int(p)) for p in pairids]
    recall = {"version": "rc2", "metric": "recall"}
    recall.update(zip(keys, _top(ranked, CIRR_TOP_K, "ranked", keys)))
    subset = {"version": "rc2", "metric": "recall_subset"}
    subset.update(zip(keys, _top(subset_ranked, CIRR_SUBSET_TOP_K, "subset_ranked", keys)))
    out_dir = Path(out_dir)
    recall_path = out_dir / f"recall_submission_{name}.json"
    subset_path = out_dir / f"recall_subset_submission_{name}.json"
    check_content(recall, "cirr", recall_path)
    check_content(subset, "cirr_subset", subset_path)
    write_json_atomic(recall, recall_path, sort_keys=True, indent=None)
    write_json_atomic(subset, subset_path, sort_keys=True, indent=None)
    return recall_path, subset_path


def write_circo_submission(path: str | Path, query_ids: Sequence[int | str],
                           ranked: Sequence[Sequence[str | int]]) -> Path:
    """Write `{"<query id>": [top-50 image ids as strings]}` for the CIRCO server."""
    keys = [str(int(q)) for q in query_ids]
    content = {key: [str(i) for i in r] for key, r in zip(keys, _top(ranked, CIRCO_TOP_K, "ranked", keys))}
    check_content(content, "circo", path)
    return write_json_atomic(content, path, sort_keys=True, indent=None)
