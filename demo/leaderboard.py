"""Collect every run's `metrics.json` into `leaderboard.md` / `leaderboard.json`, one table per protocol."""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

# The papers' own headline metrics, per protocol family (columns of the tables, in order).
PROTOCOL_COLUMNS: dict[str, list[str]] = {
    "fiq": ["dress_R@10", "dress_R@50", "shirt_R@10", "shirt_R@50", "toptee_R@10", "toptee_R@50",
            "average_R@10", "average_R@50", "avg"],
    "shoes": ["R@1", "R@10", "R@50", "avg"],
    "f200k": ["R@1", "R@10", "R@50"],
    "cirr": ["R@1", "R@5", "R@10", "R@50", "Rsubset@1", "Rsubset@2", "Rsubset@3", "avg"],
    "circo": ["mAP@5", "mAP@10", "mAP@25", "mAP@50"],
    "genecis": ["R@1", "R@2", "R@3"],
    "fashionmt": ["R@1", "R@5", "R@10", "R@20", "mean"],
}
# The column a protocol family's rows are ranked by, where it is not the last one (GeneCIS reports R@1).
RANK_COLUMN = {"genecis": "R@1"}
GENECIS_TASKS = ("focus_attribute", "change_attribute", "focus_object", "change_object")
GENECIS_AVERAGE = "genecis.average"
PROTOCOL_TITLES = {
    "fiq": "FashionIQ", "shoes": "Shoes", "f200k": "Fashion200k", "cirr": "CIRR", "circo": "CIRCO",
    "genecis": "GeneCIS", "fashionmt": "FashionMT",
}


def collect_runs(out_root: str | os.PathLike) -> list[dict]:
    """Read every `metrics.json` below `out_root`; attach the command that produced it (from `commands.json`)."""
    commands: dict[str, str] = {}
    for record in Path(out_root).rglob("commands.json"):
        commands.update(json.loads(record.read_text()))
    runs = []
    for path in sorted(Path(out_root).rglob("metrics.json")):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
        for key in ("method", "protocol", "metrics"):
            if key not in data:
                raise ValueError(f"{path}: missing field '{key}'")
        data["path"] = str(path)
        data["command"] = commands.get(str(path.resolve()), "")
        runs.append(data)
    return runs


def _family(protocol: str) -> str:
    return protocol.split(".")[0]


def _columns(family: str, runs: list[dict]) -> list[str]:
    wanted = PROTOCOL_COLUMNS.get(family)
    present = sorted({k for r in runs for k, v in r["metrics"].items() if isinstance(v, (int, float))})
    if wanted is None:
        return present
    cols = [c for c in wanted if any(c in r["metrics"] for r in runs)]
    return cols or present


def build_tables(runs: list[dict]) -> dict[str, dict]:
    """Group runs by protocol: {protocol: {"columns": [...], "rows": [{"method", "values", "command"}]}}."""
    newest: dict[tuple, dict] = {}
    # labelled evaluations only: a run must report one of its protocol's headline metrics (test-server runs that
    # only count their queries, and training logs, are not rows)
    scored = [r for r in runs if _family(r["protocol"]) in PROTOCOL_TITLES
              and any(isinstance(r["metrics"].get(c), (int, float)) for c in PROTOCOL_COLUMNS[_family(r["protocol"])])]
    for r in sorted(scored, key=lambda r: Path(r["path"]).stat().st_mtime):
        newest[(r["method"], r.get("variant"), r["protocol"])] = r  # a later evaluation supersedes a training run's
    by_protocol: dict[str, list[dict]] = defaultdict(list)
    for r in newest.values():
        by_protocol[r["protocol"]].append(r)
    tables = {}
    for protocol in sorted(by_protocol, key=lambda p: (list(PROTOCOL_TITLES).index(_family(p))
                                                       if _family(p) in PROTOCOL_TITLES else 99, p)):
        rs = by_protocol[protocol]
        cols = _columns(_family(protocol), rs)
        rows = [{"method": r["method"] + (f" ({r['variant']})" if r.get("variant") else ""),
                 "values": {c: r["metrics"].get(c) for c in cols},
                 "command": r.get("command", ""), "path": r["path"]} for r in rs]
        rank = RANK_COLUMN.get(_family(protocol), cols[-1] if cols else None)
        rows.sort(key=lambda row: -(row["values"].get(rank) or 0.0))
        tables[protocol] = {"columns": cols, "rows": rows}
    return _with_genecis_average(tables)


def _with_genecis_average(tables: dict[str, dict]) -> dict[str, dict]:
    """Add GeneCIS's headline, the mean R@1 over its four tasks, for each method evaluated on all four."""
    per_task = [tables.get(f"genecis.{task}") for task in GENECIS_TASKS]
    if not all(per_task):
        return tables
    r1 = [{row["method"]: row["values"].get("R@1") for row in t["rows"]} for t in per_task]
    methods = [m for m in r1[0] if all(isinstance(task.get(m), (int, float)) for task in r1)]
    rows = [{"method": m, "values": {"R@1": sum(task[m] for task in r1) / len(r1)},
             "command": "", "path": ""} for m in methods]
    rows.sort(key=lambda row: -row["values"]["R@1"])
    first = next(i for i, p in enumerate(tables) if p.startswith("genecis."))
    items = list(tables.items())
    items.insert(first, (GENECIS_AVERAGE, {"columns": ["R@1"], "rows": rows}))
    return dict(items)


def render_markdown(tables: dict[str, dict]) -> str:
    """One markdown table per protocol, best row first by the protocol's summary column."""
    lines = ["# Leaderboard on the embedded default", "",
             "Synthetic benchmark (`datasets/synthetic`, seed 0) with the tiny CLIP (`synthetic-tiny`). "
             "Numbers are percentages. These compare implementations; they say nothing about the real benchmarks.", ""]
    for protocol, t in tables.items():
        lines += [f"## {PROTOCOL_TITLES.get(_family(protocol), protocol)} — `{protocol}`", ""]
        cols = t["columns"]
        lines.append("| method | " + " | ".join(cols) + " | command |")
        lines.append("|---|" + "---:|" * len(cols) + "---|")
        for row in t["rows"]:
            vals = ["" if row["values"][c] is None else f"{row['values'][c]:.2f}" for c in cols]
            cmd = f"`{row['command']}`" if row["command"] else ""
            lines.append(f"| {row['method']} | " + " | ".join(vals) + f" | {cmd} |")
        lines.append("")
    return "\n".join(lines)


def write_leaderboard(out_root: str | os.PathLike, dest: str | os.PathLike) -> tuple[Path, Path, dict]:
    """Write `<dest>/leaderboard.md` and `.json` from the runs below `out_root`."""
    runs = collect_runs(out_root)
    tables = build_tables(runs)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    md, js = dest / "leaderboard.md", dest / "leaderboard.json"
    md.write_text(render_markdown(tables))
    js.write_text(json.dumps(tables, indent=1, sort_keys=True))
    return md, js, tables
