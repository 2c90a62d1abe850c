"""Every use of a private MXNet or GluonCV attribute, and the one monkeypatch, in one place.

Gluon's public API lacks a few things the engine needs (parameters by structural name, loading
into a deferred parameter, replacing a child block, a hook after the trainer's first weight
broadcast), and one GluonCV method gives wrong results on the CPU. Each use below says why it
is needed and was checked on the versions in ``CHECKED_ON``; ``tests/engine/test_compat.py``
fails loudly, naming the function, when an installed MXNet or GluonCV behaves otherwise.
"""

from __future__ import annotations

import types

import mxnet as mx
from mxnet.gluon import nn

CHECKED_ON = {"mxnet": "1.9.1", "gluoncv": "0.10.5.post0 (reports 0.11.0)"}


def structural_params(block: nn.Block) -> dict:
    """Parameters keyed by structural name (``features.0.weight``), the names
    ``save_parameters`` writes: stable across processes, unlike ``collect_params`` prefixes,
    which depend on how many blocks were created before. Private: ``_collect_params_with_prefix``.
    """
    return block._collect_params_with_prefix()


def load_param_value(param: mx.gluon.Parameter, value: mx.nd.NDArray) -> None:
    """Give ``param`` the value ``value`` on its contexts, initialised, deferred or not: the
    call Gluon's own ``load_parameters`` makes. Private: ``Parameter._load_init``."""
    param._load_init(value, None)


def has_data(param: mx.gluon.Parameter) -> bool:
    """Whether ``param`` holds arrays now (``data()`` raises instead of answering).
    Private: ``Parameter._data``."""
    return param._data is not None


def is_deferred(param: mx.gluon.Parameter) -> bool:
    """Whether ``param`` waits for its shape (initialised, no arrays until the first forward).
    Private: ``Parameter._deferred_init``."""
    return bool(param._deferred_init)


def is_uninitialized(param: mx.gluon.Parameter) -> bool:
    """Neither initialised nor waiting for a deferred initialisation."""
    return not has_data(param) and not is_deferred(param)


def replace_child(block: nn.Block, name: str, new: nn.Block) -> None:
    """Put ``new`` in place of ``block``'s child ``name`` (an attribute name, or a
    ``Sequential`` index as a string). Gluon refuses to change a registered child's type by
    assignment, and a ``Sequential`` has no item assignment. Private: ``Block._children``."""
    children = block._children
    if name not in children:
        raise KeyError(f"{type(block).__name__} has no child {name!r}")
    if hasattr(block, name) and not name.isdigit():
        delattr(block, name)
        children.pop(name)
        setattr(block, name, new)
    else:
        children[name] = new


def enable_label_smoothing(yolo3: nn.Block) -> None:
    """Turn on GluonCV's YOLOv3 label smoothing after the network is built (its
    ``yolo3_*_custom`` constructors do not take the flag). Private:
    ``YOLOV3._target_generator._label_smooth``."""
    yolo3._target_generator._label_smooth = True


def build_target_generator(rcnn: nn.Block) -> None:
    """Create a GluonCV R-CNN's training target generator now. GluonCV creates it lazily, with
    constant parameters, on the first training call; created first, training and prediction
    networks hold the same parameters. Private: ``RCNN._target_generator`` (only read here to
    tell whether the network has one; the public ``target_generator`` property builds it)."""
    if getattr(rcnn, "_target_generator", None) is not None:
        rcnn.target_generator  # noqa: B018 - the property builds and registers it


class WeightsFirstTrainer(mx.gluon.Trainer):
    """Gluon's Trainer, with its first broadcast of the weights finished before any gradient
    is reduced.

    With ``update_on_kvstore=False`` a kvstore key carries a parameter's initial weights
    (rank 0 pushes, every rank pulls) and then its summed gradients. MXNet 1.9.1 does not order
    a worker's initial pull before its first gradient push-pull of the same key, so under load
    a worker could pull the servers' copy after it had become the first step's gradient sum and
    train from that as its weights (seen as one large ResNet convolution differing between
    the two workers of a ``dist_sync`` test). Waiting here costs one sync per parameter
    initialisation, i.e. once per run. Private: ``Trainer._init_params``, the hook Gluon calls
    on the first ``step``.
    """

    def _init_params(self):
        super()._init_params()
        mx.nd.waitall()


