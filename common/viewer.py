"""Retrieval predictions on disk (`predictions.json`) and a self-contained HTML viewer over them."""
from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from common.atomic import atomic_write

PREDICTIONS_FILE = "predictions.json"


def save_predictions(
    output_dir: str | os.PathLike,
    protocol: str,
    queries: Iterable[dict],
    image_paths: dict[str, str | os.PathLike],
    top: int = 10,
) -> Path:
    """Write `<output_dir>/predictions.json` for the viewer.

    Each query dict holds `reference` (image id or None), `text` (str), `targets` (list of ids)
    and `ranked` (ids, best first; cut to `top`). `image_paths` maps every id that appears to its file.
    """
    rows = []
    for q in queries:
        for key in ("text", "targets", "ranked"):
            if key not in q:
                raise ValueError(f"predictions for {protocol}: query is missing '{key}'")
        rows.append({
            "reference": q.get("reference"),
            "text": str(q["text"]),
            "targets": [str(t) for t in q["targets"]],
            "ranked": [str(r) for r in list(q["ranked"])[:top]],
        })
    used = {r["reference"] for r in rows if r["reference"] is not None}
    for r in rows:
        used.update(r["targets"])
        used.update(r["ranked"])
    missing = sorted(i for i in used if i not in image_paths)
    if missing:
        raise ValueError(f"predictions for {protocol}: no image path for id '{missing[0]}' "
                         f"({len(missing)} ids without a path)")
    paths = {i: str(Path(image_paths[i]).resolve()) for i in sorted(used)}
    out = Path(output_dir) / PREDICTIONS_FILE
    text = json.dumps({"protocol": protocol, "queries": rows, "image_paths": paths}, indent=1)
    atomic_write(out, lambda f: f.write(text.encode("utf-8")))
    return out


def _hit_rank(ranked: Sequence[str], targets: Sequence[str]) -> int | None:
    for i, r in enumerate(ranked):
        if r in targets:
            return i
    return None


def render_viewer(predictions: dict, title: str, html_path: str | os.PathLike, max_queries: int = 60) -> Path:
    """Render one HTML page (failures first) that opens from disk; images are linked by relative path."""
    html_path = Path(html_path)
    base = html_path.parent.resolve()
    rows = predictions["queries"]
    order = sorted(range(len(rows)), key=lambda i: (_hit_rank(rows[i]["ranked"], rows[i]["targets"]) is not None,
                                                     _hit_rank(rows[i]["ranked"], rows[i]["targets"]) or 0, i))
    paths = predictions["image_paths"]

    def img(image_id: str, cls: str) -> str:
        rel = os.path.relpath(paths[image_id], base)
        return (f'<figure class="{cls}"><img src="{html.escape(Path(rel).as_posix())}" alt="{html.escape(image_id)}">'
                f'<figcaption>{html.escape(image_id)}</figcaption></figure>')

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>",
        "body{font-family:sans-serif;margin:1em} .q{border-top:1px solid #ccc;padding:.5em 0;display:flex;"
        "flex-wrap:wrap;align-items:flex-start} figure{margin:2px;text-align:center;font-size:9px;width:72px}"
        " img{width:64px;height:64px;image-rendering:pixelated;border:3px solid transparent}"
        " .hit img{border-color:#2a2} .ref img{border-color:#36c} .tgt img{border-color:#e90}"
        " .text{width:220px;font-size:13px;margin-right:8px} .fail{color:#c22} .ok{color:#2a2}",
        "</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>protocol <code>{html.escape(predictions['protocol'])}</code>; "
        f"{len(rows)} queries, showing {min(max_queries, len(rows))}, failures first. Blue: reference, "
        "orange: target, green: a target in the top 10.</p>",
    ]
    for i in order[:max_queries]:
        r = rows[i]
        rank = _hit_rank(r["ranked"], r["targets"])
        verdict = (f'<span class="ok">target at rank {rank + 1}</span>' if rank is not None
                   else '<span class="fail">target not in top 10</span>')
        parts.append('<div class="q">')
        parts.append(f'<div class="text">{html.escape(r["text"])}<br>{verdict}</div>')
        if r["reference"] is not None:
            parts.append(img(r["reference"], "ref"))
        for t in r["targets"][:3]:
            parts.append(img(t, "tgt"))
        parts.append("<span style='width:16px'></span>")
        for name in r["ranked"]:
            parts.append(img(name, "hit" if name in r["targets"] else "res"))
        parts.append("</div>")
    parts.append("<p id='status'></p><script>window.addEventListener('load', () => {"
                 "const imgs = Array.from(document.images);"
                 "const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;"
                 "document.body.dataset.loaded = ok + '/' + imgs.length;"
                 "document.getElementById('status').textContent = ok + ' of ' + imgs.length + ' images loaded';"
                 "});</script>")
    parts.append("</body></html>")
    page = "\n".join(parts)
    atomic_write(html_path, lambda f: f.write(page.encode("utf-8")))
    return html_path
