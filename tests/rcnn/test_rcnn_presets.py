import numpy as np
import pycocotools.mask as mask_util
import pytest

from gluonext.instance.data import InstanceDataset
from gluonext.instance.model import build_mask_rcnn
from gluonext.rcnn.model import initialize
from gluonext.rcnn.presets import (
    MaskRCNNTrainTransform,
    MaskRCNNValTransform,
    decode_masks,
    resized_size,
)


@pytest.fixture(scope="module")
def dataset(imaterialist_sample, tmp_path_factory):
    import shutil

    from gluonext.formats.imaterialist_coco import ConvertOptions, convert

    root = tmp_path_factory.mktemp("rcnn") / "data"
    shutil.copytree(imaterialist_sample, root)
    convert(ConvertOptions(data_root=root, val_num=4, progress=False))
    return InstanceDataset(root, "train", "all")


@pytest.fixture(scope="module")
def fpn_net(dataset):
    import mxnet as mx

    net = build_mask_rcnn(
        "resnet18_v1b", list(dataset.CLASSES), True, (96, 160), 320, max_post_nms=100
    )
    initialize(net, [mx.cpu()])
    return net


@pytest.mark.parametrize("size", [(640, 480), (480, 640), (333, 1000), (1000, 100)])
def test_resized_size_matches_gluoncv(size):
    import mxnet as mx
    from gluoncv.data.transforms.image import resize_short_within

    width, height = size
    src = mx.nd.zeros((height, width, 3), dtype="uint8")
    for short, max_size in ((200, 400), (800, 1333), (96, 160)):
        out = resize_short_within(src, short, max_size)
        assert resized_size(width, height, short, max_size) == (out.shape[1], out.shape[0])


def test_masks_of_all_formats_decode_like_pycocotools():
    mask = np.zeros((30, 40), np.uint8, order="F")
    mask[5:20, 8:30] = 1
    rle = mask_util.encode(mask)
    compressed = {"size": [30, 40], "counts": rle["counts"].decode()}
    polygon = [[8.0, 5.0, 30.0, 5.0, 30.0, 20.0, 8.0, 20.0]]
    plain = {"size": [30, 40], "counts": [int(v) for v in _plain_counts(mask)]}
    masks = decode_masks([compressed, polygon, plain], 30, 40)
    assert masks.shape == (30, 40, 3) and masks.flags.c_contiguous
    np.testing.assert_array_equal(masks[:, :, 0], mask)
    np.testing.assert_array_equal(masks[:, :, 2], mask)
    expected = mask_util.decode(mask_util.merge(mask_util.frPyObjects(polygon, 30, 40)))
    np.testing.assert_array_equal(masks[:, :, 1], expected)


def _plain_counts(mask):
    flat = mask.flatten(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(edges).tolist()
    return ([0] + counts) if flat[0] else counts


def test_boxes_follow_masks_through_resize_and_flip(dataset):
    transform = MaskRCNNTrainTransform(None, (80, 200), 400)
    flips = enlarged = 0
    for index in range(len(dataset)):
        image, label, segs = dataset.load(index)
        for seed in range(3):
            rng = np.random.RandomState(seed * 100 + index)
            out_image, out_label, masks = transform.geometry(image, label, segs, rng)
            height, width = out_image.shape[:2]
            assert masks.shape == (height, width, len(segs))
            sx, sy = width / image.shape[1], height / image.shape[0]
            flips += int(_looks_flipped(image, out_image))
            for k in range(len(segs)):
                ys, xs = np.nonzero(masks[:, :, k])
                if xs.size == 0:  # a sliver that vanished when shrinking
                    assert min(sx, sy) < 1
                    assert min(label[k, 2] - label[k, 0], label[k, 3] - label[k, 1]) < 4
                    continue
                derived = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)
                box = out_label[k, :4]
                # the mask never leaves its box ...
                assert (derived[:2] >= box[:2] - 1).all() and (derived[2:] <= box[2:] + 1).all()
                # ... and, when enlarging (nothing can vanish), fills it up to resampling;
                # when shrinking, one-pixel straps and tips may vanish like any raster resize
                if min(sx, sy) >= 1:
                    assert _iou(derived, box) > 0.6, (index, k)
                    np.testing.assert_allclose(derived, box, atol=max(sx, sy) / 2 + 1)
                    enlarged += 1
            assert (out_label[:, 4] == label[:, 4]).all()
    assert 0 < flips < 3 * len(dataset) and enlarged > 50


