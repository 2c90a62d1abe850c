"""ONNX conversions MXNet 1.9.1's converter gets wrong or lacks, registered at opset 13 (its
lookup prefers them to its own).

``GroupNorm`` (the mask head of a Mask R-CNN trained without ImageNet weights) has no
conversion: here the input is reshaped to (N, groups, rest), normalised by ONNX's
``InstanceNormalization`` with the per-group gamma and beta MXNet 1.9.1 keeps, and reshaped
back: the same arithmetic.

``box_nms``: MXNet keeps the ``topk`` best-scored boxes and runs NMS on them; the converter
passes ``topk`` to ONNX's NonMaxSuppression as the number of boxes to *output*, so NMS runs
on every box and more survive (Faster R-CNN's RPN kept 40 proposals in ONNX Runtime where
MXNet kept 16), and it suppresses across classes where MXNet's ``force_suppress=False`` does
not. Here the ``topk`` best are taken first (TopK), classes are kept apart by shifting each
class's boxes beyond every other's, and the result is laid out as MXNet's: the kept boxes in
score order, then rows of -1 up to the input's length, for every leading index (MXNet treats
all axes but the last two as batch)."""

from __future__ import annotations

import numpy as np

OPSET = 13


def register_conversions() -> None:
    """Put this module's converters in MXNet's table for opset 13 (private:
    ``MXNetGraph.registry_``)."""
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph

    table = MXNetGraph.registry_.setdefault(OPSET, {})
    table["_contrib_box_nms"] = convert_box_nms
    table["GroupNorm"] = convert_group_norm


def _input_names(node, kwargs) -> list[str]:
    lookup = kwargs["outputs_lookup"]
    return [lookup[source][index].name for source, index, *_ in node["inputs"]]


def convert_group_norm(node, **kwargs):
    """MXNet 1.9.1's ``GroupNorm`` (gamma and beta per group) as ONNX nodes."""
    from onnx import helper, numpy_helper

    name, attrs = node["name"], node.get("attrs", {})
    data, gamma, beta = _input_names(node, kwargs)
    groups = int(attrs.get("num_groups", "1"))
    grouped = numpy_helper.from_array(np.array([0, groups, -1], np.int64), f"{name}_grouped")
    kwargs["initializer"].append(grouped)
    return [
        helper.make_node("Shape", [data], [f"{name}_shape"], name=f"{name}_shape"),
        helper.make_node("Reshape", [data, grouped.name], [f"{name}_groups"],
                         name=f"{name}_groups"),  # fmt: skip
        helper.make_node("InstanceNormalization", [f"{name}_groups", gamma, beta],
                         [f"{name}_normed"], name=f"{name}_normed",
                         epsilon=float(attrs.get("eps", "1e-5"))),  # fmt: skip
        helper.make_node("Reshape", [f"{name}_normed", f"{name}_shape"], [name], name=name),
    ]


