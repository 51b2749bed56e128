"""Validate CIRR/CIRCO submission files: structure, counts, uniqueness and, given annotations, coverage."""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CIRR_TOP_K = 50
CIRR_SUBSET_TOP_K = 3
CIRCO_TOP_K = 50
KINDS = ("cirr", "cirr_subset", "circo")


class SubmissionError(ValueError):
    """A submission that the evaluation server would reject or mis-score."""


def _int_key(key: str, where: str) -> None:
    try:
        canonical = str(int(key))
    except ValueError:
        canonical = None
    if canonical != key:
        raise SubmissionError(f"{where}: key {key!r} is not a query id written as str(int(id))")


def check_content(content: Any, kind: str, where: str | Path, annotations: list[dict] | None = None) -> int:
    """Raise SubmissionError("<where>: <reason>") for the first problem; return the number of queries."""
    if kind not in KINDS:
        raise ValueError(f"unknown submission kind {kind!r}; expected one of {KINDS}")
    if not isinstance(content, Mapping):
        raise SubmissionError(f"{where}: top level must be a JSON object, got {type(content).__name__}")
    rankings = dict(content)
    if kind in ("cirr", "cirr_subset"):
        metric = "recall" if kind == "cirr" else "recall_subset"
        if rankings.pop("version", None) != "rc2":
            raise SubmissionError(f'{where}: "version" must be "rc2"')
        if rankings.pop("metric", None) != metric:
            raise SubmissionError(f'{where}: "metric" must be "{metric}"')
        top_k = CIRR_TOP_K if kind == "cirr" else CIRR_SUBSET_TOP_K
    else:
        top_k = CIRCO_TOP_K
    if not rankings:
        raise SubmissionError(f"{where}: no query rankings")
    for key, ranked in rankings.items():
        _int_key(key, where)
        if not isinstance(ranked, list) or not all(isinstance(name, str) for name in ranked):
            raise SubmissionError(f"{where}: query {key}: ranking must be a list of strings")
        if len(ranked) != top_k:
            raise SubmissionError(f"{where}: query {key}: {len(ranked)} ids, expected {top_k}")
        if len(set(ranked)) != len(ranked):
            raise SubmissionError(f"{where}: query {key}: duplicate ids in the ranking")
    if annotations is not None:
        _check_against_annotations(rankings, kind, where, annotations)
    return len(rankings)


def _annotation_fields(record: Any, kind: str, where: str | Path) -> tuple[str, str, list[str] | None]:
    try:
        if kind == "circo":
            return str(int(record["id"])), str(record["reference_img_id"]), None
        return str(int(record["pairid"])), str(record["reference"]), list(record["img_set"]["members"])
    except (KeyError, TypeError, ValueError) as err:
        field = "id/reference_img_id" if kind == "circo" else "pairid/reference/img_set.members"
        raise SubmissionError(f"{where}: annotation record lacks a valid {field} ({err!r})") from None


def _check_against_annotations(rankings: dict[str, list[str]], kind: str, where: str | Path,
                               annotations: list[dict]) -> None:
    expected = {}
    for record in annotations:
        query_id, reference, members = _annotation_fields(record, kind, where)
        expected[query_id] = (reference, members)
    missing = sorted(set(expected) - set(rankings), key=int)
    if missing:
        raise SubmissionError(f"{where}: {len(missing)} annotated queries missing, e.g. {missing[0]}")
    extra = sorted(set(rankings) - set(expected), key=int)
    if extra:
        raise SubmissionError(f"{where}: {len(extra)} queries not in the annotations, e.g. {extra[0]}")
    if kind == "circo":
        return
    for key, ranked in rankings.items():
        reference, members = expected[key]
        if reference in ranked:
            raise SubmissionError(f"{where}: query {key}: ranking contains its reference image {reference}")
        if kind == "cirr_subset":
            outside = [name for name in ranked if name not in members]
            if outside:
                raise SubmissionError(f"{where}: query {key}: {outside[0]} is not in its img_set.members")


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    content = dict(pairs)
    if len(content) < len(pairs):  # json.load would silently keep the last ranking of a repeated query id
        repeated = sorted(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
        raise ValueError(f"duplicate key {repeated[0]!r} ({len(repeated)} keys repeated)")
    return content


def _read_json(path: Path, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle, object_pairs_hook=_object_without_duplicate_keys)
    except FileNotFoundError:
        raise SubmissionError(f"{path}: {what} file not found") from None
    except ValueError as err:
        if not isinstance(err, (json.JSONDecodeError, UnicodeDecodeError)):
            raise SubmissionError(f"{path}: {err}") from None
        raise SubmissionError(f"{path}: not valid JSON ({err})") from None


def validate_submission(path: str | Path, kind: str, annotations: str | Path | None = None) -> int:
    """Validate a submission file (against `cap.rc2.test1.json` / CIRCO `test.json` if given); return #queries."""
    path = Path(path)
    content = _read_json(path, "submission")
    records = None
    if annotations is not None:
        records = _read_json(Path(annotations), "annotation")
        if not isinstance(records, list):
            raise SubmissionError(f"{annotations}: annotations must be a JSON list of query records")
    return check_content(content, kind, path, records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.submission",
                                     description="Validate a CIRR or CIRCO test-server submission file.")
    parser.add_argument("file", type=Path)
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument("--annotations", type=Path, default=None,
                        help="cap.rc2.test1.json (CIRR) or test.json (CIRCO) to check coverage and references")
    args = parser.parse_args(argv)
    try:
        count = validate_submission(args.file, args.kind, args.annotations)
    except SubmissionError as err:
        print(f"invalid: {err}", file=sys.stderr)
        return 1
    print(f"ok: {args.file}: {args.kind} submission with {count} queries")
    return 0
