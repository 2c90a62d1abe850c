"""iMaterialist (Fashion) 2019 at FGVC6: categories, attributes, label descriptions, ClassId.

Category ids here are the dataset's own (0-45) and stay so in the COCO files this project
writes, so a Kaggle submission can use them unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gluonext.errors import DatasetError

# (name, supercategory, level) in id order, as in the competition's label_descriptions.json.
CATEGORIES: list[tuple[str, str, int]] = [
    ("shirt, blouse", "upperbody", 2),
    ("top, t-shirt, sweatshirt", "upperbody", 2),
    ("sweater", "upperbody", 2),
    ("cardigan", "upperbody", 2),
    ("jacket", "upperbody", 2),
    ("vest", "upperbody", 2),
    ("pants", "lowerbody", 2),
    ("shorts", "lowerbody", 2),
    ("skirt", "lowerbody", 2),
    ("coat", "wholebody", 2),
    ("dress", "wholebody", 2),
    ("jumpsuit", "wholebody", 2),
    ("cape", "wholebody", 2),
    ("glasses", "head", 2),
    ("hat", "head", 2),
    ("headband, head covering, hair accessory", "head", 2),
    ("tie", "neck", 2),
    ("glove", "arms and hands", 2),
    ("watch", "arms and hands", 2),
    ("belt", "waist", 2),
    ("leg warmer", "legs and feet", 2),
    ("tights, stockings", "legs and feet", 2),
    ("sock", "legs and feet", 2),
    ("shoe", "legs and feet", 2),
    ("bag, wallet", "others", 2),
    ("scarf", "others", 2),
    ("umbrella", "others", 2),
    ("hood", "garment parts", 2),
    ("collar", "garment parts", 2),
    ("lapel", "garment parts", 2),
    ("epaulette", "garment parts", 2),
    ("sleeve", "garment parts", 2),
    ("pocket", "garment parts", 2),
    ("neckline", "garment parts", 2),
    ("buckle", "closures", 2),
    ("zipper", "closures", 2),
    ("applique", "decorations", 2),
    ("bead", "decorations", 2),
    ("bow", "decorations", 2),
    ("flower", "decorations", 2),
    ("fringe", "decorations", 2),
    ("ribbon", "decorations", 2),
    ("rivet", "decorations", 2),
    ("ruffle", "decorations", 2),
    ("sequin", "decorations", 2),
    ("tassel", "decorations", 2),
]


NUM_CATEGORIES = len(CATEGORIES)


MAIN_CATEGORY_IDS = tuple(range(13))  # the main apparel: shirt .. cape


BODY_PARTS = {"upperbody": 1, "lowerbody": 2, "wholebody": 3}  # 3-class body merge


# The 92 fine-grained attributes (style nicknames), ids 0-91. The converter never relies on
# these names: it copies whatever the label_descriptions.json it reads says.
ATTRIBUTE_NAMES: list[str] = [
    "classic (t-shirt)",
    "polo (shirt)",
    "undershirt",
    "henley (shirt)",
    "ringer (t-shirt)",
    "raglan (t-shirt)",
    "rugby (shirt)",
    "sailor (shirt)",
    "crop (top)",
    "halter (top)",
    "camisole",
    "tank (top)",
    "peasant (top)",
    "tube (top)",
    "tunic (top)",
    "smock (top)",
    "hoodie",
    "blazer",
    "pea (jacket)",
    "puffer (jacket)",
    "biker (jacket)",
    "trucker (jacket)",
    "bomber (jacket)",
    "anorak",
    "safari (jacket)",
    "mao (jacket)",
    "nehru (jacket)",
    "norfolk (jacket)",
    "classic military (jacket)",
    "track (jacket)",
    "windbreaker",
    "chanel (jacket)",
    "bolero",
    "tuxedo (jacket)",
    "varsity (jacket)",
    "crop (jacket)",
    "jeans",
    "sweatpants",
    "leggings",
    "hip-huggers (pants)",
    "cargo (pants)",
    "culottes",
    "capri (pants)",
    "harem (pants)",
    "sailor (pants)",
    "jodhpur",
    "peg (pants)",
    "camo (pants)",
    "track (pants)",
    "crop (pants)",
    "short (shorts)",
    "booty (shorts)",
    "bermuda (shorts)",
    "cargo (shorts)",
    "trunks",
    "boardshorts",
    "skort",
    "roll-up (shorts)",
    "tie-up (shorts)",
    "culotte (shorts)",
    "lounge (shorts)",
    "bloomers",
    "tutu (skirt)",
    "kilt",
    "wrap (skirt)",
    "skater (skirt)",
    "cargo (skirt)",
    "hobble (skirt)",
    "sheath (skirt)",
    "ball gown (skirt)",
    "gypsy (skirt)",
    "rah-rah (skirt)",
    "prairie (skirt)",
    "flamenco (skirt)",
    "accordion (skirt)",
    "sarong (skirt)",
    "tulip (skirt)",
    "dirndl (skirt)",
    "godet (skirt)",
    "blanket (coat)",
    "parka",
    "trench (coat)",
    "pea (coat)",
    "shearling (coat)",
    "teddy bear (coat)",
    "puffer (coat)",
    "duster (coat)",
    "raincoat",
    "kimono",
    "robe",
    "dress (coat )",
    "duffle (coat)",
]


NUM_ATTRIBUTES = len(ATTRIBUTE_NAMES)


assert NUM_CATEGORIES == 46 and NUM_ATTRIBUTES == 92


CSV_COLUMNS = ("ImageId", "EncodedPixels", "Height", "Width", "ClassId")
# iMaterialist-Fashion-2020 (FGVC7) moved the attributes out of ClassId into their own column,
# comma-separated ("115,136,143"), and described 294 of them in its label_descriptions.json
ATTRIBUTES_COLUMN = "AttributesIds"


def label_descriptions() -> dict:
    """The contents of ``label_descriptions.json`` for the 46 categories and 92 attributes."""
    return {
        "info": {
            "year": 2019,
            "version": "1.0",
            "description": "The 2019 FGVC^6 iMaterialist Competition - Fashion track dataset.",
            "contributor": "iMaterialist Fashion Competition group",
            "url": "https://github.com/visipedia/imat_comp",
            "date_created": "2019-04-19 12:38:27.493919",
        },
        "categories": [
            {"id": i, "name": name, "supercategory": sup, "level": level}
            for i, (name, sup, level) in enumerate(CATEGORIES)
        ],
        "attributes": [
            {"id": i, "name": name, "supercategory": "nickname", "level": 1}
            for i, name in enumerate(ATTRIBUTE_NAMES)
        ],
    }


class LabelDescriptionError(DatasetError):
    """label_descriptions.json is missing or not in the competition's layout."""


