"""Garment attributes as Fashionpedia scores them: the vocabulary, F1 and the image-blind baseline.

The attribute list is the annotation file's ``attributes`` (the converter copies iMaterialist's
``label_descriptions.json``: 92 attributes in 2019, 294 in 2020), in id order; a model predicts
one probability per entry, and an instance's attributes are the set with the best expected F1
under those probabilities (``best_expected_f1``): thresholding at 0.5 predicts nothing for two
attributes of 0.45 each, where naming one of them is right half the time, and that is what
the frequency baseline does.

F1 is Fashionpedia's (``fashionpedia.fp_eval``, ``f1Type="binary_macro"``): the predicted and
true attribute sets as 0/1 vectors over the whole list, F1 of the 1s and F1 of the 0s averaged
(scikit-learn's macro average over the values present). An instance with no attribute and a
prediction of none scores 1; one attribute missed of 92 scores about 0.5.

Fashionpedia's evaluator requires attributes only of the categories it lists
(``CATEGORIES_WITH_ATTRIBUTES``: the 13 main garments and five garment parts, by the ids
iMaterialist and Fashionpedia share); other categories are scored by IoU alone.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from gluonext.errors import DatasetError

# an attribute's probability where nothing is known of it: a garment carries few of the list
RARE = 0.02
DRAWS = 256  # sampled ground truths the expected F1 is estimated on (fixed: deterministic)
CANDIDATES = 8  # the sets considered: the k most likely attributes, k = 0 .. 8

# fashionpedia.fp_eval.FPParams.catsWithAttributes (ids of Fashionpedia = iMaterialist 2019/2020)
CATEGORIES_WITH_ATTRIBUTES = frozenset(
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 28, 29, 31, 32, 33)
)


class AttributeVocabulary:
    """The annotation file's attribute list: ids in order, names, and 0/1 vectors over it."""

    def __init__(self, attributes: list[dict]):
        entries = sorted(attributes, key=lambda a: a["id"])
        self.ids = [int(a["id"]) for a in entries]
        self.names = [str(a.get("name", a["id"])) for a in entries]
        self.column = {a: k for k, a in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def multi_hot(self, attribute_ids) -> np.ndarray:
        """0/1 float32 vector over the list; raises KeyError on an id not in it."""
        vector = np.zeros(len(self.ids), np.float32)
        for a in attribute_ids:
            vector[self.column[int(a)]] = 1.0
        return vector

    def predicted(self, probabilities: np.ndarray) -> list[int]:
        """The attribute ids of ``best_expected_f1``'s set, most likely first."""
        return [self.ids[k] for k in best_expected_f1(probabilities)]


def f1(true_ids, predicted_ids, num_attributes: int) -> float:
    """Fashionpedia's binary-macro F1 of two attribute sets over a list of ``num_attributes``."""
    true, predicted = set(true_ids), set(predicted_ids)
    hits = len(true & predicted)
    missed, extra = len(true - predicted), len(predicted - true)
    negatives = num_attributes - len(true | predicted)  # 0 in both
    scores = []
    if true or predicted:  # the value 1 occurs
        scores.append(2 * hits / (2 * hits + missed + extra))
    if negatives or missed or extra:  # the value 0 occurs
        scores.append(2 * negatives / (2 * negatives + missed + extra))
    return float(np.mean(scores))


def best_expected_f1(probabilities: np.ndarray) -> list[int]:
    """Indices of the attribute set with the best expected ``f1`` when each attribute is present
    with its probability, independently, among the sets of the k most likely (k = 0 ..
    ``CANDIDATES``), most likely first; the expectation is estimated on ``DRAWS`` ground truths
    drawn with a fixed seed, so one input gives one answer."""
    probabilities = np.asarray(probabilities, np.float64)
    size = len(probabilities)
    order = np.argsort(-probabilities, kind="stable")[:CANDIDATES]
    truth = _uniforms(size) < probabilities  # (DRAWS, size)
    true_count = truth.sum(axis=1)
    best, best_score = 0, -1.0
    for k in range(len(order) + 1):
        hits = truth[:, order[:k]].sum(axis=1)
        missed, extra = true_count - hits, k - hits
        negatives = size - true_count - extra
        with np.errstate(invalid="ignore", divide="ignore"):
            ones = np.where(true_count + k > 0, 2 * hits / (2 * hits + missed + extra), np.nan)
            zeros = np.where(negatives + missed + extra > 0,
                             2 * negatives / (2 * negatives + missed + extra), np.nan)  # fmt: skip
        score = float(np.nanmean(np.stack([ones, zeros]), axis=0).mean())
        if score > best_score + 1e-12:
            best, best_score = k, score
    return [int(i) for i in order[:best]]


_UNIFORMS: dict[int, np.ndarray] = {}


def _uniforms(size: int) -> np.ndarray:
    if size not in _UNIFORMS:
        _UNIFORMS[size] = np.random.RandomState(0).rand(DRAWS, size)
    return _UNIFORMS[size]


def frequency_baseline(annotations, vocabulary: AttributeVocabulary) -> dict[int, list[int]]:
    """The image-blind attribute predictor from training annotations: for each category, the
    attribute set with the best mean F1 over its training instances among the sets of its
    most frequent attributes (the first k by frequency, k = 0, 1, ...)."""
    by_category: dict[int, list[list[int]]] = defaultdict(list)
    for ann in annotations:
        by_category[int(ann["category_id"])].append(list(ann.get("attribute_ids") or []))
    best = {}
    for category, sets in by_category.items():
        counts: dict[int, int] = defaultdict(int)
        for ids in sets:
            for a in ids:
                counts[a] += 1
        ranked = sorted(counts, key=lambda a: (-counts[a], a))
        candidates = [ranked[:k] for k in range(len(ranked) + 1)]
        scores = [np.mean([f1(ids, c, len(vocabulary)) for ids in sets]) for c in candidates]
        best[category] = sorted(candidates[int(np.argmax(scores))])
    return best


def category_log_odds(annotations, vocabulary: AttributeVocabulary, category_ids,
                      source: str = "annotations") -> np.ndarray:  # fmt: skip
    """(categories, attributes) log-odds of each attribute on each category's training instances
    (rows in the order of ``category_ids``), smoothed by half an instance either way; a category
    without instances gets a rare attribute's odds (``RARE``) throughout. An attribute id not
    in the list raises ``DatasetError`` naming ``source`` and the annotation."""
    row = {int(c): k for k, c in enumerate(category_ids)}
    counts = np.zeros((len(row), len(vocabulary)), np.float64)
    totals = np.zeros(len(row), np.float64)
    for ann in annotations:
        k = row.get(int(ann["category_id"]))
        if k is None:
            continue
        try:
            counts[k] += vocabulary.multi_hot(ann.get("attribute_ids") or [])
        except (KeyError, ValueError) as exc:
            raise DatasetError(f"{source}: annotation {ann.get('id')} has attribute id "
                               f"{exc.args[0]}, not in the file's attributes list") from None
        totals[k] += 1
    probability = np.where(totals[:, None] > 0, (counts + 0.5) / (totals[:, None] + 1), RARE)
    return np.log(probability / (1 - probability)).astype(np.float32)
