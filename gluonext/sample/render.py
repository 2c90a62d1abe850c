"""A garment renderer: a figure wearing clothes, with exact masks, boxes and landmarks.

No real dataset can be downloaded where this project is tested, so the sample data of every
format comes from here. A scene is a standing figure (pose, proportions, scale and position
vary) on a varied background, dressed in an outfit whose classes show in *shape and position*
(sleeve length, hem height, open fronts, leg length, flare) and in texture families (knit,
denim, stripes, checks, dots), never in one flat colour per class. Bags, hands and outer
garments occlude what lies beneath; garment parts (sleeves, pockets, necklines, collars,
zippers) overlap their garment as in iMaterialist. Everything is drawn from one seeded
``numpy.random.RandomState``, so a seed gives the same scene everywhere.

Coordinates: body units are fractions of the figure's height; ``+x`` is the person's left
(the right of the picture), as in FashionAI and COCO keypoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageDraw

from gluonext.formats.fashionai import FASHIONAI_CATEGORY_KEYPOINTS

# renderer kinds of the iMaterialist categories they stand for
KIND_CATEGORY = {
    "shirt": 0,
    "top": 1,
    "sweater": 2,
    "cardigan": 3,
    "jacket": 4,
    "vest": 5,
    "pants": 6,
    "shorts": 7,
    "skirt": 8,
    "coat": 9,
    "dress": 10,
    "jumpsuit": 11,
    "cape": 12,
    "glasses": 13,
    "hat": 14,
    "belt": 19,
    "tights": 21,
    "shoe": 23,
    "bag": 24,
    "collar": 28,
    "lapel": 29,
    "sleeve": 31,
    "pocket": 32,
    "neckline": 33,
    "zipper": 35,
    "watch": 18,
}


UPPER_KINDS = ("shirt", "top", "sweater")


OUTER_KINDS = ("cardigan", "jacket", "coat", "vest", "cape")


LOWER_KINDS = ("pants", "shorts", "skirt")


WHOLE_KINDS = ("dress", "jumpsuit")


# What a garment's attributes (iMaterialist-Fashion-2019 attribute ids) follow in the drawing:
# kind -> [(attribute id, trait, rule)], the attribute present when the garment's drawn trait
# satisfies the rule. Traits are the drawing's own values, chosen among what a crop of the
# garment shows (an RoI head sees the garment's box resized to a fixed size, so lengths relative
# to the body are mostly lost): the textile pattern (Fashionpedia's "textile pattern"
# attributes), a zipper, sleeve length, flare. Kinds the 2019 list has no nickname for get none.
KIND_ATTRIBUTES = {
    "top": [(4, "texture", "stripes"), (0, "sleeve", ">= 0.31")],  # ringer, classic (t-shirt)
    "shirt": [(6, "texture", "stripes"), (3, "texture", "checks")],  # rugby, henley (shirt)
    "sweater": [(16, "texture", "knit")],  # hoodie
    "jacket": [(20, "zipper", True), (21, "texture", "denim")],  # biker, trucker (jacket)
    "cardigan": [(32, "texture", "solid")],  # bolero
    "pants": [(36, "texture", "denim"), (38, "texture", "solid")],  # jeans, leggings
    "shorts": [(50, "texture", "denim"), (55, "texture", "stripes")],  # short (shorts), boardshorts
    "skirt": [(65, "flare", ">= 0.04"), (68, "flare", "< 0.04")],  # skater, sheath (skirt)
    "coat": [(79, "texture", "checks")],  # blanket (coat)
}  # fmt: skip


def garment_attributes(kind: str, traits: dict) -> list[int]:
    """The attribute ids ``KIND_ATTRIBUTES`` gives a garment of ``kind`` drawn with ``traits``."""
    found = []
    for attribute, trait, rule in KIND_ATTRIBUTES.get(kind, []):
        value = traits.get(trait)
        if value is None:
            continue
        if isinstance(rule, str) and rule[:1] in "<>":
            op, bound = rule.split()
            holds = value < float(bound) if op == "<" else value >= float(bound)
        else:
            holds = value == rule
        if holds:
            found.append(attribute)
    return sorted(found)


FASHIONAI_MAIN_KINDS = {
    "blouse": UPPER_KINDS,
    "outwear": ("jacket", "coat", "cardigan"),
    "dress": ("dress",),
    "skirt": ("skirt",),
    "trousers": ("pants",),
}


VOC_KIND_CLASS = {
    "pants": "Pants_Leggings",
    "tights": "Pants_Leggings",
    "dress": "Dresses",
    "skirt": "Skirts",
    "shirt": "Tops",
    "top": "Tops",
    "sweater": "Tops",
    "cardigan": "Tops",
    "jacket": "Tops",
    "vest": "Tops",
    "coat": "Tops",
    "shorts": "Shorts",
    "bra": "Lingerie",
    "briefs": "Lingerie",
}


CLOTHING13_KIND_CLASS = {
    "skin": 1,
    "hair": 2,
    "jacket": 3,
    "coat": 3,
    "cardigan": 3,
    "vest": 3,
    "shirt": 4,
    "top": 4,
    "sweater": 4,
    "bra": 4,
    "skirt": 5,
    "dress": 6,
    "pants": 7,
    "shorts": 7,
    "tights": 8,
    "briefs": 8,
    "shoe": 9,
    "bag": 10,
    "hat": 11,
    "glasses": 11,
    "belt": 11,
    "watch": 11,
    "jumpsuit": 12,
    "cape": 12,
}


PART_KINDS = ("sleeve", "pocket", "neckline", "collar", "lapel", "zipper")


@dataclass
class Instance:
    """One drawn object; ``mask`` is what is visible of it in the final picture."""

    kind: str
    mask: np.ndarray
    attributes: list[int] = field(default_factory=list)
    parent: int | None = None  # index of the garment a part belongs to

    @property
    def category(self) -> int | None:
        return KIND_CATEGORY.get(self.kind)


@dataclass
class Scene:
    image: np.ndarray  # H x W x 3 uint8 RGB
    instances: list[Instance]
    keypoints: dict[str, tuple[float, float, int]] = field(default_factory=dict)
    fashionai_category: str | None = None


def _palette_colour(rng: np.random.RandomState) -> np.ndarray:
    hue = rng.randint(0, 180)
    sat = rng.randint(40, 230)
    val = rng.randint(50, 240)
    hsv = np.uint8([[[hue, sat, val]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _texture(rng, shape, family: str, window=None) -> np.ndarray:
    """A float RGB texture of the given family with random colours and scale, laid over the
    whole frame of ``shape``; computed only within ``window`` ((y0, y1, x0, x1), default the
    whole frame). The random draws are the whole frame's either way, so a seed gives the same
    pixels whatever the window."""
    h, w = shape
    y0, y1, x0, x1 = window or (0, h, 0, w)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    a, b = _palette_colour(rng), _palette_colour(rng)
    period = rng.uniform(4, 14) * max(h, w) / 256
    angle = rng.uniform(0, np.pi)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    if family == "stripes":
        t = (np.sin(2 * np.pi * u / period) > 0).astype(np.float32)
    elif family == "checks":
        v = -xx * np.sin(angle) + yy * np.cos(angle)
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    elif family == "dots":
        cx = (xx % period) - period / 2
        cy = (yy % period) - period / 2
        t = (cx**2 + cy**2 < (period * 0.28) ** 2).astype(np.float32)
    elif family == "knit":  # vertical ribs with fine grain
        t = 0.5 + 0.5 * np.sin(2 * np.pi * xx / max(period * 0.35, 2.5))
        t = t * 0.7 + 0.3 * rng.rand(h, w).astype(np.float32)[y0:y1, x0:x1]
        b = a * 0.6
    elif family == "denim":
        a = np.float32([rng.randint(20, 70), rng.randint(40, 90), rng.randint(100, 170)])
        b = a * 1.35
        t = 0.5 + 0.5 * np.sin(2 * np.pi * (xx + yy) / 3.0)
        t = t * 0.6 + 0.4 * rng.rand(h, w).astype(np.float32)[y0:y1, x0:x1]
    else:  # solid, with a little grain
        t = rng.rand(h, w).astype(np.float32)[y0:y1, x0:x1] * 0.25
        b = a * 0.8
    return a[None, None, :] * (1 - t[..., None]) + b[None, None, :] * t[..., None]


KIND_TEXTURES = {
    "sweater": ("knit", "knit", "stripes", "solid"),
    "cardigan": ("knit", "knit", "solid"),
    "pants": ("denim", "denim", "solid", "checks"),
    "shorts": ("denim", "solid", "stripes"),
    "jacket": ("solid", "denim", "checks"),
    "coat": ("solid", "checks", "solid"),
    "shirt": ("stripes", "checks", "solid", "dots"),
    "top": ("solid", "stripes", "dots"),
}


ALL_TEXTURES = ("solid", "stripes", "checks", "dots", "knit", "denim")


def _background(rng, shape) -> np.ndarray:
    h, w = shape
    style = rng.randint(4)
    if style == 0:  # wall and floor
        img = np.empty((h, w, 3), np.float32)
        horizon = int(h * rng.uniform(0.6, 0.85))
        img[:horizon] = _palette_colour(rng)
        img[horizon:] = _palette_colour(rng)
    elif style == 1:  # vertical gradient
        t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        img = _palette_colour(rng) * (1 - t) + _palette_colour(rng) * t
        img = np.broadcast_to(img, (h, w, 3)).copy()
    elif style == 2:  # blurred blobs (a street, a shop)
        small = rng.randint(40, 220, size=(6, 6, 3)).astype(np.float32)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    else:  # a patterned surface, washed out
        img = 0.5 * _texture(rng, shape, ALL_TEXTURES[rng.randint(4)]) + 0.5 * _palette_colour(rng)
    img += rng.normal(0, 6, size=img.shape).astype(np.float32)
    return img


class _Figure:
    """Body anchors in pixels for one figure."""

    def __init__(self, rng, height_px: float, cx: float, top: float):
        self.u, self.cx, self.top = height_px, cx, top
        self.sw = rng.uniform(0.9, 1.15)  # shoulder width
        self.hw = rng.uniform(0.9, 1.2)  # hip width
        self.arm_angle = [rng.uniform(0.08, 0.5), rng.uniform(0.08, 0.5)]  # right, left (rad)
        self.leg_spread = rng.uniform(0.0, 0.07)

    def p(self, x: float, y: float) -> tuple[float, float]:
        return (self.cx + x * self.u, self.top + y * self.u)

    def arm(self, side: int, t: float, offset: float = 0.0) -> tuple[float, float]:
        """Point at fraction t along the arm of ``side`` (+1 left, -1 right), offset across it."""
        a = self.arm_angle[(side + 1) // 2]
        sx, sy = side * 0.1 * self.sw, 0.19
        dx, dy = side * np.sin(a), np.cos(a)
        nx, ny = dy * side, -dx * side  # unit normal pointing outward-ish
        length = 0.37
        return self.p(sx + dx * length * t + nx * offset, sy + dy * length * t + ny * offset)

    def leg(self, side: int, t: float, offset: float = 0.0) -> tuple[float, float]:
        hx, hy = side * 0.05 * self.hw, 0.52
        ax, ay = side * (0.05 * self.hw + self.leg_spread), 0.95
        return self.p(hx + (ax - hx) * t + side * offset, hy + (ay - hy) * t)


def _sleeve(fig: _Figure, side: int, frac: float, width: float = 0.04):
    """Sleeve quad from the shoulder seam to fraction ``frac`` of the arm: (poly, in, out)."""
    top_out = fig.p(side * 0.108 * fig.sw, 0.172)
    top_in = fig.p(side * 0.085 * fig.sw, 0.265)
    end_out = fig.arm(side, frac, width)
    end_in = fig.arm(side, frac, -width)
    return [top_out, end_out, end_in, top_in], end_in, end_out


def _upper(fig: _Figure, hem_y: float, flare: float, neck_depth: float, sleeve: float):
    """Upper garment outline and landmarks (the shape shared by tops, jackets, coats, dresses)."""
    k = {}
    k["neckline_left"], k["neckline_right"] = fig.p(0.035, 0.148), fig.p(-0.035, 0.148)
    k["center_front"] = fig.p(0, 0.148 + neck_depth)
    k["shoulder_left"], k["shoulder_right"] = (
        fig.p(0.108 * fig.sw, 0.172),
        fig.p(-0.108 * fig.sw, 0.172),
    )
    k["armpit_left"], k["armpit_right"] = (
        fig.p(0.085 * fig.sw, 0.265),
        fig.p(-0.085 * fig.sw, 0.265),
    )
    waist_y = 0.40
    waist_x = 0.075 * fig.hw + 0.008
    k["waistline_left"], k["waistline_right"] = fig.p(waist_x, waist_y), fig.p(-waist_x, waist_y)
    hem_x = (0.075 + 0.2 * max(0.0, hem_y - 0.4)) * fig.hw + 0.01 + flare
    k["top_hem_left"], k["top_hem_right"] = fig.p(hem_x, hem_y), fig.p(-hem_x, hem_y)
    body = [
        k["neckline_right"],
        k["center_front"],
        k["neckline_left"],
        k["shoulder_left"],
        k["armpit_left"],
    ]
    if hem_y > waist_y + 0.02:
        body.append(k["waistline_left"])
    body += [k["top_hem_left"], k["top_hem_right"]]
    if hem_y > waist_y + 0.02:
        body.append(k["waistline_right"])
    body += [k["armpit_right"], k["shoulder_right"]]
    sleeves = []
    if sleeve > 0:
        for side, name in ((1, "left"), (-1, "right")):
            poly, cin, cout = _sleeve(fig, side, sleeve)
            sleeves.append(poly)
            k[f"cuff_{name}_in"], k[f"cuff_{name}_out"] = cin, cout
    return body, sleeves, k


def _lower(fig: _Figure, kind: str, length: float, flare: float):
    """Skirt or trousers outline and landmarks."""
    k = {}
    wx = 0.08 * fig.hw
    k["waistband_left"], k["waistband_right"] = fig.p(wx, 0.40), fig.p(-wx, 0.40)
    if kind == "skirt":
        hem_y = 0.40 + length
        hx = 0.1 * fig.hw + flare + 0.12 * length
        k["hemline_left"], k["hemline_right"] = fig.p(hx, hem_y), fig.p(-hx, hem_y)
        poly = [
            k["waistband_right"],
            k["waistband_left"],
            fig.p(0.1 * fig.hw, 0.5),
            k["hemline_left"],
            k["hemline_right"],
            fig.p(-0.1 * fig.hw, 0.5),
        ]
        return [poly], k
    k["crotch"] = fig.p(0, 0.56)
    polys = []
    for side, name in ((1, "left"), (-1, "right")):
        width = 0.052 + flare * 0.5
        out_pt = fig.leg(side, length, width)
        in_pt = fig.leg(side, length, -width * 0.8)
        k[f"bottom_{name}_in"], k[f"bottom_{name}_out"] = in_pt, out_pt
        polys.append(
            [
                fig.p(side * wx, 0.40),
                fig.p(side * 0.1 * fig.hw, 0.5),
                out_pt,
                in_pt,
                k["crotch"],
                fig.p(0, 0.42),
            ]
        )
    return polys, k


def _poly_mask(shape, polys) -> np.ndarray:
    canvas = Image.new("L", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for poly in polys:
        if len(poly) >= 3:
            draw.polygon([(float(x), float(y)) for x, y in poly], fill=1)
        elif len(poly) == 2:  # ellipse as a bounding box
            draw.ellipse([poly[0], poly[1]], fill=1)
    return np.asarray(canvas, dtype=bool)


@dataclass
class _Layer:
    kind: str
    polys: list
    texture: str = "solid"
    parts: list = field(default_factory=list)  # (kind, polys) drawn on the garment
    landmarks: dict = field(default_factory=dict)
    traits: dict = field(default_factory=dict)  # the drawn numbers attributes follow


def _choose(rng, options):
    return options[rng.randint(len(options))]


def _outfit(rng, mode: str, main: str | None):
    """Pick garment kinds. ``mode`` is a format name; ``main`` forces a FashionAI category."""
    if mode == "voc" and rng.rand() < 0.18:
        return {"lingerie": True, "upper": None, "outer": None, "lower": None, "whole": None}
    outfit = {"lingerie": False, "upper": None, "outer": None, "lower": None, "whole": None}
    if main in ("dress",) or (main is None and rng.rand() < 0.3):
        outfit["whole"] = (
            "dress" if (main == "dress" or mode == "voc" or rng.rand() < 0.75) else "jumpsuit"
        )
    else:
        outfit["upper"] = _choose(rng, UPPER_KINDS)
        if main == "skirt":
            outfit["lower"] = "skirt"
        elif main == "trousers":
            outfit["lower"] = "pants"
        else:
            outfit["lower"] = _choose(rng, LOWER_KINDS)
    if main == "outwear":
        outfit["outer"] = _choose(rng, FASHIONAI_MAIN_KINDS["outwear"])
        outfit["whole"], outfit["upper"] = None, outfit["upper"] or _choose(rng, UPPER_KINDS)
        outfit["lower"] = outfit["lower"] or _choose(rng, LOWER_KINDS)
    elif main is None and rng.rand() < 0.4:
        outfit["outer"] = _choose(rng, OUTER_KINDS if mode != "voc" else OUTER_KINDS[:4])
    if main == "blouse":
        outfit["outer"] = None
    return outfit


def _garment_layers(rng, fig: _Figure, outfit: dict) -> tuple[list[_Layer], dict]:
    """The outfit's garments, bottom to top (lower, upper or whole-body, outer), and each
    garment's landmarks by kind."""

    def tex(kind):
        return _choose(rng, KIND_TEXTURES.get(kind, ALL_TEXTURES))

    if outfit["lingerie"]:
        return _lingerie_layers(fig, tex), {}
    layers: list[_Layer] = []
    landmarks: dict[str, dict] = {}
    if outfit["lower"]:
        lower_layers, landmarks[outfit["lower"]] = _lower_layers(rng, fig, outfit["lower"], tex)
        layers += lower_layers
    upper = outfit["upper"] or outfit["whole"]
    if upper:
        layer = _upper_layer(rng, fig, upper, tex)
        layers.append(layer)
        landmarks[upper] = layer.landmarks
    if outfit["outer"]:
        layer = _outer_layer(rng, fig, outfit["outer"], tex)
        layers.append(layer)
        landmarks[outfit["outer"]] = layer.landmarks
    return layers, landmarks


