"""Metrics against hand-computed cases."""
import pytest
import torch

from common.metrics import (average_precision_at_k, circo_report, cirr_report, fiq_report, final_turn_recall,
                            genecis_recall, genecis_report, map_at_k, recall_at_k, recall_subset_at_k)


def test_recall_at_k_hand_case():
    ranked = [["a", "b", "c"], ["c", "a", "b"], ["b", "c", "a"], ["a", "c", "b"]]
    targets = ["a", "b", "a", "c"]
    assert recall_at_k(ranked, targets, 1) == 25.0
    assert recall_at_k(ranked, targets, 2) == 50.0
    assert recall_at_k(ranked, targets, 3) == 100.0


def test_recall_at_k_accepts_sets_of_acceptable_targets():
    # Fashion200k: any image with the target caption counts.
    ranked = [["x1", "t2", "t1"], ["y", "z", "w"]]
    assert recall_at_k(ranked, [{"t1", "t2"}, {"q"}], 2) == 50.0


def test_recall_rejects_mismatched_lengths_and_bad_k():
    with pytest.raises(ValueError, match="queries"):
        recall_at_k([["a"]], ["a", "b"], 1)
    with pytest.raises(ValueError, match="k must be"):
        recall_at_k([["a"]], ["a"], 0)


def test_recall_subset_restricts_to_group_in_rank_order():
    # Reference "r" already removed; group has 6 members incl. r, so 5 candidates remain.
    group = ["r", "t", "m1", "m2", "m3", "m4"]
    ranked = ["x", "m2", "y", "t", "m1", "z", "m3", "m4"]
    assert recall_subset_at_k([ranked], ["t"], [group], 1) == 0.0
    assert recall_subset_at_k([ranked], ["t"], [group], 2) == 100.0


def test_recall_subset_refuses_truncated_rankings_and_foreign_targets():
    group = ["r", "t", "m1", "m2", "m3", "m4"]
    with pytest.raises(ValueError, match="truncated"):
        recall_subset_at_k([["m1", "m2"]], ["t"], [group], 1)
    with pytest.raises(ValueError, match="not one of its group"):
        recall_subset_at_k([["m1", "m2"]], ["zz"], [group], 1)


def test_circo_ap_examples_from_spec():
    # GT {x} at rank 3 -> AP@5 = 1/3; 2 GTs at ranks 1 and 4 -> (1 + 2/4)/2 = 0.75.
    assert average_precision_at_k(["a", "b", "x", "c", "d"], {"x"}, 5) == pytest.approx(1 / 3)
    assert average_precision_at_k(["x", "a", "b", "y", "c"], {"x", "y"}, 5) == pytest.approx(0.75)
    assert map_at_k([["a", "b", "x", "c", "d"], ["x", "a", "b", "y", "c"]], [{"x"}, {"x", "y"}], 5) == \
        pytest.approx(100 * (1 / 3 + 0.75) / 2)


def test_map_denominator_is_min_k_and_gt_size():
    # 3 GTs, K=2, both top results relevant -> AP@2 = (1 + 1)/min(2, 3) = 1.
    assert average_precision_at_k(["a", "b", "c"], {"a", "b", "c"}, 2) == pytest.approx(1.0)
    # 3 GTs, only one found at rank 1 within K=5 -> 1/3.
    assert average_precision_at_k(["a", "q", "w", "e", "r"], {"a", "b", "c"}, 5) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="empty ground-truth"):
        average_precision_at_k(["a"], set(), 5)


def test_fiq_report_averages_and_avg():
    report = fiq_report({"dress": {"R@10": 10.0, "R@50": 30.0}, "shirt": {"R@10": 20.0, "R@50": 40.0},
                         "toptee": {"R@10": 30.0, "R@50": 50.0}})
    assert report["dress_R@10"] == 10.0 and report["toptee_R@50"] == 50.0
    assert report["average_R@10"] == 20.0 and report["average_R@50"] == 40.0
    assert report["avg"] == 30.0
    with pytest.raises(ValueError, match="category 'shirt'"):
        fiq_report({"dress": {"R@10": 1.0, "R@50": 2.0}, "shirt": {"R@10": 1.0}})


def test_cirr_report_avg_is_r5_plus_rsubset1_over_two():
    group = ["r", "t", "a", "b", "c", "d"]
    ranked = [["a", "b", "c", "d", "t"] + [f"n{i}" for i in range(50)]]
    subset = [["t", "a", "b", "c", "d"]]
    report = cirr_report(ranked, subset, ["t"], [group])
    assert report["R@1"] == 0.0 and report["R@5"] == 100.0 and report["Rsubset@1"] == 100.0
    assert report["avg"] == 100.0


def test_circo_report_keys():
    report = circo_report([["x", "a"]], [{"x", "y"}], ["x"])
    assert report["mAP@5"] == pytest.approx(50.0) and report["R@5"] == 100.0
    assert set(report) == {"mAP@5", "mAP@10", "mAP@25", "mAP@50", "R@5", "R@10", "R@25", "R@50"}


def test_genecis_recall_target_at_column_zero_and_pessimistic_ties():
    scores = torch.tensor([[0.9, 0.1, 0.2], [0.5, 0.7, 0.1], [0.1, 0.4, 0.3], [0.3, 0.3, 0.3]])
    assert genecis_recall(scores, 1) == 25.0  # row 3 ties count against the target
    assert genecis_recall(scores, 2) == 50.0
    assert genecis_report(scores) == {"R@1": 25.0, "R@2": 50.0, "R@3": 100.0}


def test_final_turn_recall_and_mean():
    ranked = [["t"] + [f"g{i}" for i in range(30)], [f"g{i}" for i in range(7)] + ["u"], ["g"] * 30]
    report = final_turn_recall(ranked, ["t", "u", "v"])
    assert report["R@1"] == pytest.approx(100 / 3)
    assert report["R@5"] == pytest.approx(100 / 3)
    assert report["R@10"] == pytest.approx(200 / 3)
    assert report["R@20"] == pytest.approx(200 / 3)
    assert report["mean"] == pytest.approx((100 / 3 * 2 + 200 / 3 * 2) / 4)
