import numpy as np
import pytest
from sklearn.metrics import f1_score

from gluonext.instance.attributes import (
    AttributeVocabulary,
    category_log_odds,
    f1,
    frequency_baseline,
)

VOCAB = AttributeVocabulary([{"id": i, "name": f"a{i}"} for i in (0, 3, 7, 9, 20)])


def sklearn_f1(true, predicted, vocabulary=VOCAB):
    """Fashionpedia's definition, as fashionpedia.fp_eval computes it."""
    return f1_score(vocabulary.multi_hot(true).astype(int), vocabulary.multi_hot(predicted)
                    .astype(int), average="macro")  # fmt: skip


@pytest.mark.parametrize("true, predicted", [
    ([], []), ([3], []), ([], [3]), ([3], [3]), ([0, 3], [3, 9]), ([0, 3, 7, 9, 20], [0]),
    ([0, 3, 7, 9, 20], [0, 3, 7, 9, 20]), ([7], [0, 3, 9, 20]),
])  # fmt: skip
def test_f1_is_fashionpedias_binary_macro_f1(true, predicted):
    assert f1(true, predicted, len(VOCAB)) == pytest.approx(sklearn_f1(true, predicted))


def test_f1_by_hand():
    assert f1([], [], 92) == 1.0
    # one attribute missed of 92: F1 of the 1s is 0, of the 0s 2 * 91 / (2 * 91 + 1)
    assert f1([5], [], 92) == pytest.approx((0 + 182 / 183) / 2)


def test_vocabulary_orders_by_id_and_reads_predictions():
    vocab = AttributeVocabulary([{"id": 9, "name": "b"}, {"id": 2, "name": "a"}])
    assert vocab.ids == [2, 9] and vocab.names == ["a", "b"]
    assert vocab.multi_hot([9]).tolist() == [0.0, 1.0]
    assert vocab.predicted(np.array([0.7, 0.9])) == [9, 2]  # most likely first
    assert vocab.predicted(np.array([0.02, 0.01])) == []
    with pytest.raises(KeyError):
        vocab.multi_hot([4])


def exact_expected_f1(probabilities, chosen):
    """Every ground truth enumerated with its probability."""
    import itertools

    total = 0.0
    size = len(probabilities)
    for present in itertools.product([0, 1], repeat=size):
        weight = np.prod([p if x else 1 - p for p, x in zip(probabilities, present, strict=True)])
        truth = [k for k in range(size) if present[k]]
        total += weight * f1(truth, chosen, size)
    return total


@pytest.mark.parametrize("probabilities", [
    [0.45, 0.45, 0.02, 0.01, 0.0, 0.0], [0.9, 0.6, 0.3, 0.05, 0.02, 0.01],
    [0.02, 0.02, 0.01, 0.01, 0.0, 0.0], [0.95, 0.9, 0.85, 0.8, 0.7, 0.6],
])  # fmt: skip
def test_predicted_sets_have_the_best_expected_f1(probabilities):
    from gluonext.instance.attributes import best_expected_f1

    chosen = best_expected_f1(np.array(probabilities))
    order = np.argsort(probabilities, kind="stable")[::-1]
    best = max(exact_expected_f1(probabilities, list(order[:k])) for k in range(7))
    assert exact_expected_f1(probabilities, chosen) >= best - 0.01
    if probabilities[0] == 0.45:  # naming one of two even chances beats naming none
        assert len(chosen) >= 1


def test_frequency_baseline_picks_the_best_f1_set_per_category():
    def ann(category, attributes):
        return {"category_id": category, "attribute_ids": attributes}

    anns = ([ann(1, [3])] * 3 + [ann(1, [])] + [ann(2, [7])] + [ann(2, [])] * 3
            + [ann(5, [0, 9])] * 2 + [ann(5, [9])])  # fmt: skip
    sets = frequency_baseline(anns, VOCAB)
    assert sets == {1: [3], 2: [], 5: [0, 9]} or sets == {1: [3], 2: [], 5: [9]}
    # the chosen set has the best mean F1 of every candidate of its category
    for category, chosen in sets.items():
        mine = [a["attribute_ids"] for a in anns if a["category_id"] == category]
        best = np.mean([f1(t, chosen, len(VOCAB)) for t in mine])
        for other in ([], [0], [3], [7], [9], [0, 9]):
            assert best >= np.mean([f1(t, other, len(VOCAB)) for t in mine]) - 1e-12


def test_category_log_odds_are_smoothed_training_frequencies_in_class_order():
    anns = ([{"category_id": 5, "attribute_ids": [9]}] * 3 + [{"category_id": 5}]
            + [{"category_id": 1, "attribute_ids": [0, 20]}] + [{"category_id": 8}])  # fmt: skip
    table = category_log_odds(anns, VOCAB, [5, 1, 2])  # class 2 has no instance; 8 is not kept
    assert table.shape == (3, 5) and table.dtype == np.float32
    probability = 1 / (1 + np.exp(-table.astype(np.float64)))
    # 3 of 4 garments of category 5 carry attribute 9 (column 3): (3 + 0.5) / (4 + 1)
    np.testing.assert_allclose(probability[0], [0.1, 0.1, 0.1, 0.7, 0.1], rtol=1e-6)
    np.testing.assert_allclose(probability[1], [0.75, 0.25, 0.25, 0.25, 0.75], rtol=1e-6)
    np.testing.assert_allclose(probability[2], [0.02] * 5, rtol=1e-6)


def test_category_log_odds_name_an_attribute_the_list_lacks():
    from gluonext.errors import DatasetError

    anns = [{"id": 41, "category_id": 5, "attribute_ids": [9, 11]}]
    with pytest.raises(DatasetError, match=r"train.json: annotation 41 has attribute id 11, not"):
        category_log_odds(anns, VOCAB, [5], "train.json")