def _lingerie_layers(fig: _Figure, tex) -> list[_Layer]:
    bra = [fig.p(-0.085, 0.2), fig.p(0.085, 0.2), fig.p(0.08, 0.29), fig.p(-0.08, 0.29)]
    briefs = [
        fig.p(-0.085 * fig.hw, 0.45),
        fig.p(0.085 * fig.hw, 0.45),
        fig.p(0.05, 0.55),
        fig.p(0, 0.57),
        fig.p(-0.05, 0.55),
    ]
    return [_Layer("bra", [bra], tex("bra")), _Layer("briefs", [briefs], tex("briefs"))]


def _square(x: float, y: float, side: float, height: float | None = None) -> list:
    height = side if height is None else height
    return [(x, y), (x + side, y), (x + side, y + height), (x, y + height)]


def _lower_layers(rng, fig: _Figure, lower: str, tex) -> tuple[list[_Layer], dict]:
    """Pants, shorts or a skirt (a pocket sometimes), and sometimes a belt over them."""
    if lower == "skirt":
        length = rng.uniform(0.15, 0.45)
        flare = rng.uniform(0.0, 0.08)
        polys, k = _lower(fig, "skirt", length, flare)
    else:
        length = rng.uniform(0.85, 1.0) if lower == "pants" else rng.uniform(0.2, 0.4)
        flare = rng.uniform(0.0, 0.03)
        polys, k = _lower(fig, "trousers", length, flare)
    parts = []
    if lower != "skirt" and rng.rand() < 0.5:
        x, y = fig.p(0.04 * fig.hw, 0.45)
        parts.append(("pocket", [_square(x, y, 0.035 * fig.u)]))
    texture = tex(lower)
    traits = {"length": length, "flare": flare, "texture": texture}
    layers = [_Layer(lower, polys, texture, parts, k, traits)]
    if rng.rand() < 0.35:
        band = [
            fig.p(-0.085 * fig.hw, 0.395),
            fig.p(0.085 * fig.hw, 0.395),
            fig.p(0.085 * fig.hw, 0.42),
            fig.p(-0.085 * fig.hw, 0.42),
        ]
        layers.append(_Layer("belt", [band], "solid"))
    return layers, k


