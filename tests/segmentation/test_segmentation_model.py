import mxnet as mx
import numpy as np
import pytest

from gluonext.segmentation import model as models


@pytest.mark.parametrize("model", ["fcn", "psp", "deeplab", "deeplabv3plus"])
@pytest.mark.parametrize("backbone", ["resnet18", "resnet50"])
def test_heads_fit_any_backbone_and_input_size(model, backbone):
    net = models.build_segmentation_model(model, backbone, 5, aux=True)
    net.initialize()
    net.hybridize()
    for shape in ((2, 3, 64, 64), (1, 3, 48, 80)):
        outputs = net(mx.nd.ones(shape))
        assert [o.shape for o in outputs] == [(shape[0], 5, *shape[2:])] * 2


def test_pretrained_base_loads_local_backbone_weights(tmp_path):
    from gluoncv.model_zoo.resnetv1b import resnet18_v1b

    base = resnet18_v1b(pretrained=False)
    base.initialize(mx.init.Uniform(0.5))
    base(mx.nd.ones((1, 3, 32, 32)))
    path = tmp_path / "resnet18_v1b.params"
    base.save_parameters(str(path))
    net = models.build_segmentation_model("fcn", "resnet18", 4, pretrained_base=str(path))
    np.testing.assert_array_equal(
        net.conv1.weight.data().asnumpy(), base.conv1.weight.data().asnumpy()
    )
    np.testing.assert_array_equal(
        net.layer4[1].conv2.weight.data().asnumpy(), base.layer4[1].conv2.weight.data().asnumpy()
    )
    with pytest.raises(models.ModelError, match="file not found"):
        models.build_segmentation_model("fcn", "resnet18", 4, pretrained_base=str(tmp_path / "x"))
    wrong = tmp_path / "wrong.params"
    mx.nd.save(str(wrong), {"conv1.weight": mx.nd.ones((3, 3))})
    with pytest.raises(models.ModelError, match="does not fit"):
        models.build_segmentation_model("fcn", "resnet18", 4, pretrained_base=str(wrong))


def test_bad_choices_are_named():
    with pytest.raises(models.ModelError, match="--model 'unet'"):
        models.build_segmentation_model("unet", "resnet18", 4)
    with pytest.raises(models.ModelError, match="deeplabv3plus only"):
        models.build_segmentation_model("fcn", "xception", 4)
    with pytest.raises(models.ModelError, match="--backbone 'vgg'"):
        models.build_segmentation_model("fcn", "vgg", 4)


def test_reset_classes_replaces_the_classifiers():
    zoo_like = models.build_segmentation_model("fcn", "resnet18", 4, aux=True)
    zoo_like.initialize()
    models.reset_segmentation_classes(zoo_like, 9)
    outputs = zoo_like(mx.nd.ones((1, 3, 32, 32)))
    assert [o.shape[1] for o in outputs] == [9, 9]
