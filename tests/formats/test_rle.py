import numpy as np
import pycocotools.mask as mask_util
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gluonext.formats import rle


@st.composite
def masks(draw):
    height = draw(st.integers(1, 24))
    width = draw(st.integers(1, 24))
    density = draw(st.sampled_from([0.0, 0.05, 0.5, 0.95, 1.0]))
    noise = draw(arrays(np.float64, (height, width), elements=st.floats(0, 1)))
    return (noise < density).astype(np.uint8) if density < 1 else np.ones_like(noise, np.uint8)


def reference(mask):
    return mask_util.encode(np.asfortranarray(mask))


@settings(max_examples=300, deadline=None)
@given(masks())
def test_compressed_counts_equal_pycocotools(mask):
    counts = rle.encode_mask(mask)
    ref = reference(mask)
    assert rle.compress_counts(counts) == ref["counts"].decode()
    np.testing.assert_array_equal(rle.decompress_counts(ref["counts"]), counts)
    np.testing.assert_array_equal(rle.decode(counts, *mask.shape), mask)


@settings(max_examples=300, deadline=None)
@given(masks())
def test_kaggle_to_coco_decodes_like_pycocotools(mask):
    if not mask.any():
        assert rle.mask_to_kaggle(mask) == ""
        return
    text = rle.mask_to_kaggle(mask)
    coco = rle.kaggle_to_coco(text, *mask.shape)
    decoded = mask_util.decode({"size": coco["size"], "counts": coco["counts"].encode()})
    np.testing.assert_array_equal(decoded, mask)
    assert rle.coco_to_kaggle(coco) == text
    assert rle.coco_to_kaggle({"counts": rle.encode_mask(mask).tolist()}) == text


@settings(max_examples=100, deadline=None)
@given(st.lists(masks(), min_size=1, max_size=12))
def test_batch_conversion_area_and_bbox_equal_pycocotools(mask_list):
    mask_list = [m for m in mask_list if m.any()]
    if not mask_list:
        return
    texts = [rle.mask_to_kaggle(m) for m in mask_list]
    heights = [m.shape[0] for m in mask_list]
    widths = [m.shape[1] for m in mask_list]
    for mask, (counts, area, bbox) in zip(
        mask_list, rle.kaggle_batch_to_coco(texts, heights, widths), strict=True
    ):
        ref = reference(mask)
        assert counts == ref["counts"].decode()
        assert area == int(mask_util.area(ref))
        assert bbox == mask_util.toBbox(ref).tolist()


def test_kaggle_starts_are_one_indexed_column_major():
    mask = np.zeros((4, 3), np.uint8)
    mask[1:3, 0] = 1  # pixels 2, 3 in column-major 1-indexed order
    mask[0, 2] = 1  # pixel 9
    assert rle.mask_to_kaggle(mask) == "2 2 9 1"
    np.testing.assert_array_equal(
        rle.decode(rle.kaggle_to_counts(rle.parse_kaggle("2 2 9 1", 4, 3), 4, 3), 4, 3), mask
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1 2 3", "odd number"),
        ("1 x", "not a whole number"),
        ("1 2.5", "not a whole number"),
        ("1 -2", "negative length"),
        ("-1 2", "negative start"),
        ("1 0", "length 0"),
        ("0 3", "1-indexed"),
        ("5 2 1 2", "unsorted"),
        ("1 5 3 2", "overlapping"),
        ("11 3", "past the"),
    ],
)
def test_malformed_rle_raises_one_error_type_that_says_what(text, message):
    with pytest.raises(rle.RLEError, match=message):
        rle.parse_kaggle(text, 3, 4)
    result = rle.kaggle_batch_to_coco([text, "1 1"], [3, 3], [4, 4])
    assert isinstance(result[0], rle.RLEError) and message in str(result[0])
    assert result[1][1] == 1  # a good row beside a bad one still converts


def test_touching_runs_are_accepted_as_one_region():
    pairs = rle.parse_kaggle("1 2 3 2", 2, 2)
    np.testing.assert_array_equal(
        rle.decode(rle.kaggle_to_counts(pairs, 2, 2), 2, 2), np.ones((2, 2))
    )


def test_bad_compressed_strings_are_rejected():
    with pytest.raises(rle.RLEError):
        rle.decompress_counts("\x01")
    with pytest.raises(rle.RLEError):
        rle.decompress_counts("P")  # continuation bit set on the last character
    with pytest.raises(rle.RLEError, match="cover"):
        rle.decode(np.array([3, 2]), 2, 2)


def test_extra_whitespace_is_tolerated_and_partial_numbers_are_not():
    ok, partial = rle.kaggle_batch_to_coco(["1  2\t", "1 2.5"], [2, 2], [2, 2])
    assert ok[1] == 2
    assert isinstance(partial, rle.RLEError) and "2.5" in str(partial)