def _upper_layer(rng, fig: _Figure, upper: str, tex) -> _Layer:
    """A shirt, top, sweater, dress or jumpsuit with its sleeves, neckline (and collar)."""
    if upper == "dress":
        sleeve = _choose(rng, (0.15, 0.35, 0.9))
        body, sleeves, k = _upper(fig, 0.40, 0.0, rng.uniform(0.02, 0.07), sleeve)
        skirt_polys, sk = _lower(fig, "skirt", rng.uniform(0.2, 0.5), rng.uniform(0.0, 0.1))
        traits = {"sleeve": sleeve}
        k["hemline_left"], k["hemline_right"] = sk["hemline_left"], sk["hemline_right"]
        polys = [body, *sleeves, *skirt_polys]
    elif upper == "jumpsuit":
        sleeve = rng.choice([0.0, 0.3, 0.9])
        body, sleeves, k = _upper(fig, 0.42, 0.0, 0.03, sleeve)
        traits = {"sleeve": float(sleeve)}
        legs, _ = _lower(fig, "trousers", rng.uniform(0.85, 1.0), 0.02)
        polys = [body, *sleeves, *legs]
    else:
        hems = {"shirt": (0.47, 0.53), "top": (0.42, 0.5), "sweater": (0.45, 0.52)}[upper]
        sleeves_ = {"shirt": (0.9, 1.0), "top": (0.22, 0.4), "sweater": (0.95, 1.0)}[upper]
        hem = rng.uniform(*hems)
        flare = rng.uniform(0, 0.02)
        neck_depth = 0.02 if upper == "sweater" else rng.uniform(0.03, 0.08)
        sleeve = rng.uniform(*sleeves_)
        body, sleeves, k = _upper(fig, hem, flare, neck_depth, sleeve)
        polys = [body, *sleeves]
        traits = {"hem": hem, "sleeve": sleeve}
    parts = [("sleeve", [s]) for s in sleeves]
    parts.append(("neckline", [[k["neckline_right"], k["neckline_left"], k["center_front"]]]))
    if upper == "shirt":
        collar = [
            k["neckline_right"],
            fig.p(-0.005, 0.175),
            fig.p(0.005, 0.175),
            k["neckline_left"],
            fig.p(0.045, 0.14),
            fig.p(-0.045, 0.14),
        ]
        parts.append(("collar", [collar]))
    texture = tex(upper)
    return _Layer(upper, polys, texture, parts, k, {**traits, "texture": texture})


