"""Mask R-CNN test-time augmentation: the image at several scales (the short side and the
size cap times each scale) and mirrored; the instances of all passes pooled, grouped by
class and box IoU, and merged by voting: the box is the score-weighted mean of each pass's
best member, the mask the mean of their pasted probabilities, thresholded; the score is the
sum of each pass's best score over the number of passes (an object one pass alone found
counts for less); attribute probabilities, with an attribute head, are the score-weighted
mean of the members'."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gluonext.instance.evaluate import Instances, paste_masks, pasted_pieces
from gluonext.rcnn.presets import MaskRCNNValTransform

MERGE_IOU = 0.5  # candidates of one class whose boxes overlap more are one object


@dataclass
class Pass:
    """One pass's candidates in the image's frame, best first: ids, scores, boxes,
    box-relative masks."""

    ids: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray
    attributes: np.ndarray | None = None

    def scored_at_least(self, score: float) -> Pass:
        count = int((self.scores >= score).sum())
        attributes = None if self.attributes is None else self.attributes[:count]
        return Pass(self.ids[:count], self.scores[:count], self.boxes[:count],
                    self.masks[:count], attributes)  # fmt: skip


def run_passes(run, image: np.ndarray, short: int, max_size: int, scales=(1.0,),
               flip: bool = False, min_score: float = 0.05) -> list[Pass]:  # fmt: skip
    """The network's candidates (``run``: a prepared 1 x 3 x H x W batch to its four outputs,
    five with attributes, as arrays) for each scale, mirrored too with ``flip``, mapped back
    to ``image``."""
    height, width = image.shape[:2]
    found = []
    for scale in scales:
        transform = MaskRCNNValTransform(max(1, round(short * scale)),
                                         max(1, round(max_size * scale)))  # fmt: skip
        for mirrored in (False, True) if flip else (False,):
            picture = np.ascontiguousarray(image[:, ::-1]) if mirrored else image
            tensor, info = transform(picture)
            outputs = run(tensor.asnumpy()[None])
            ids, scores, boxes, masks, *attributes = (o[0] for o in outputs)
            ids, scores = ids[:, 0], scores[:, 0]
            keep = np.flatnonzero((ids >= 0) & (scores >= min_score))
            keep = keep[np.argsort(-scores[keep], kind="stable")]
            boxes = boxes[keep] / float(info.asnumpy()[2])
            boxes[:, (0, 2)] = boxes[:, (0, 2)].clip(0, width)
            boxes[:, (1, 3)] = boxes[:, (1, 3)].clip(0, height)
            masks = masks[keep]
            if mirrored:
                boxes[:, (0, 2)] = width - boxes[:, (2, 0)]
                masks = masks[:, :, ::-1]
            found.append(Pass(ids[keep].astype(int), scores[keep], boxes, masks,
                              attributes[0][keep] if attributes else None))  # fmt: skip
    return found


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def merge_passes(passes: list[Pass], size, mask_threshold: float = 0.5,
                 min_score: float = 0.05) -> Instances:  # fmt: skip
    """The passes' candidates merged into instances, best first (see the module's
    description); one pass is returned as it is, masks pasted at ``mask_threshold``."""
    height, width = size
    if len(passes) == 1:
        only = passes[0]
        masks = paste_masks(only.masks, only.boxes, width, height, mask_threshold)
        return Instances(only.ids, only.scores, only.boxes, masks, only.attributes)
    pool = [(s, p, k) for p, one in enumerate(passes) for k, s in enumerate(one.scores)]
    pool.sort(key=lambda item: -item[0])
    leaders: list[tuple[int, int]] = []  # (pass, index) of each group's first member
    groups: list[dict[int, int]] = []  # pass -> its best member's index
    for _, p, k in pool:
        cls, box = passes[p].ids[k], passes[p].boxes[k]
        same = [g for g, (lp, lk) in enumerate(leaders) if passes[lp].ids[lk] == cls]
        if same:
            heads = np.array([passes[leaders[g][0]].boxes[leaders[g][1]] for g in same])
            overlaps = _iou(box, heads)
            if overlaps.max() > MERGE_IOU:
                group = groups[same[int(np.argmax(overlaps > MERGE_IOU))]]
                group.setdefault(p, k)  # the pass's first member is its best
                continue
        leaders.append((p, k))
        groups.append({p: k})
    merged = []
    for (lp, lk), group in zip(leaders, groups, strict=True):
        scores = np.array([passes[p].scores[k] for p, k in group.items()])
        score = float(scores.sum() / len(passes))
        if score < min_score:
            continue
        boxes = np.array([passes[p].boxes[k] for p, k in group.items()])
        box = (boxes * scores[:, None]).sum(axis=0) / scores.sum()
        probability = np.zeros((height, width), np.float32)
        for p, k in group.items():
            one = passes[p]
            for rows, cols, piece in pasted_pieces(one.masks[k : k + 1], one.boxes[k : k + 1],
                                                   width, height):  # fmt: skip
                probability[rows, cols] += piece
        attributes = None
        if passes[lp].attributes is not None:
            members = np.array([passes[p].attributes[k] for p, k in group.items()])
            attributes = (members * scores[:, None]).sum(axis=0) / scores.sum()
        merged.append((score, int(passes[lp].ids[lk]), box,
                       (probability / len(group)) > mask_threshold, attributes))  # fmt: skip
    merged.sort(key=lambda item: -item[0])
    masks = np.zeros((height, width, len(merged)), np.uint8, order="F")
    for k, item in enumerate(merged):
        masks[:, :, k] = item[3]
    return Instances(
        np.array([m[1] for m in merged], int), np.array([m[0] for m in merged], np.float32),
        np.array([m[2] for m in merged], np.float32).reshape(-1, 4), masks,
        None if passes[0].attributes is None
        else np.array([m[4] for m in merged], np.float32).reshape(
            len(merged), passes[0].attributes.shape[1]),
    )  # fmt: skip


def predict_with_passes(net, image: np.ndarray, transform, ctx, score_threshold: float = 0.001,
                        flip: bool = False, scales=(1.0,)) -> Instances:  # fmt: skip
    """``evaluate.predict_instances`` with test-time passes: a Gluon ``net`` on ``ctx``, the
    short side and size cap of ``transform`` (MaskRCNNValTransform)."""
    import mxnet as mx

    def run(batch):
        return [a.asnumpy() for a in net(mx.nd.array(batch, ctx=ctx))]

    passes = run_passes(run, image, transform.short, transform.max_size, scales, flip,
                        score_threshold)  # fmt: skip
    return merge_passes(passes, image.shape[:2], min_score=score_threshold)
