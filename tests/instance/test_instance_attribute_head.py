import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from gluonext.instance.loss import MaskRCNNLoss
from gluonext.instance.model import build_mask_rcnn
from gluonext.rcnn.model import initialize

ATTRIBUTES = 7


@pytest.fixture(scope="module")
def net():
    mx.random.seed(3)
    net = build_mask_rcnn("resnet18_v1b", ["a", "b", "c"], True, 96, 128, num_sample=16,
                          max_pre_nms=200, max_post_nms=30, num_attributes=ATTRIBUTES)  # fmt: skip
    initialize(net, [mx.cpu()])
    return net


def test_inference_adds_probabilities_per_detection_hybridized_or_not(net):
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 96, 128))
    plain = [o.asnumpy() for o in net(x)]
    net.hybridize(static_alloc=True)
    hybrid = [o.asnumpy() for o in net(x)]
    assert len(plain) == 5 and plain[4].shape == (1, plain[0].shape[1], ATTRIBUTES)
    assert (plain[4] > 0).all() and (plain[4] < 0.05).all()  # rare before training
    for a, b in zip(plain, hybrid, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_the_attribute_loss_is_the_matched_ground_truths_cross_entropy(net):
    from gluonext.rcnn.presets import MaskRCNNTrainTransform

    net.hybridize(static_alloc=True)
    image = np.random.RandomState(0).randint(0, 255, (96, 128, 3)).astype(np.uint8)
    attrs = np.array([[1, 0, 0, 1, 0, 0, 0], [0, 0, 1, 0, 0, 0, 1]], np.float32)
    label = np.concatenate([np.array([[10, 10, 60, 90, 0], [50, 20, 120, 90, 2]], np.float32),
                            attrs], axis=1)  # fmt: skip
    polygons = [[[10, 10, 60, 10, 60, 90, 10, 90]], [[50, 20, 120, 20, 120, 90, 50, 90]]]
    transform = MaskRCNNTrainTransform(net, 96, 128, flip=False, multi_stage=True)
    from gluoncv.data.batchify import MaskRCNNTrainBatchify

    item = transform(image, label, polygons, np.random.RandomState(1))
    # one shard of (data, label, masks, rpn targets), in the loss's argument order
    batch = [(b[0] if isinstance(b, tuple) else b).as_in_context(mx.cpu())
             for b in MaskRCNNTrainBatchify(net, 1)([item])]
    loss_fn = MaskRCNNLoss(attribute_weight=2.0)
    prior = np.random.RandomState(2).normal(-2, 1, (3, ATTRIBUTES)).astype(np.float32)
    net.mask.set_attribute_prior(prior)
    assert loss_fn.PARTS[-1] == "attributes" and MaskRCNNLoss.PARTS[-1] == "mask"
    with autograd.record():  # the same RoIs sampled in both forwards
        mx.random.seed(5), np.random.seed(5)
        outputs = net(batch[0], batch[1][:, :, :4], batch[1][:, :, 4:5])
        mx.random.seed(5), np.random.seed(5)
        _total, parts = loss_fn(net, *batch)
    logits = outputs[13].asnumpy()
    indices = outputs[12].asnumpy()[0].astype(int)
    matches, cls_t = outputs[5].asnumpy()[0], outputs[9].asnumpy()[0]
    positive = cls_t[indices] > 0
    assert positive.any()
    targets = batch[1].asnumpy()[0][matches[indices].astype(int), 5:]
    assert np.array_equal(outputs[14].asnumpy(), prior)
    logits = logits + prior[np.clip(cls_t[indices].astype(int) - 1, 0, 2)]  # the matched class
    p = 1 / (1 + np.exp(-logits))
    bce = -(targets * np.log(p) + (1 - targets) * np.log(1 - p)).sum(axis=1)
    expected = 2.0 * bce[positive].sum() / positive.sum()
    assert parts[-1].asscalar() == pytest.approx(expected, rel=1e-4)


def test_before_training_each_detection_gets_its_class_prior():
    mx.random.seed(4)
    net = build_mask_rcnn("resnet18_v1b", ["a", "b", "c"], True, 96, 128, num_sample=16,
                          max_pre_nms=200, max_post_nms=30, num_attributes=ATTRIBUTES)  # fmt: skip
    initialize(net, [mx.cpu()])
    prior = np.random.RandomState(6).normal(-1, 2, (3, ATTRIBUTES)).astype(np.float32)
    net.mask.set_attribute_prior(prior)
    assert net.mask.prior.grad_req == "null"  # never trained
    net.mask.attributes.weight.set_data(mx.nd.zeros(net.mask.attributes.weight.shape))
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 96, 128))
    for hybridize in (False, True):
        if hybridize:
            net.hybridize(static_alloc=True)
        ids, _scores, _boxes, _masks, probabilities = (o.asnumpy()[0] for o in net(x))
        found = ids[:, 0] >= 0
        assert len(set(ids[found, 0])) > 1  # more than one class detected
        expected = 1 / (1 + np.exp(-prior[ids[found, 0].astype(int)]))
        np.testing.assert_allclose(probabilities[found], expected, rtol=1e-5)
    with pytest.raises(ValueError, match="attribute prior of shape"):
        net.mask.set_attribute_prior(prior[:2])