def _outer_layer(rng, fig: _Figure, outer: str, tex) -> _Layer:
    """A cape, or an open-fronted cardigan, jacket, coat or vest over the rest."""
    hem_y = {"cardigan": 0.5, "jacket": 0.5, "coat": 0.78, "vest": 0.46, "cape": 0.55}[outer]
    hem_y += rng.uniform(-0.03, 0.05)
    if outer == "cape":
        poly = [
            fig.p(-0.04, 0.15),
            fig.p(0.04, 0.15),
            fig.p(0.12 * fig.sw, 0.17),
            fig.p(0.2, hem_y),
            fig.p(-0.2, hem_y),
            fig.p(-0.12 * fig.sw, 0.17),
        ]
        return _Layer("cape", [poly], tex("cape"), traits={"hem": hem_y})
    sleeve = 0.0 if outer == "vest" else rng.uniform(0.9, 1.0)
    body, sleeves, k = _upper(fig, hem_y, rng.uniform(0.0, 0.03), 0.12, sleeve)
    gap = rng.uniform(0.012, 0.03) * fig.u
    panels = [_front_panel(fig, k, side, gap, hem_y) for side in (1, -1)]
    parts = [("sleeve", [s]) for s in sleeves]
    parts += _open_front_parts(rng, fig, outer, k, gap, hem_y)
    texture = tex(outer)
    traits = {"hem": hem_y, "zipper": any(kind == "zipper" for kind, _ in parts),
              "texture": texture}  # fmt: skip
    return _Layer(outer, [*panels, *sleeves], texture, parts, k, traits)


