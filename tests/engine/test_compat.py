"""Each private MXNet / GluonCV behaviour gluonext.engine.compat relies on, checked for real: a
new MXNet or GluonCV that changes one fails here, naming it, not deep inside a training run."""

import inspect

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

from gluonext.engine import compat


def test_versions_are_the_checked_ones():
    import gluoncv

    assert mx.__version__ == compat.CHECKED_ON["mxnet"], (
        f"mxnet {mx.__version__}: gluonext/engine/compat.py was checked on "
        f"{compat.CHECKED_ON['mxnet']}; run tests/engine/test_compat.py and review each use"
    )
    assert gluoncv.__version__ == "0.11.0", (
        f"gluoncv {gluoncv.__version__}: compat was checked on {compat.CHECKED_ON['gluoncv']}"
    )


def _two_layers():
    net = nn.HybridSequential()
    net.add(nn.Dense(3, in_units=2), nn.Dense(4, in_units=3))
    net.initialize()
    return net


def test_structural_params_are_the_names_save_parameters_writes(tmp_path):
    net = _two_layers()
    names = compat.structural_params(net)
    assert sorted(names) == ["0.bias", "0.weight", "1.bias", "1.weight"]
    net.save_parameters(str(tmp_path / "p.params"))
    assert sorted(mx.nd.load(str(tmp_path / "p.params"))) == sorted(names)
    # a second network made in the same process has other prefixes, the same structural names
    assert sorted(compat.structural_params(_two_layers())) == sorted(names)


def test_load_param_value_fills_a_deferred_parameter():
    dense = nn.Dense(4)  # input size unknown: initialisation waits for the first forward
    dense.initialize()
    weight = dense.weight
    assert compat.is_deferred(weight) and not compat.has_data(weight)
    assert not compat.is_uninitialized(weight)
    value = mx.nd.array(np.arange(12, dtype=np.float32).reshape(4, 3))
    compat.load_param_value(weight, value)
    assert compat.has_data(weight) and not compat.is_deferred(weight)
    np.testing.assert_array_equal(weight.data().asnumpy(), value.asnumpy())


def test_is_uninitialized_before_initialize():
    dense = nn.Dense(2, in_units=3)
    assert compat.is_uninitialized(dense.weight)
    dense.initialize()
    assert compat.has_data(dense.weight) and not compat.is_uninitialized(dense.weight)


def test_replace_child_by_attribute_and_by_index():
    class Holder(nn.HybridBlock):
        def __init__(self):
            super().__init__()
            self.head = nn.Dense(2, in_units=3)

        def hybrid_forward(self, F, x):
            return self.head(x)

    holder = Holder()
    compat.replace_child(holder, "head", nn.HybridSequential())  # another type: refused by Gluon
    assert isinstance(holder.head, nn.HybridSequential)
    assert list(holder._children) == ["head"] and holder._children["head"] is holder.head
    seq = _two_layers()
    new = nn.Dense(7, in_units=3)
    compat.replace_child(seq, "1", new)
    assert seq[1] is new and len(seq) == 2
    with pytest.raises(KeyError):
        compat.replace_child(seq, "5", new)


def test_enable_label_smoothing_reaches_yolo3_target_generator():
    import gluoncv

    net = gluoncv.model_zoo.get_model(
        "yolo3_mobilenet0.25_custom", classes=["a", "b"], pretrained_base=False
    )
    assert net._target_generator._label_smooth is False
    compat.enable_label_smoothing(net)
    assert net._target_generator._label_smooth is True


def _first_steps(trainer_class, monkeypatch) -> list[str]:
    """What happens, in order, over two training steps of ``trainer_class``: the weights'
    broadcast (``_init_params``), a wait for every pending push and pull, the gradient
    reduction."""
    events = []
    broadcast, reduce, waitall = (mx.gluon.Trainer._init_params,
                                  mx.gluon.Trainer._allreduce_grads, mx.nd.waitall)  # fmt: skip

    def on(name, original):
        def record(*args):
            events.append(name)
            return original(*args)

        return record

    monkeypatch.setattr(mx.gluon.Trainer, "_init_params", on("broadcast", broadcast))
    monkeypatch.setattr(mx.gluon.Trainer, "_allreduce_grads", on("reduce", reduce))
    monkeypatch.setattr(mx.nd, "waitall", on("wait", waitall))
    net = _two_layers()
    trainer = trainer_class(net.collect_params(), "sgd", {"learning_rate": 0.1})
    for _ in range(2):
        with mx.autograd.record():
            loss = net(mx.nd.ones((1, 2))).sum()
        loss.backward()
        trainer.step(1)
    return events


def test_weights_first_trainer_waits_for_the_broadcast_before_reducing(monkeypatch):
    assert _first_steps(compat.WeightsFirstTrainer, monkeypatch) == [
        "broadcast", "wait", "reduce", "reduce"
    ], "Trainer._init_params is no longer called by step() before the reduction: review"
    monkeypatch.undo()
    # Gluon's own Trainer does not wait: what the subclass is for
    assert _first_steps(mx.gluon.Trainer, monkeypatch) == ["broadcast", "reduce", "reduce"]


def test_the_patched_fpn_pooling_has_gluoncvs_signature():
    from gluoncv.model_zoo.rcnn.faster_rcnn.faster_rcnn import FasterRCNN

    theirs = inspect.signature(FasterRCNN._pyramid_roi_feats)
    ours = inspect.signature(compat._pyramid_roi_feats)
    assert list(theirs.parameters) == list(ours.parameters), (
        "GluonCV's FasterRCNN._pyramid_roi_feats changed: review compat.fix_cpu_roi_align"
    )
    for name, param in theirs.parameters.items():
        assert param.default == ours.parameters[name].default, name


def test_build_target_generator_makes_the_lazy_rcnn_generator_a_block():
    from gluonext.instance.model import build_mask_rcnn

    net = build_mask_rcnn("resnet18_v1b", ["a"], short=64, max_size=96)
    assert callable(net._target_generator) and not isinstance(net._target_generator, nn.Block)
    compat.build_target_generator(net)
    assert isinstance(net._target_generator, nn.Block)


def test_weights_reach_the_onnx_graph_unchanged():
    """The opset-13 ``null`` converter (weights as raw bytes) gives each initializer the
    parameter's exact values, and MXNet's own opset-12 one is still there for inputs."""
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph
    from onnx import numpy_helper

    net = _two_layers()
    net.hybridize()
    net(mx.nd.ones((1, 2)))
    symbol = net(mx.sym.var("data"))
    params = {p.name: p.data() for p in net.collect_params().values()}
    model = compat.onnx_model_from_symbol(symbol, params, (1, 2))
    assert "null" in MXNetGraph.registry_[12] and "null" in MXNetGraph.registry_[13]
    found = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    assert found.keys() == params.keys()
    for name, value in params.items():
        np.testing.assert_array_equal(found[name], value.asnumpy(), err_msg=name)
    assert [i.name for i in model.graph.input] == ["data"]
