import mxnet as mx
import numpy as np
import pytest

from gluonext.detection.model import (
    build_faster_rcnn,
    build_ssd,
    build_yolo3,
    transfer_base_weights,
)
from gluonext.errors import ModelError

CLASSES = ["Tops", "Skirts"]


@pytest.fixture(scope="module")
def imagenet_file(tmp_path_factory):
    """GluonCV's mobilenet0.25 classifier with non-default weights, saved like the model zoo's."""
    import gluoncv

    base = gluoncv.model_zoo.get_model("mobilenet0.25", pretrained=False)
    base.initialize(mx.init.Uniform(1.0))
    base(mx.nd.zeros((1, 3, 32, 32)))
    path = tmp_path_factory.mktemp("imagenet") / "mobilenet0.25.params"
    base.save_parameters(str(path))
    params = base.collect_params().items()
    return path, {n[len(base.prefix) :]: p.data().asnumpy() for n, p in params}


@pytest.mark.parametrize("build", [
    lambda f: build_ssd("mobilenet0.25", 300, CLASSES, f),
    lambda f: build_yolo3("mobilenet0.25", CLASSES, f),
])  # fmt: skip
def test_pretrained_base_lands_in_the_detectors_copy_of_the_base(imagenet_file, build):
    path, arrays = imagenet_file
    net = build(str(path))
    params = net.collect_params()
    for rest in ("conv0_weight", "batchnorm0_gamma", "conv26_weight"):
        (name,) = [n for n in params.keys() if n.endswith("_" + rest) and "mobilenet" in n]
        np.testing.assert_array_equal(params[name].data().asnumpy(), arrays[rest], err_msg=name)


def test_a_foreign_base_file_is_an_error_not_a_silent_no_op(imagenet_file, tmp_path):
    import gluoncv

    other = gluoncv.model_zoo.get_model("resnet18_v1b", pretrained=False)
    other.initialize()
    other(mx.nd.zeros((1, 3, 32, 32)))
    other.save_parameters(str(tmp_path / "resnet.params"))
    net = build_ssd("mobilenet0.25", 300, CLASSES)
    net(mx.nd.zeros((1, 3, 300, 300)))
    with pytest.raises(ModelError, match="resnet.params"):
        transfer_base_weights(net, "mobilenet0.25", str(tmp_path / "resnet.params"))
    with pytest.raises(ModelError, match="no ImageNet base"):
        transfer_base_weights(net, "vgg16_atrous", str(tmp_path / "resnet.params"))


def test_networks_and_shapes_are_checked_by_name():
    with pytest.raises(ModelError, match="YOLOv3 takes"):
        build_yolo3("resnet50_v1", CLASSES)
    with pytest.raises(ModelError, match="Faster R-CNN takes"):
        build_faster_rcnn("mobilenet1.0", CLASSES)
    with pytest.raises(ModelError, match="built for 300"):
        build_ssd("mobilenet0.25", 512, CLASSES)


def test_faster_rcnn_proposals_fit_small_images():
    net = build_faster_rcnn("resnet18_v1b", CLASSES, short=128, max_size=200, num_sample=32)
    # 64 px square (half the short side) at stride 16: 4 x 4 cells x 9 anchors
    assert net.rpn._train_pre_nms == 144 and net.rpn._train_post_nms == 144
    assert net._num_sample == 32


def test_ssd_anchors_leave_batchnorm_statistics_as_they_were():
    import numpy as np

    from gluonext.detection.model import build_ssd, ssd_anchors

    net = build_ssd("mobilenet0.25", 300, ["a", "b"])
    anchors = ssd_anchors(net, 300)
    stats = {n: p.data().asnumpy() for n, p in net.collect_params().items() if p.grad_req == "null"}
    again = ssd_anchors(net, 300)
    np.testing.assert_array_equal(anchors.asnumpy(), again.asnumpy())
    for name, param in net.collect_params().items():
        if param.grad_req == "null":
            np.testing.assert_array_equal(param.data().asnumpy(), stats[name], err_msg=name)
    assert anchors.shape[-1] == 4 and anchors.shape[1] > 1000


def test_ssd_extra_layers_start_with_unit_variance_statistics():
    """GluonCV draws them from Uniform(-0.07, 0.07): negative variances give NaN in inference."""
    from gluonext.detection.model import build_ssd

    net = build_ssd("mobilenet0.25", 300, ["a", "b"])
    stats = list(net.collect_params(".*expand.*_moving_var").values())
    assert len(stats) >= 4
    for param in stats:
        assert (param.data().asnumpy() == 1).all()
    ids, scores, boxes = net(mx.nd.random.uniform(shape=(1, 3, 300, 300)))
    assert np.isfinite(scores.asnumpy()).all() and np.isfinite(boxes.asnumpy()).all()


def test_random_shapes_change_every_ten_batches_and_repeat():
    from gluonext.detection.model import (
        RANDOM_SHAPE_INTERVAL,
        RandomShapeBatchSampler,
        random_shape_sides,
    )

    assert random_shape_sides(416) == tuple(range(320, 609, 32))  # GluonCV's 320..608
    sampler = RandomShapeBatchSampler(np.arange(400), 4, seed=1, epoch=3,
                                      sides=random_shape_sides(416))  # fmt: skip
    batches = list(sampler)
    assert len(batches) == len(sampler) == 100
    sides = [batch[0][2] for batch in batches]
    assert all(len({item[2] for item in batch}) == 1 for batch in batches)  # one side per batch
    groups = [sides[k : k + RANDOM_SHAPE_INTERVAL] for k in range(0, 100, RANDOM_SHAPE_INTERVAL)]
    assert all(len(set(g)) == 1 for g in groups) and len({g[0] for g in groups}) > 3
    again = [batch[0][2] for batch in RandomShapeBatchSampler(np.arange(400), 4, 1, 3,
                                                              random_shape_sides(416))]  # fmt: skip
    assert again == sides
    other_epoch = [b[0][2] for b in RandomShapeBatchSampler(np.arange(400), 4, 1, 4,
                                                            random_shape_sides(416))]  # fmt: skip
    assert other_epoch != sides
    assert [index for batch in batches for index, _, _ in batch] == list(range(400))


def test_ssd_mobilenet1_0_at_300_builds_and_detects():
    """The TensorFlow apparel detector's SSD-MobileNet at 300 px, as a GluonCV SSD."""
    from gluonext.detection.model import build_ssd, ssd_anchors

    net = build_ssd("mobilenet1.0", 300, ["a", "b", "c"])
    ids, scores, boxes = net(mx.nd.random.uniform(shape=(1, 3, 300, 300)))
    assert ids.shape == (1, 100, 1) and np.isfinite(boxes.asnumpy()).all()
    assert ssd_anchors(net, 300).shape == (1, 2268, 4)  # 19x19x4 + 10x10x6 + 5x5x6 + ...