def _front_panel(fig: _Figure, k: dict, side: int, gap: float, hem_y: float) -> list:
    """One half of an open front: ``side`` 1 is the person's left (the picture's right)."""
    name = "left" if side > 0 else "right"
    edge = fig.cx + side * gap
    hem = k[f"top_hem_{name}"]
    return [
        (edge, k["center_front"][1]),
        k[f"neckline_{name}"],
        k[f"shoulder_{name}"],
        k[f"armpit_{name}"],
        *([k[f"waistline_{name}"]] if hem_y > 0.42 else []),
        hem,
        (edge, hem[1]),
    ]


def _open_front_parts(rng, fig: _Figure, outer: str, k: dict, gap: float, hem_y: float):
    """Lapels (jackets, coats), a zipper (some jackets) and a pocket (often)."""
    cx, neck_y, front_y = fig.cx, k["neckline_left"][1], k["center_front"][1]
    parts = []
    if outer in ("jacket", "coat"):
        for side in (1, -1):
            neck = k["neckline_left" if side > 0 else "neckline_right"]
            tip = (cx + side * (gap + 0.03 * fig.u), neck_y + 0.06 * fig.u)
            parts.append(("lapel", [[neck, (cx + side * gap, front_y), tip]]))
    if outer == "jacket" and rng.rand() < 0.5:
        zx, zw, bottom = cx + gap, 0.006 * fig.u, k["top_hem_left"][1]
        parts.append(
            ("zipper", [[(zx, front_y), (zx + zw, front_y), (zx + zw, bottom), (zx, bottom)]])
        )
    if rng.rand() < 0.6:
        x, y = fig.p(0.05, hem_y - 0.08)
        side = 0.04 * fig.u
        parts.append(("pocket", [_square(x, y, side, 0.7 * side)]))
    return parts


