"""Smoke test of the benchmark plumbing: the ranking benchmark at a tiny size yields complete table rows."""
from bench import ranking
from bench.run import format_table


def test_ranking_benchmark_tiny_size_fills_every_field():
    result = ranking.measure(queries=8, gallery=300, dim=16, k=5, repeats=1)
    assert result["same_topk"]
    rows = ranking.rows(result)
    assert [r.name for r in rows] == ["ranking time ÷ argsort", "ranking peak extra memory"]
    time_row, memory_row = rows
    assert time_row.value > 0 and time_row.note == ""  # note is set only when our top-k differs from argsort
    assert time_row.details["ours_s"] > 0 and time_row.details["reference_s"] > 0
    assert 0 <= memory_row.value < 1.0
    for row in rows:
        assert set(row.as_row()) == {"figure", "value", "goal", "met", "details", "note"}
    table = format_table(rows)
    assert table.splitlines()[0] == "| figure | value | goal | met? | details |"
    assert len(table.splitlines()) == 4