def load_label_descriptions(path: str | os.PathLike) -> tuple[list[dict], list[dict]]:
    """Read ``label_descriptions.json``; return (categories, attributes), each sorted by id."""
    path = Path(path)
    if not path.is_file():
        raise LabelDescriptionError(f"{path}: file not found (it ships with the dataset)")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelDescriptionError(f"{path}: not valid JSON ({exc})") from None
    result = []
    for key in ("categories", "attributes"):
        entries = payload.get(key) if isinstance(payload, dict) else None
        if not isinstance(entries, list):
            raise LabelDescriptionError(f"{path}: no '{key}' list")
        for position, entry in enumerate(entries):
            if not (
                isinstance(entry, dict) and isinstance(entry.get("id"), int) and "name" in entry
            ):
                raise LabelDescriptionError(
                    f"{path}: {key}[{position}] needs an integer 'id' and a 'name'"
                )
        ids = [entry["id"] for entry in entries]
        if len(set(ids)) != len(ids):
            raise LabelDescriptionError(f"{path}: duplicate ids in '{key}'")
        result.append(sorted(entries, key=lambda entry: entry["id"]))
    return result[0], result[1]


def parse_class_id(text: str) -> tuple[int, list[int]]:
    """Split a ``ClassId`` cell such as ``"6_28_77"`` into (category 6, attributes [28, 77])."""
    parts = text.strip().split("_")
    if not all(part.isascii() and part.isdigit() for part in parts):
        raise ValueError(f"ClassId {text!r} is not '<category>' or '<category>_<attr>_...'")
    category, *attributes = (int(part) for part in parts)
    return category, attributes


def parse_attribute_ids(text: str) -> list[int]:
    """An ``AttributesIds`` cell of the 2020 CSV (``"115,136,143"``, or empty) as ids."""
    parts = [part.strip() for part in text.split(",")] if text.strip() else []
    if not all(part.isascii() and part.isdigit() for part in parts):
        raise ValueError(f"AttributesIds {text!r} is not a comma-separated list of attribute ids")
    return [int(part) for part in parts]


def format_class_id(category: int, attributes: list[int] | tuple[int, ...] = ()) -> str:
    """Inverse of :func:`parse_class_id`."""
    return "_".join(str(value) for value in (category, *attributes))


def select_categories(spec: str, known_ids: list[int]) -> list[int]:
    """Resolve ``--categories all|main|<id,id,...>`` against the ids the dataset defines."""
    spec = spec.strip().lower()
    if spec == "all":
        return sorted(known_ids)
    if spec == "main":
        return [i for i in MAIN_CATEGORY_IDS if i in set(known_ids)]
    try:
        chosen = sorted({int(token) for token in spec.split(",") if token.strip()})
    except ValueError:
        raise ValueError(
            f"--categories {spec!r}: expected 'all', 'main' or comma-separated category ids"
        ) from None
    unknown = sorted(set(chosen) - set(known_ids))
    if not chosen or unknown:
        raise ValueError(f"--categories {spec!r}: unknown category ids {unknown or '(none given)'}")
    return chosen