def render_scene(
    rng: np.random.RandomState,
    size: tuple[int, int],
    mode: str = "imaterialist",
    fashionai_category: str | None = None,
) -> Scene:
    """Draw one scene of ``size`` (width, height) for ``mode`` (a sample-data format)."""
    width, height = size
    shape = (height, width)
    fig = _place_figure(rng, size, mode, fashionai_category)
    outfit = _outfit(rng, mode, fashionai_category if mode == "fashionai" else None)
    tone = rng.uniform(0.25, 1.0)  # dark to light skin
    skin_colour = np.float32([95 + 150 * tone, 60 + 140 * tone, 40 + 130 * tone])
    hair_colour = np.float32([rng.randint(10, 120)] * 3) * np.float32([1.0, 0.85, 0.7])

    layers = _body_layers(rng, fig)
    layers += _tights_layers(rng, fig, outfit, mode)
    garments, landmarks = _garment_layers(rng, fig, outfit)
    layers += garments
    layers.append(_Layer("hair", [[fig.p(-0.055, -0.008), fig.p(0.055, 0.05)]]))  # fringe
    layers += _hand_and_accessory_layers(rng, fig, mode)

    id_map, image = _paint(rng, layers, shape, skin_colour, hair_colour)
    instances = _instances(rng, layers, id_map, image)
    image = cv2.GaussianBlur(image, (3, 3), 0.6)
    image += rng.normal(0, 3, size=image.shape).astype(np.float32)
    scene = Scene(np.clip(image, 0, 255).astype(np.uint8), instances)
    if mode == "fashionai":
        _add_fashionai_keypoints(scene, fashionai_category, outfit, layers, landmarks, id_map)
    return scene


