"""The HTML retrieval viewer: it renders from disk in headless Chromium and every image loads."""
import json
import os
import shutil
import subprocess

import pytest
from PIL import Image

from common.viewer import render_viewer, save_predictions

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=5000", "--dump-dom"]


def _world(tmp_path, n=12):
    paths = {}
    for i in range(n):
        p = tmp_path / "images" / f"img{i}.png"
        p.parent.mkdir(exist_ok=True)
        Image.new("RGB", (16, 16), (20 * i, 100, 200)).save(p)
        paths[f"img{i}"] = p
    queries = [{"reference": "img0", "text": "is red", "targets": ["img3"], "ranked": [f"img{j}" for j in range(1, 11)]},
               {"reference": "img1", "text": "is blue", "targets": ["img0"], "ranked": [f"img{j}" for j in range(2, 12)]}]
    return paths, queries


def _loaded(html, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (make test installs Debian's chromium package)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    out = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", html.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    marker = 'data-loaded="'
    assert marker in out.stdout, "the page's load script did not run"
    return out.stdout.split(marker, 1)[1].split('"', 1)[0]


def test_viewer_renders_and_every_image_loads(tmp_path):
    paths, queries = _world(tmp_path)
    pred = save_predictions(tmp_path / "run", "cirr.rc2", queries, paths)
    html = render_viewer(json.loads(pred.read_text()), "demo", tmp_path / "viewer" / "demo.html")
    text = html.read_text()
    assert text.index("is blue") < text.index("is red")  # failures first: img0 is not in the second top 10
    assert text.count("<img ") == 24  # 2 queries × (reference + target + 10 results)
    assert _loaded(html, tmp_path) == "24/24"


def test_a_missing_image_is_reported_by_the_page(tmp_path):
    paths, queries = _world(tmp_path)
    pred = save_predictions(tmp_path / "run", "cirr.rc2", queries, paths)
    html = render_viewer(json.loads(pred.read_text()), "demo", tmp_path / "viewer" / "demo.html")
    total = html.read_text().count("<img ")
    paths["img5"].unlink()
    loaded, shown = _loaded(html, tmp_path).split("/")
    assert int(shown) == total and int(loaded) == total - 2  # img5 appears in both top-10 lists


def test_predictions_need_a_path_for_every_image(tmp_path):
    paths, queries = _world(tmp_path)
    del paths["img7"]
    with pytest.raises(ValueError, match="img7"):
        save_predictions(tmp_path / "run", "cirr.rc2", queries, paths)
