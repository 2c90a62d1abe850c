import cv2
import numpy as np
import pytest

from gluonext.common.images import MEAN, STD, denormalize, normalize
from gluonext.segmentation.presets import IGNORE_LABEL, seg_train_transform


def stepwise(image, mask, rng, base_size, crop_size):
    """GluonCV's _sync_transform order, step by step with OpenCV (blur left out)."""
    if rng.rand() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    long_size = rng.randint(int(base_size * 0.5), int(base_size * 2.0) + 1)
    h, w = image.shape[:2]
    if h > w:
        oh, ow = long_size, int(w * long_size / h + 0.5)
    else:
        ow, oh = long_size, int(h * long_size / w + 0.5)
    image = cv2.resize(np.ascontiguousarray(image), (ow, oh), interpolation=cv2.INTER_LINEAR)
    mask = cv2.resize(
        np.ascontiguousarray(mask).astype(np.uint8), (ow, oh), interpolation=cv2.INTER_NEAREST_EXACT
    ).astype(np.int32)
    mask[mask == 255] = IGNORE_LABEL
    pad_h, pad_w = max(crop_size - oh, 0), max(crop_size - ow, 0)
    image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=0)
    padded = np.ones(image.shape[:2], bool)
    padded[:oh, :ow] = False
    mask = np.pad(mask, ((0, pad_h), (0, pad_w)), constant_values=IGNORE_LABEL)
    x0 = rng.randint(0, image.shape[1] - crop_size + 1)
    y0 = rng.randint(0, image.shape[0] - crop_size + 1)
    image = image[y0 : y0 + crop_size, x0 : x0 + crop_size]
    if rng.rand() < 0.5:
        sigma = rng.rand()
        if sigma > 0.05:
            image = cv2.GaussianBlur(image, (0, 0), sigma)
    window = (slice(y0, y0 + crop_size), slice(x0, x0 + crop_size))
    return image, mask[window], padded[window]


@pytest.mark.parametrize("seed", range(12))
def test_one_warp_equals_flip_resize_pad_crop(seed):
    rng = np.random.RandomState(100 + seed)
    h, w = rng.randint(40, 120, size=2)
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.stack([xx * 3 % 256, yy * 5 % 256, (xx + yy) % 256], -1).astype(np.uint8)
    mask = ((xx // 9 + yy // 7) % 4).astype(np.int32)
    mask[:3] = IGNORE_LABEL
    ours_img, ours_mask = seg_train_transform(image, mask, np.random.RandomState(seed), 64, 56)
    ref_img, ref_mask, padded = stepwise(image, mask, np.random.RandomState(seed), 64, 56)
    assert ours_img.shape == ref_img.shape == (56, 56, 3)
    # padding is ignore; labels agree but for nearest-neighbour ties at cell edges
    assert (ours_mask[padded] == IGNORE_LABEL).all()
    assert (ours_mask == ref_mask).mean() > 0.97
    diff = np.abs(ours_img.astype(int) - ref_img.astype(int))
    assert np.median(diff) <= 1 and np.percentile(diff, 99) <= 12


def test_normalize_is_imagenet_mean_std_and_invertible():
    image = np.random.RandomState(0).randint(0, 256, (7, 9, 3)).astype(np.uint8)
    out = normalize(image)
    np.testing.assert_allclose(out, ((image - MEAN) / STD).transpose(2, 0, 1), atol=1e-5)
    np.testing.assert_array_equal(denormalize(out), image)
