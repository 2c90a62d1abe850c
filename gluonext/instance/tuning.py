"""Post-processing settings (``PostProcess``) tuned for the iMaterialist competition's score on
a validation split: the network runs once per image, and every setting is then scored from
those outputs through the same steps a submission takes (score cut, masks pasted at the mask
threshold, same-class suppression, masks made disjoint, small ones dropped).

The search is coordinate-wise: from the defaults, each setting in turn is swept over its
grid with the others held, the best value kept, for ``rounds`` passes; the last pass's
sweeps are the curves plotted. ``cross_check`` tunes on half the images and scores the other
half, both ways, so the gain is also measured on images the tuning did not see."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np

from gluonext.instance.competition import add_true_masks, score_pairs
from gluonext.instance.postprocess import DEFAULTS, PostProcess, disjoint_masks, suppress_same_class
from gluonext.instance.tta import Pass, merge_passes, run_passes

GRID = {
    "score": (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    "mask": (0.3, 0.4, 0.5, 0.6, 0.7),
    "nms": (0.3, 0.5, 0.7, 1.0),
    "min_area": (1, 16, 64, 256, 400),  # 400: the winners' "under 20 px" objects
}


@dataclass
class Candidates:
    """The network's instances of one image (``tta.Pass``: in the image's frame, best first),
    those scored at least the lowest grid score."""

    name: str
    size: tuple[int, int]
    found: Pass


@dataclass
class Validation:
    images: list[Candidates]
    truth: dict  # (file name, category id) -> flat (column-major) boolean masks
    category_ids: list[int]

    def half(self, parity: int) -> Validation:
        """Every other image (``parity`` 0 or 1) with its truth."""
        images = self.images[parity::2]
        names = {c.name for c in images}
        truth = {k: v for k, v in self.truth.items() if k[0] in names}
        return Validation(images, truth, self.category_ids)


def collect(predictor, dataset, limit: int | None = None, progress=None) -> Validation:
    """Run ``predictor``'s network once on each of the first ``limit`` images of ``dataset``
    (an ``InstanceDataset``) and read their true masks."""
    count = len(dataset) if limit is None else min(limit, len(dataset))
    images, truth = [], defaultdict(list)
    indices = range(count)
    for index in progress(indices) if progress else indices:
        image, _, _ = dataset.load(index)
        spec = predictor.spec
        (found,) = run_passes(predictor.runner, image, spec["resize_short"], spec["resize_max"],
                              min_score=min(GRID["score"]))  # fmt: skip
        images.append(Candidates(dataset.images[index]["file_name"], image.shape[:2], found))
        add_true_masks(truth, dataset, index)
    return Validation(images, dict(truth), list(dataset.category_ids))


def score_settings(validation: Validation, settings: PostProcess) -> float:
    """The competition's score of ``validation``'s images under ``settings``."""
    guesses: dict = defaultdict(list)
    for c in validation.images:
        found = merge_passes([c.found.scored_at_least(settings.score)], c.size, settings.mask)
        kept = suppress_same_class(found.masks, found.class_ids, settings.nms)
        masks = [found.masks[:, :, k] for k in kept]
        for j, mask in disjoint_masks(masks, settings.min_area):
            category = validation.category_ids[int(found.class_ids[kept[j]])]
            guesses[(c.name, category)].append(mask.flatten(order="F").astype(bool))
    return score_pairs(validation.truth, guesses).score


@dataclass
class Tuned:
    settings: PostProcess
    score: float
    default_score: float
    curves: dict = field(default_factory=dict)  # setting -> [(value, score)], last pass


def tune(validation: Validation, grid=None, start: PostProcess = DEFAULTS, rounds: int = 2,
         progress=None) -> Tuned:  # fmt: skip
    """The best settings found by coordinate-wise sweeps (see the module's description)."""
    grid = grid or GRID
    seen: dict[PostProcess, float] = {}

    def score(settings: PostProcess) -> float:
        if settings not in seen:
            seen[settings] = score_settings(validation, settings)
            if progress:
                progress(len(seen))
        return seen[settings]

    current, curves = start, {}
    for _ in range(rounds):
        for name, values in grid.items():
            sweep = [(value, score(replace(current, **{name: value}))) for value in values]
            best = max(score(current), *(s for _, s in sweep))
            if score(current) < best:  # move only for a real gain (ties keep the current)
                current = replace(current, **{name: next(v for v, s in sweep if s == best)})
            curves[name] = sweep
    return Tuned(current, score(current), score(start), curves)


def cross_check(validation: Validation, grid=None, rounds: int = 2) -> dict:
    """Tuned on one half of the images, scored on the other, both ways: the default and the
    tuned scores on the unseen halves, averaged."""
    defaults, tuned = [], []
    for parity in (0, 1):
        fitted = tune(validation.half(parity), grid, rounds=rounds)
        other = validation.half(1 - parity)
        defaults.append(score_settings(other, DEFAULTS))
        tuned.append(score_settings(other, fitted.settings))
    return {"default": float(np.mean(defaults)), "tuned": float(np.mean(tuned)),
            "per_half": {"default": defaults, "tuned": tuned}}  # fmt: skip


def plot_curves(tuned: Tuned, path, title: str) -> None:
    """One panel per setting: the validation score over its grid, the others at their tuned
    values, the chosen value marked and the defaults' score dashed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from gluonext.common.files import atomic_open

    names = list(tuned.curves)
    figure, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.0), sharey=True)
    for axis, name in zip(np.atleast_1d(axes), names, strict=True):
        values = [v for v, _ in tuned.curves[name]]
        scores = [s for _, s in tuned.curves[name]]
        axis.plot(range(len(values)), scores, marker="o")
        axis.set_xticks(range(len(values)), [f"{v:g}" for v in values])
        chosen = values.index(getattr(tuned.settings, name))
        axis.plot([chosen], [scores[chosen]], marker="*", markersize=14, color="tab:red")
        axis.axhline(tuned.default_score, linestyle="--", color="gray", linewidth=1)
        axis.set_xlabel(name)
        axis.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("competition score")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