def convert_box_nms(node, **kwargs):
    """MXNet's ``_contrib_box_nms`` (corner boxes) as ONNX nodes; its first output is
    ``<name>0``."""
    from onnx import helper, numpy_helper

    name, attrs = node["name"], node.get("attrs", {})
    data = _input_names(node, kwargs)[0]
    if "center" in (attrs.get("in_format"), attrs.get("out_format")):
        raise NotImplementedError("box_nms: only corner boxes convert")
    if int(attrs.get("background_id", "-1")) != -1:
        raise NotImplementedError("box_nms: background_id is not converted")
    coord = int(attrs.get("coord_start", "2"))
    score = int(attrs.get("score_index", "1"))
    class_index = int(attrs.get("id_index", "-1"))
    topk = int(attrs.get("topk", "-1"))
    per_class = class_index >= 0 and attrs.get("force_suppress", "False") in ("False", "0")

    def const(suffix, values, dtype=np.int64):
        tensor = numpy_helper.from_array(np.array(values, dtype=dtype), f"{name}_{suffix}")
        kwargs["initializer"].append(tensor)
        return tensor.name

    def n(suffix):
        return f"{name}_{suffix}"

    def columns(start, stop, out):
        return helper.make_node("Slice", [n("data"), const(f"{out}_a", [start]),
                                          const(f"{out}_b", [stop]), const(f"{out}_ax", [2])],
                                [n(out)], name=n(out))  # fmt: skip

    nodes = [
        helper.make_node("Shape", [data], [n("shape")], name=n("shape")),
        helper.make_node("Slice", [n("shape"), const("m2", [-2]), const("end", [2**62])],
                         [n("last2")], name=n("last2")),  # fmt: skip
        helper.make_node("Concat", [const("batch", [-1]), n("last2")], [n("shape3")],
                         name=n("shape3"), axis=0),  # fmt: skip
        helper.make_node("Reshape", [data, n("shape3")], [n("data")], name=n("data")),
        helper.make_node("Slice", [n("last2"), const("z0", [0]), const("z1", [1])],
                         [n("count")], name=n("count")),  # fmt: skip
    ]
    if topk > 0:
        nodes.append(helper.make_node("Min", [n("count"), const("topk", [topk])], [n("k")],
                                      name=n("k")))  # fmt: skip
    else:
        nodes.append(helper.make_node("Identity", [n("count")], [n("k")], name=n("k")))
    nodes += [
        columns(score, score + 1, "scores3"),
        helper.make_node("Squeeze", [n("scores3"), const("ax2", [2])], [n("scores")],
                         name=n("scores")),  # fmt: skip
        # the k best of each batch row, best first: MXNet's topk is taken before NMS
        helper.make_node("TopK", [n("scores"), n("k")], [n("best"), n("order")],
                         name=n("topk"), axis=1, largest=1, sorted=1),  # fmt: skip
        helper.make_node("Unsqueeze", [n("order"), const("ax_last", [2])], [n("order3")],
                         name=n("order3")),  # fmt: skip
        helper.make_node("GatherND", [n("data"), n("order3")], [n("cand")], name=n("cand"),
                         batch_dims=1),  # fmt: skip
        helper.make_node("Slice", [n("cand"), const("c0", [coord]), const("c4", [coord + 4]),
                                   const("cax", [2])], [n("boxes")], name=n("boxes")),  # fmt: skip
    ]
    boxes = n("boxes")
    if per_class:  # each class's boxes moved beyond every other's: NMS never meets two
        nodes += [
            helper.make_node("Slice", [n("cand"), const("i0", [class_index]),
                                       const("i1", [class_index + 1]), const("iax", [2])],
                             [n("ids")], name=n("ids")),  # fmt: skip
            helper.make_node("Abs", [n("boxes")], [n("abs")], name=n("abs")),
            helper.make_node("ReduceMax", [n("abs")], [n("span0")], name=n("span0"),
                             keepdims=0),  # fmt: skip
            helper.make_node("Add", [n("span0"), const("onef", 1.0, np.float32)], [n("span")],
                             name=n("span")),  # fmt: skip
            helper.make_node("Mul", [n("ids"), n("span")], [n("shift")], name=n("shift")),
            helper.make_node("Add", [n("boxes"), n("shift")], [n("apart")], name=n("apart")),
        ]
        boxes = n("apart")
    nodes += [
        helper.make_node("Unsqueeze", [n("best"), const("ax1", [1])], [n("nms_scores")],
                         name=n("nms_scores")),  # fmt: skip
        helper.make_node(
            "NonMaxSuppression",
            [boxes, n("nms_scores"), n("k"),
             const("iou", [float(attrs.get("overlap_thresh", "0.5"))], np.float32),
             const("valid", [float(attrs.get("valid_thresh", "0"))], np.float32)],
            [n("selected")], name=n("nms"),
        ),  # fmt: skip
        # kept[b, i]: candidate i of row b survived; candidates are in score order, so the
        # survivors in index order are MXNet's output order
        helper.make_node("Gather", [n("selected"), const("b_and_i", [0, 2])], [n("where")],
                         name=n("where"), axis=1),  # fmt: skip
        helper.make_node("Shape", [n("best")], [n("bk")], name=n("bk")),
        helper.make_node("ConstantOfShape", [n("bk")], [n("zeros")], name=n("zeros"),
                         value=numpy_helper.from_array(np.array([0], np.int64))),  # fmt: skip
        helper.make_node("Shape", [n("where")], [n("s2")], name=n("s2")),
        helper.make_node("Slice", [n("s2"), const("w0", [0]), const("w1", [1])], [n("s")],
                         name=n("s")),  # fmt: skip
        helper.make_node("ConstantOfShape", [n("s")], [n("ones")], name=n("ones"),
                         value=numpy_helper.from_array(np.array([1], np.int64))),  # fmt: skip
        helper.make_node("ScatterND", [n("zeros"), n("where"), n("ones")], [n("kept")],
                         name=n("kept")),  # fmt: skip
        # sort key: a survivor's index, the others after every survivor
        helper.make_node("Shape", [n("best")], [n("bk2")], name=n("bk2")),
        helper.make_node("Slice", [n("bk2"), const("k0", [1]), const("k1", [2])], [n("kk")],
                         name=n("kk")),  # fmt: skip
        helper.make_node("Squeeze", [n("kk"), const("kk_ax", [0])], [n("k_s")],
                         name=n("k_s")),  # fmt: skip
        helper.make_node("Range", [const("r0", 0), n("k_s"), const("r1", 1)], [n("index")],
                         name=n("index")),  # fmt: skip
        helper.make_node("Sub", [const("one_i", 1), n("kept")], [n("dropped")],
                         name=n("dropped")),  # fmt: skip
        helper.make_node("Mul", [n("dropped"), n("k_s")], [n("late")], name=n("late")),
        helper.make_node("Add", [n("index"), n("late")], [n("key")], name=n("key")),
        helper.make_node("TopK", [n("key"), n("k")], [n("key_sorted"), n("place")],
                         name=n("place"), axis=1, largest=0, sorted=1),  # fmt: skip
        helper.make_node("Unsqueeze", [n("place"), const("ax_last2", [2])], [n("place3")],
                         name=n("place3")),  # fmt: skip
        helper.make_node("GatherND", [n("cand"), n("place3")], [n("rows")], name=n("rows"),
                         batch_dims=1),  # fmt: skip
        helper.make_node("Less", [n("key_sorted"), n("k_s")], [n("alive2")], name=n("alive2")),
        helper.make_node("Unsqueeze", [n("alive2"), const("ax_last3", [2])], [n("alive")],
                         name=n("alive")),  # fmt: skip
        helper.make_node("Where", [n("alive"), n("rows"), const("minus1", -1.0, np.float32)],
                         [n("kept_rows")], name=n("kept_rows")),  # fmt: skip
        # rows of -1 up to the input's length (the candidates beyond topk)
        helper.make_node("Sub", [n("count"), n("k")], [n("missing")], name=n("missing")),
        helper.make_node("Concat", [const("pads_head", [0, 0, 0, 0]), n("missing"),
                                    const("pads_tail", [0])], [n("pads")], name=n("pads"),
                         axis=0),  # fmt: skip
        helper.make_node("Pad", [n("kept_rows"), n("pads"), const("minus1p", -1.0, np.float32)],
                         [n("padded")], name=n("pad")),  # fmt: skip
        helper.make_node("Reshape", [n("padded"), n("shape")], [f"{name}0"], name=name),
    ]
    return nodes