def _pyramid_roi_feats(
    self, F, features, rpn_rois, roi_size, strides, roi_mode="align",
    roi_canonical_scale=224.0, sampling_ratio=2, eps=1e-6,
):  # fmt: skip
    """GluonCV's FPN RoI pooling, without the RoIs of batch index -1.

    GluonCV hides other levels' RoIs from ``ROIAlign`` by setting their batch index to -1.
    MXNet 1.9.1's CPU ``ROIAlign`` then leaves row n of its output uninitialised (any value, up
    to 1e30) and may write a 0 at flat position n instead (inside the first RoI's features), so
    FPN training on the CPU blows up at random. Here every level pools every RoI
    and keeps the rows of its own RoIs (same level rule: ``floor(4 + log2(sqrt(wh) / 224))``,
    P6 not used).
    """
    max_stage = self._max_stage - 1 if self._max_stage > 5 else self._max_stage
    _, x1, y1, x2, y2 = F.split(rpn_rois, axis=-1, num_outputs=5)
    area = (y2 - y1 + 1) * (x2 - x1 + 1)
    level = F.floor(4 + F.log2(F.sqrt(area) / roi_canonical_scale + eps))
    level = F.squeeze(F.clip(level, self._min_stage, max_stage))
    pooled = []
    for i, stage in enumerate(range(self._min_stage, max_stage + 1)):
        here = level == stage
        if roi_mode == "align":
            feature = F.contrib.ROIAlign(
                features[i], rpn_rois, roi_size, 1.0 / strides[i], sample_ratio=sampling_ratio
            )
        else:
            feature = F.ROIPooling(features[i], rpn_rois, roi_size, 1.0 / strides[i])
        pooled.append(F.where(here, feature, F.zeros_like(feature)))
    return F.ElementWiseSum(*pooled)


def fix_cpu_roi_align(net: nn.HybridBlock) -> nn.HybridBlock:
    """Give a GluonCV R-CNN (FPN) the RoI pooling above (same results as GluonCV's on GPUs).
    Monkeypatch of GluonCV's private ``FasterRCNN._pyramid_roi_feats``."""
    net._pyramid_roi_feats = types.MethodType(_pyramid_roi_feats, net)
    return net


ONNX_OPSET = 13  # the newest opset MXNet 1.9.1's converters are written for


def _register_weight_converter() -> None:
    """MXNet's converter writes each weight through a Python list of its values
    (``make_tensor(vals=array.flatten().tolist())``): a WideResNet-38 took 34 s to convert,
    most of it there. A converter for its ``null`` op (weights and inputs) at opset 13, which
    MXNet's lookup prefers to its own opset-12 one, writes weights as raw bytes instead (the
    same tensor) and leaves inputs to MXNet's. Private: ``MXNetGraph.registry_``."""
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph
    from onnx import helper, numpy_helper

    table = MXNetGraph.registry_.setdefault(ONNX_OPSET, {})
    if "null" in table:
        return
    original = MXNetGraph.registry_[12]["null"]

    def convert_null(node, **kwargs):
        if kwargs["is_input"]:
            return original(node, **kwargs)
        name = node["name"]
        array = kwargs["weights"][name]
        kwargs["initializer"].append(numpy_helper.from_array(array, name))
        kind = helper.np_dtype_to_tensor_dtype(array.dtype)
        return [helper.make_tensor_value_info(name, kind, array.shape)], (array.dtype,)

    table["null"] = convert_null


def onnx_model_from_symbol(symbol, params: dict, input_shape: tuple, any_size: bool = False):
    """An ONNX ``ModelProto`` of ``symbol`` (input ``data``, float32) at opset 13, batch size
    dynamic (and height and width with ``any_size``).

    ``mx.onnx.export_model`` stamps the model with the installed onnx package's newest opset
    (22 for onnx 1.17) although MXNet's converters emit opset-13 nodes (``Split`` without
    ``num_outputs``), which ONNX Runtime then rejects; it also lists every weight as a graph
    input, which keeps ONNX Runtime from folding constants. Here the converter is called at
    opset 13 (its graph check too: onnx's ``checker.DEFAULT_CONTEXT`` is set to opset 13 for
    the call) and the weights are initializers only. Private: ``MXNetGraph``.
    """
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph
    from onnx import TensorProto, checker, helper

    from gluonext.engine.onnx_ops import register_conversions

    _register_weight_converter()
    register_conversions()
    dynamic = (None, input_shape[1], *((None, None) if any_size else input_shape[2:]))
    context = checker.DEFAULT_CONTEXT  # the converter checks its graph against this context
    saved = dict(context.opset_imports)
    context.opset_imports = {"": ONNX_OPSET}
    try:
        graph = MXNetGraph().create_onnx_graph_proto(
            symbol,
            params,
            in_shapes=[tuple(input_shape)],
            in_types=[TensorProto.FLOAT],
            opset_version=ONNX_OPSET,
            dynamic=True,
            dynamic_input_shapes=[dynamic],
        )
    finally:
        context.opset_imports = saved
    weights = {init.name for init in graph.initializer}
    kept = [value for value in graph.input if value.name not in weights]
    del graph.input[:]
    graph.input.extend(kept)
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="gluonext"
    )


def onnx_supported_ops() -> set[str]:
    """MXNet operator names the installed ONNX converter can translate at opset 13, with
    ``gluonext.engine.onnx_ops``'s."""
    from mxnet.onnx import get_operator_support

    from gluonext.engine.onnx_ops import register_conversions

    register_conversions()
    return set(get_operator_support(ONNX_OPSET))


def amp_enabled(trainer) -> bool:
    """Whether MXNet's ``amp.init_trainer`` set up loss scaling on ``trainer``. Private:
    ``Trainer._amp_loss_scaler`` (what ``amp.scale_loss`` itself reads)."""
    return getattr(trainer, "_amp_loss_scaler", None) is not None