def _place_figure(rng, size: tuple[int, int], mode: str, category: str | None) -> _Figure:
    """Figure height, top and centre as each format frames its photos."""
    width, height = size
    if mode == "fashionai":  # the garment fills the frame, as in the competition's photos
        fig_h = (
            height * rng.uniform(1.0, 1.25)
            if category in ("blouse", "outwear")
            else height * rng.uniform(0.85, 1.0)
        )
        anchor = {"blouse": 0.33, "outwear": 0.4, "dress": 0.45, "skirt": 0.6, "trousers": 0.65}
        focus_y = anchor.get(category, 0.5)
        top = height / 2 - focus_y * fig_h + rng.uniform(-0.05, 0.05) * height
    elif mode == "voc":  # shop photos: the whole figure, smaller in the frame
        fig_h = height * rng.uniform(0.6, 0.95)
        top = rng.uniform(0.02, max(0.03, 1.0 - fig_h / height - 0.02)) * height
    else:  # street-fashion framing: the person fills the frame, often cut at the knees
        fig_h = height * rng.uniform(0.75, 1.3)
        top = rng.uniform(0.01, max(0.02, 1.0 - fig_h / height - 0.01)) * height
        if fig_h > height:
            top = rng.uniform(-0.02, 0.06) * height
    spread = {"fashionai": 0.075, "voc": 0.25}.get(mode, 0.15)
    cx = width / 2 + rng.uniform(-spread, spread) * width
    return _Figure(rng, fig_h, cx, top)


def _body_layers(rng, fig: _Figure) -> list[_Layer]:
    """Hair behind the head, then the skin: head, neck, torso, arms and legs."""
    skin = [
        [fig.p(-0.05, 0.005), fig.p(0.05, 0.13)],  # head (ellipse bbox)
        [fig.p(-0.025, 0.11), fig.p(0.025, 0.11), fig.p(0.03, 0.18), fig.p(-0.03, 0.18)],
        [
            fig.p(-0.105 * fig.sw, 0.17),
            fig.p(0.105 * fig.sw, 0.17),
            fig.p(0.09 * fig.hw, 0.5),
            fig.p(-0.09 * fig.hw, 0.5),
        ],
    ]
    for side in (1, -1):
        skin.append([fig.arm(side, 0, 0.035), fig.arm(side, 1, 0.025),
                     fig.arm(side, 1, -0.025), fig.arm(side, 0, -0.035)])  # fmt: skip
        skin.append([fig.leg(side, 0, 0.05), fig.leg(side, 1, 0.03),
                     fig.leg(side, 1, -0.03), fig.leg(side, 0, -0.05)])  # fmt: skip
    hair_back = [[fig.p(-0.058, -0.005), fig.p(0.058, 0.07 + rng.uniform(0, 0.1))]]
    return [_Layer("hair", hair_back), _Layer("skin", skin)]


def _tights_layers(rng, fig: _Figure, outfit: dict, mode: str) -> list[_Layer]:
    """Tights under some skirts, shorts and dresses (not in the apparel set's shop photos)."""
    if outfit["lower"] in ("skirt", "shorts") or outfit["whole"] == "dress":
        if mode != "voc" and rng.rand() < 0.3:
            legs = [
                [
                    fig.leg(s, 0.05, 0.05),
                    fig.leg(s, 0.97, 0.03),
                    fig.leg(s, 0.97, -0.03),
                    fig.leg(s, 0.05, -0.05),
                ]  # fmt: skip
                for s in (1, -1)
            ]
            return [_Layer("tights", legs, "solid")]
    return []


def _hand_and_accessory_layers(rng, fig: _Figure, mode: str) -> list[_Layer]:
    """Hands, shoes, and sometimes a hat, glasses, a watch and a bag hanging from one hand."""
    hands = [
        [fig.arm(s, 1.0, 0.03), fig.arm(s, 1.12, 0.0), fig.arm(s, 1.0, -0.03)] for s in (1, -1)
    ]
    layers = [_Layer("skin", hands)]
    for side in (1, -1):
        fx, fy = fig.leg(side, 1.0)
        shoe = [(fx - 0.035 * fig.u, fy - 0.012 * fig.u), (fx + 0.035 * fig.u, fy + 0.035 * fig.u)]
        layers.append(_Layer("shoe", [shoe], _choose(rng, ("solid", "solid", "denim"))))
    if mode != "fashionai" or rng.rand() < 0.5:
        if rng.rand() < 0.35:
            brim = [fig.p(-0.08, -0.01), fig.p(0.08, 0.03)]
            crown = [fig.p(-0.045, -0.05), fig.p(0.045, 0.02)]
            layers.append(_Layer("hat", [brim, crown], "solid"))
        if rng.rand() < 0.3:
            lenses = [[fig.p(-0.042, 0.05), fig.p(-0.005, 0.07)],
                      [fig.p(0.005, 0.05), fig.p(0.042, 0.07)]]  # fmt: skip
            layers.append(_Layer("glasses", lenses, "solid"))
        if rng.rand() < 0.25:
            wx, wy = fig.arm(-1, 0.95)
            s = 0.015 * fig.u
            layers.append(_Layer("watch", [[(wx - s, wy - s), (wx + s, wy + s)]], "solid"))
    if rng.rand() < (0.35 if mode != "fashionai" else 0.25):
        side = 1 if rng.rand() < 0.5 else -1
        hx, hy = fig.arm(side, 1.05)
        bw, bh = rng.uniform(0.07, 0.14) * fig.u, rng.uniform(0.06, 0.12) * fig.u
        x0 = hx - bw * (0.8 if side > 0 else 0.2)
        bag = [(x0, hy), (x0 + bw, hy), (x0 + bw, hy + bh), (x0, hy + bh)]
        layers.append(_Layer("bag", [bag], _choose(rng, ALL_TEXTURES)))
    return layers


