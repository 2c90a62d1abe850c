"""Box decoding back to each image's resolution and the evaluation, checked with a network
that answers the ground truth in its input frame: VOC07 mAP and COCO AP50 must be 1."""

import mxnet as mx
import numpy as np
from conftest import voc_folder

from gluonext.detection.data import VOCFolderDetection
from gluonext.detection.evaluate import evaluate_detection
from gluonext.detection.recipes import SquareInput


class Square(SquareInput):
    data_shape = 300


class OracleNet:
    def __init__(self, dataset):
        self.dataset, self.index = dataset, 0

    def __call__(self, x):
        label = self.dataset.label(self.index)
        height, width = self.dataset.size(self.index)
        self.index += 1
        side = x.shape[2]
        boxes = label[:, :4] * np.array([side / width, side / height] * 2)
        ids, scores = label[:, 4:5], np.ones((len(label), 1))
        return (mx.nd.array(ids[None]), mx.nd.array(scores[None]), mx.nd.array(boxes[None]))


def test_ground_truth_boxes_score_a_perfect_map(tmp_path):
    voc_folder(tmp_path, images=8, ratio=0.5)
    dataset = VOCFolderDetection(tmp_path, skip_empty=False)
    scores = evaluate_detection(OracleNet(dataset), dataset, mx.cpu(), Square())
    assert abs(scores["voc07_mAP"] - 1.0) < 1e-6
    assert scores["coco"]["AP50"] > 0.99