def _iou(a, b):
    inter = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    return inter / ((a[2:] - a[:2]).prod() + (b[2:] - b[:2]).prod() - inter)


def _looks_flipped(image, out):
    import cv2

    small = cv2.resize(image, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_LINEAR)
    straight = np.abs(small.astype(int) - out).mean()
    mirrored = np.abs(small[:, ::-1].astype(int) - out).mean()
    return mirrored < straight


def test_train_items_are_what_gluoncv_batchify_takes_and_repeat_by_seed(dataset, fpn_net):
    from gluoncv.data.batchify import MaskRCNNTrainBatchify

    transform = MaskRCNNTrainTransform(fpn_net, (96, 160), 320, multi_stage=True)
    image, label, segs = dataset.load(0)
    first = transform(image, label, segs, np.random.RandomState(4))
    again = transform(image, label, segs, np.random.RandomState(4))
    img, boxes, cls_t, box_t, box_m, masks = first
    assert img.shape[0] == 3 and masks.shape == (len(segs), *img.shape[1:])
    assert len(cls_t) == len(box_t) == len(box_m) == 5  # one per FPN level
    assert (np.concatenate([c.ravel() for c in cls_t]) == 1).any()  # positive anchors exist
    for a, b in zip(first, again, strict=True):
        for x, y in zip(_items(a), _items(b), strict=True):
            np.testing.assert_array_equal(_np(x), _np(y))
    batch = MaskRCNNTrainBatchify(fpn_net, 1)([first])
    assert len(batch) == 6


def _items(x):
    return x if isinstance(x, list) else [x]


def _np(x):
    return x.asnumpy() if hasattr(x, "asnumpy") else np.asarray(x)


def test_val_transform_reports_the_scale():
    image = np.zeros((200, 100, 3), np.uint8)
    tensor, info = MaskRCNNValTransform(50, 1000)(image)
    assert tensor.shape == (3, 100, 50)
    np.testing.assert_allclose(info.asnumpy(), [100, 50, 0.5])


@pytest.mark.parametrize("seed", range(6))
def test_rpn_targets_equal_gluoncv_generator(seed, fpn_net):
    """Same anchors, boxes and numpy seed: the same targets as GluonCV's RPNTargetGenerator."""
    import mxnet as mx
    from gluoncv.model_zoo.rcnn.rpn.rpn_target import RPNTargetGenerator

    from gluonext.rcnn.presets import RPNTargets, rpn_targets

    rng = np.random.RandomState(seed)
    width, height = int(rng.randint(96, 200)), int(rng.randint(96, 200))
    levels = RPNTargets(fpn_net, fpn_net.ashape, multi_stage=True)
    shapes = levels._shapes(height, width)
    anchors = np.concatenate(
        [a[:fh, :fw].reshape(-1, 4) for a, (fh, fw) in zip(levels.anchors, shapes, strict=True)]
    )
    count = rng.randint(1, 12)
    x1, y1 = rng.uniform(0, width - 8, count), rng.uniform(0, height - 8, count)
    boxes = np.stack(
        [x1, y1, x1 + rng.uniform(4, width - x1), y1 + rng.uniform(4, height - y1)], axis=1
    ).astype(np.float32)
    np.random.seed(seed)
    ours = rpn_targets(anchors, boxes, width, height)
    np.random.seed(seed)
    theirs = RPNTargetGenerator()(mx.nd.array(boxes), mx.nd.array(anchors), width, height)
    for mine, reference in zip(ours, theirs, strict=True):
        reference = reference.asnumpy() if hasattr(reference, "asnumpy") else reference
        np.testing.assert_allclose(mine, np.asarray(reference).reshape(mine.shape), atol=1e-5)
    assert (ours[0] == 1).any() and (ours[0] == 0).any() and (ours[0] == -1).any()
