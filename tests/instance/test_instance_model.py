import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from gluonext.errors import ModelError
from gluonext.instance.loss import MaskRCNNLoss
from gluonext.instance.model import build_mask_rcnn
from gluonext.rcnn.model import anchor_budget, initialize, load_model_zoo_rcnn

CLASSES = ["shirt", "pants", "dress"]


def test_small_images_get_proposal_counts_their_anchors_allow():
    net = build_mask_rcnn("resnet18_v1b", CLASSES, False, 128, 256)
    initialize(net, [mx.cpu()])
    assert net.classes == CLASSES and net.num_class == 3
    budget = anchor_budget(128, False)
    assert budget == 4 * 4 * 15
    x = mx.nd.random.uniform(shape=(1, 3, 128, 170))
    ids, scores, boxes, masks = net(x)  # GluonCV's counts (6000 / 1000) would fail here
    assert ids.shape[1] == boxes.shape[1] == masks.shape[1] <= budget
    assert masks.shape[2:] == (14, 14)


def test_fpn_roi_pooling_is_exact_despite_cpu_roi_align():
    """MXNet's CPU ROIAlign, for a RoI of batch index -1 (GluonCV's way of hiding other FPN
    levels), zeroes a value of the first RoI's output and leaves its own row unwritten; the
    pooling used here must give each RoI exactly its level's features."""
    net = build_mask_rcnn("resnet18_v1b", CLASSES, True, 128, 256, max_post_nms=50)
    initialize(net, [mx.cpu()])
    levels = [mx.nd.random.normal(shape=(1, 8, 64 // s, 64 // s)) for s in (1, 2, 4, 8)]
    small, large = [0, 2, 2, 20, 20], [0, 0, 0, 250, 250]  # P2 and P4 by the level rule
    pooled = net._pyramid_roi_feats(
        mx.nd, levels, mx.nd.array([small, large]), (7, 7), (4, 8, 16, 32)
    ).asnumpy()
    for row, roi, level in ((0, small, 0), (1, large, 2)):
        expected = mx.nd.contrib.ROIAlign(
            levels[level], mx.nd.array([roi]), (7, 7), 1 / (4 * 2**level), sample_ratio=2
        ).asnumpy()[0]
        np.testing.assert_allclose(pooled[row], expected, rtol=1e-6)


@pytest.mark.parametrize("use_fpn", [False, True])
def test_training_forward_gives_five_finite_losses(use_fpn):
    from gluoncv.data.batchify import MaskRCNNTrainBatchify

    from gluonext.rcnn.presets import MaskRCNNTrainTransform

    net = build_mask_rcnn("resnet18_v1b", CLASSES, use_fpn, 96, 160, num_sample=32, max_post_nms=64)
    initialize(net, [mx.cpu()])
    transform = MaskRCNNTrainTransform(net, 96, 160, multi_stage=use_fpn)
    image = np.random.RandomState(0).randint(0, 255, (120, 90, 3)).astype(np.uint8)
    polygons = [[[10, 10, 60, 10, 60, 80, 10, 80]], [[30, 40, 80, 40, 80, 110, 30, 110]]]
    label = np.array([[10, 10, 60, 80, 0], [30, 40, 80, 110, 2]], np.float32)
    item = transform(image, label, polygons, np.random.RandomState(1))
    batch = MaskRCNNTrainBatchify(net, 1)([item])
    items = [(b[0] if isinstance(b, (list, tuple)) else b).as_in_context(mx.cpu()) for b in batch]
    with autograd.record():
        total, parts = MaskRCNNLoss()(net, *items)
    total.backward()
    values = [float(p.asscalar()) for p in parts]
    assert len(values) == 5 and all(np.isfinite(values)) and float(total.asscalar()) > 0


def test_frozen_layers_follow_gluoncv_only_with_imagenet_weights(tmp_path):
    import gluoncv

    base = gluoncv.model_zoo.get_model("resnet18_v1b", pretrained=False)
    base.initialize()
    base(mx.nd.zeros((1, 3, 32, 32)))
    path = tmp_path / "resnet18_v1b.params"
    base.save_parameters(str(path))
    pretrained = build_mask_rcnn("resnet18_v1b", CLASSES, False, 128, 256, str(path))
    assert pretrained.train_patterns is not None  # stem, layer1 and BatchNorm stay frozen
    names = list(pretrained.collect_train_params().keys())
    assert not any("layers1" in n or n.endswith("gamma") for n in names)
    scratch = build_mask_rcnn("resnet18_v1b", CLASSES, False, 128, 256)
    assert scratch.train_patterns is None
    with pytest.raises(ModelError, match="not found"):
        build_mask_rcnn("resnet18_v1b", CLASSES, False, 128, 256, str(tmp_path / "missing"))
    with pytest.raises(ModelError, match="--network"):
        build_mask_rcnn("resnet34_v1b", CLASSES, False, 128, 256)


def test_model_zoo_without_weights_or_network_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("MXNET_GLUON_REPO", "http://127.0.0.1:9/")
    with pytest.raises(ModelError, match="could not be downloaded"):
        load_model_zoo_rcnn("mask_rcnn_resnet18_v1b_coco", CLASSES, 128, 256, root=tmp_path)
