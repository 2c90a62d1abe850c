import hashlib
from collections import defaultdict

import numpy as np

from gluonext.sample.render import KIND_ATTRIBUTES, garment_attributes, render_scene

# sha256 of 60 iMaterialist and 60 VOC scenes (pictures, instance kinds and masks) as drawn
# before attributes followed the garment: the pictures, and every figure measured on them,
# did not change
PICTURES_BEFORE_ATTRIBUTES = "80c66069a93f6ab195fd2fb75724ea8c3b59ff4ae107d843e2395f22b244c8d7"


def scenes(seed, count, modes=("imaterialist",)):
    for mode in modes:
        for index in range(count):
            yield render_scene(np.random.RandomState([seed, index]), (96, 128), mode)


def test_pictures_are_those_drawn_before_attributes_followed_the_garment():
    digest = hashlib.sha256()
    for scene in scenes(7, 60, ("imaterialist", "voc")):
        digest.update(scene.image.tobytes())
        for instance in scene.instances:
            digest.update(instance.kind.encode())
            digest.update(instance.mask.tobytes())
    assert digest.hexdigest() == PICTURES_BEFORE_ATTRIBUTES


def test_rules_read_the_drawn_traits():
    assert garment_attributes("shorts", {"length": 0.35, "texture": "denim"}) == [50]
    assert garment_attributes("skirt", {"length": 0.4, "flare": 0.05}) == [65]
    assert garment_attributes("skirt", {"length": 0.4, "flare": 0.01}) == [68]
    assert garment_attributes("pants", {"length": 0.9, "texture": "solid"}) == [38]
    assert garment_attributes("jacket", {"zipper": True, "texture": "denim"}) == [20, 21]
    assert garment_attributes("top", {"sleeve": 0.35, "texture": "stripes"}) == [0, 4]
    assert garment_attributes("dress", {"sleeve": 0.9}) == []


def test_every_rule_splits_its_kind_and_skirts_are_skater_or_sheath():
    seen = defaultdict(lambda: defaultdict(int))
    totals = defaultdict(int)
    for scene in scenes(3, 300):
        for instance in scene.instances:
            if instance.kind in KIND_ATTRIBUTES:
                totals[instance.kind] += 1
                for attribute in instance.attributes:
                    seen[instance.kind][attribute] += 1
                if instance.kind == "skirt":
                    assert len(set(instance.attributes) & {65, 68}) == 1
    for kind, rules in KIND_ATTRIBUTES.items():
        if totals[kind] < 10:
            continue
        for attribute, _trait, _rule in rules:  # neither always nor never
            assert 0 < seen[kind][attribute] < totals[kind], (kind, attribute)
