import pytest

from common.data import DataFormatError, Fashion200k, Fashion200kPair
from common.data.fashion200k import modifier_text, parent_captions, post_process_caption

TRAIN = [("women/dresses/a/1/1_0.jpeg", "red dress"), ("women/dresses/a/2/2_0.jpeg", "blue dress"),
         ("women/skirts/b/3/3_0.jpeg", "red skirt"), ("women/dresses/a/4/4_0.jpeg", "blue dress"),
         ("women/jackets/c/5/5_0.jpeg", "green long coat")]
TEST = [("women/tops/t/8/8_0.jpeg", "Women's 3.1 top & co?"), ("women/tops/t/9/9_0.jpeg", "white top")]


def label_lines(entries):
    return "".join(f"{path}\t0.{i}\t{caption}\n" for i, (path, caption) in enumerate(entries))


@pytest.fixture
def f200k_root(tmp_path, files):
    root = tmp_path / "fashion200k"
    files.text(root / "labels" / "dress_train_detect_all.txt", label_lines(TRAIN[:2]) + "\n")
    files.text(root / "labels" / "skirt_train_detect_all.txt", label_lines(TRAIN[2:]))
    files.text(root / "labels" / "top_test_detect_all.txt", label_lines(TEST))
    files.text(root / "test_queries.txt", "women/tops/t/9/9_0.jpeg women/tops/t/8/8_0.jpeg\n")
    return root


def test_caption_helpers_match_the_original_quirks():
    assert post_process_caption(" Women's 3.1 top & co?* \n") == "Women's 3dotmark1 top andmark coquestionmarkstarmark"
    # every occurrence is removed, even inside other words; only 4 spaces collapse (FashionERN, not TIRG's 2)
    assert parent_captions("tan tank top") == ["k top", "tan  top", "tan tank"]
    assert parent_captions("a b c") == ["b c", "a  c", "a b"]
    assert modifier_text("red dress", "blue dress") == "replace red with blue"
    assert modifier_text("red dress", "red dress long") == "replace dress with long"  # no source-only word: last


def test_training_pairs_on_a_hand_made_label_file(f200k_root):
    reader = Fashion200k(f200k_root, "train", seed=3)
    # parents "dress" (red/blue dress) and "red" (red dress/skirt) have two children; the coat is not modifiable
    assert reader.stats == {"unique_captions": 4, "modifiable_images": 4}
    paths = [p for p, _ in TRAIN]
    unordered = [frozenset((q.reference, q.target)) for q in reader.queries]
    assert len(unordered) == len(set(unordered))
    assert set(unordered) == {frozenset((paths[0], paths[1])), frozenset((paths[0], paths[3])),
                              frozenset((paths[0], paths[2]))}
    expected_modifier = {("red dress", "blue dress"): "replace red with blue",
                         ("blue dress", "red dress"): "replace blue with red",
                         ("red dress", "red skirt"): "replace dress with skirt",
                         ("red skirt", "red dress"): "replace skirt with dress"}
    captions = dict(TRAIN)
    for pair in reader.queries:
        assert (pair.reference_caption, pair.target_caption) == (captions[pair.reference], captions[pair.target])
        assert pair.modifier == expected_modifier[(pair.reference_caption, pair.target_caption)]
    assert Fashion200k(f200k_root, "train", seed=3).queries == reader.queries
    assert reader.gallery() == paths


def test_test_queries_and_caption_gallery(f200k_root):
    reader = Fashion200k(f200k_root, "val")
    assert reader.split == "test"
    assert reader.queries == [Fashion200kPair("women/tops/t/9/9_0.jpeg", "women/tops/t/8/8_0.jpeg",
                                              "replace white with Women's", "white top",
                                              "Women's 3dotmark1 top andmark coquestionmark")]
    assert reader.gallery("f200k.tirg") == [p for p, _ in TEST]
    assert reader.caption_of("women/tops/t/9/9_0.jpeg") == "white top"
    assert reader.image_path("women/tops/t/9/9_0.jpeg") == f200k_root / "women/tops/t/9/9_0.jpeg"


def test_query_outside_the_label_files(f200k_root, files):
    path = files.text(f200k_root / "test_queries.txt", "women/tops/t/9/9_0.jpeg\twomen/x.jpeg\n")
    with pytest.raises(DataFormatError, match=f"{path}: line 1: image 'women/x.jpeg' is not in the test label files"):
        Fashion200k(f200k_root, "test")