def _paint(rng, layers: list[_Layer], shape, skin_colour, hair_colour):
    """An id map giving each pixel to the top-most layer, and the picture painted from it:
    background, then each layer's texture with a darker outline, as garment edges in photos."""
    height, width = shape
    id_map = np.full(shape, -1, dtype=np.int32)
    for index, layer in enumerate(layers):
        id_map[_poly_mask(shape, layer.polys)] = index
    image = _background(rng, shape)
    shade = 0.8 + 0.35 * np.sin(np.linspace(0, np.pi, width, dtype=np.float32))[None, :, None]
    for index, layer in enumerate(layers):
        visible = id_map == index
        rows, cols = np.flatnonzero(visible.any(axis=1)), np.flatnonzero(visible.any(axis=0))
        if not rows.size:
            continue
        # the layer's bounding box, and one pixel more for its outline's erosion
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        inside = visible[y0:y1, x0:x1]
        if layer.kind == "skin":
            grain = rng.normal(0, 4, size=(height, width, 1)).astype(np.float32)
            texture = np.broadcast_to(skin_colour + grain[y0:y1, x0:x1], (*inside.shape, 3))
        elif layer.kind == "hair":
            texture = np.broadcast_to(hair_colour, (*inside.shape, 3))
        else:
            texture = _texture(rng, shape, layer.texture, (y0, y1, x0, x1)) * shade[:, x0:x1]
        image[y0:y1, x0:x1][inside] = texture[inside]
        py0, px0 = max(y0 - 1, 0), max(x0 - 1, 0)
        py1, px1 = min(y1 + 1, height), min(x1 + 1, width)
        image[py0:py1, px0:px1][_outline(visible[py0:py1, px0:px1])] *= 0.7
    return id_map, image


def _outline(mask: np.ndarray) -> np.ndarray:
    return mask & ~cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


# kinds whose attributes were once drawn at random, and from how many ids: those draws stay,
# so that every picture, and every figure measured on them, stays the same
_OLD_ATTRIBUTE_DRAWS = {"top": 5, "shirt": 5, "sweater": 1, "jacket": 3, "pants": 4,
                        "shorts": 3, "skirt": 4, "coat": 4, "cardigan": 1}  # fmt: skip


def _instances(rng, layers: list[_Layer], id_map: np.ndarray, image: np.ndarray) -> list:
    """What is visible of each layer as an instance (garments with the attributes their drawing
    shows), and
    each garment's parts inside it; pockets and zippers get a seam drawn on ``image``."""
    instances: list[Instance] = []
    for index, layer in enumerate(layers):
        visible = id_map == index
        if not visible.any():
            continue
        if layer.kind in ("skin", "hair"):
            instances.append(Instance(layer.kind, visible))
            continue
        if layer.kind in _OLD_ATTRIBUTE_DRAWS and rng.rand() < 0.5:
            rng.choice(_OLD_ATTRIBUTE_DRAWS[layer.kind], size=rng.randint(1, 3))
        attributes = garment_attributes(layer.kind, layer.traits)
        instances.append(Instance(layer.kind, visible, attributes))
        parent = len(instances) - 1
        for part_kind, polys in layer.parts:
            part = _poly_mask(id_map.shape, polys) & visible
            if part.sum() >= 4:
                instances.append(Instance(part_kind, part, parent=parent))
                if part_kind in ("pocket", "zipper"):
                    image[_outline(part)] *= 0.55
    return instances


def _add_fashionai_keypoints(scene, category, outfit, layers, landmarks, id_map) -> None:
    """The category's landmarks from its garment's corners: -1 outside the picture, v=0 where a
    layer drawn after the garment (a bag, a hand, an outer garment, a belt) covers it."""
    height, width = id_map.shape
    kind_options = FASHIONAI_MAIN_KINDS[category]
    kind = next(
        k
        for k in (outfit["outer"], outfit["whole"], outfit["upper"], outfit["lower"])
        if k in kind_options
    )
    layer_index = next(i for i, layer in enumerate(layers) if layer.kind == kind)
    scene.fashionai_category = category
    for name in FASHIONAI_CATEGORY_KEYPOINTS[category]:
        x, y = landmarks[kind][name]
        xi, yi = int(round(x)), int(round(y))
        if not (0 <= xi < width and 0 <= yi < height):
            scene.keypoints[name] = (-1, -1, -1)
            continue
        visible = id_map[yi, xi] <= layer_index
        scene.keypoints[name] = (float(x), float(y), 1 if visible else 0)
