"""Pictures people would rather look at than read: palettes, mask overlays, boxes and
landmarks drawn on images.
"""

from __future__ import annotations

import numpy as np

# the upper / lower / whole-body parsing project's colours: upper red, lower green, whole yellow
PARTS_PALETTE = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (255, 255, 0)]


def voc_palette(num_classes: int = 256) -> list[tuple[int, int, int]]:
    """The Pascal VOC bit-interleaved palette (class 0 black), as GluonCV draws masks."""
    colours = []
    for label in range(num_classes):
        r = g = b = 0
        value = label
        for shift in range(7, -1, -1):
            r |= ((value >> 0) & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        colours.append((r, g, b))
    return colours


def palette_for(num_classes: int, label_mode: str | None = None) -> list[tuple[int, int, int]]:
    """The body-parts project's colours in the parts mode, the VOC palette otherwise."""
    if label_mode == "parts" and num_classes <= len(PARTS_PALETTE):
        return PARTS_PALETTE[:num_classes]
    return voc_palette(max(num_classes, 1))


def colorize(mask: np.ndarray, palette: list[tuple[int, int, int]]):
    """An index mask as a PIL palette ('P') image; values outside the palette show white."""
    from PIL import Image

    flat = [channel for colour in palette for channel in colour]
    flat += [255, 255, 255] * (256 - len(palette))
    image = Image.fromarray(np.asarray(mask, dtype=np.uint8), mode="P")
    image.putpalette(flat[:768])
    return image


def overlay(
    image: np.ndarray, mask: np.ndarray, palette, alpha: float = 0.5, background: int | None = 0
) -> np.ndarray:
    """Blend class colours over an RGB image; ``background`` pixels stay as they are."""
    colours = np.asarray(palette, dtype=np.float32)
    index = np.clip(np.asarray(mask, dtype=np.int64), 0, len(colours) - 1)
    tinted = image.astype(np.float32) * (1 - alpha) + colours[index] * alpha
    if background is not None:
        keep = np.asarray(mask) == background
        tinted[keep] = image[keep]
    return np.clip(tinted, 0, 255).astype(np.uint8)


def draw_instances(
    image: np.ndarray,
    boxes: np.ndarray,
    class_ids,
    scores,
    names,
    masks: np.ndarray | None = None,
    alpha: float = 0.5,
    captions=None,
) -> np.ndarray:
    """RGB image with each instance's mask tinted, its box drawn and ``name score`` written
    (and its ``captions`` entry, e.g. predicted attributes, on a line below).

    ``masks`` is H x W x N (0/1) or None for boxes only; colours follow the class (VOC palette,
    class k drawn in colour k + 1 so no class is black). ``scores`` None (annotations, not
    predictions) writes the names alone.
    """
    import cv2

    palette = np.asarray(voc_palette(len(names) + 1), dtype=np.float32)
    out = image.astype(np.float32)
    if masks is not None:
        for k in range(masks.shape[2]):
            on = masks[:, :, k].astype(bool)
            out[on] = out[on] * (1 - alpha) + palette[class_ids[k] + 1] * alpha
    out = np.clip(out, 0, 255).astype(np.uint8)
    thickness = max(1, round(max(image.shape[:2]) / 400))
    scale = max(0.35, max(image.shape[:2]) / 1200)
    order = range(len(boxes)) if scores is None else np.argsort(scores)  # best drawn last
    for k in order:
        colour = tuple(int(c) for c in palette[class_ids[k] + 1])
        x1, y1, x2, y2 = (int(round(v)) for v in boxes[k])
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        text = names[class_ids[k]] if scores is None else f"{names[class_ids[k]]} {scores[k]:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(0, y1 - th - base)
        cv2.rectangle(out, (x1, top), (x1 + tw, top + th + base), colour, -1)
        cv2.putText(
            out, text, (x1, top + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
        )
        if captions is not None and captions[k]:
            line = top + 2 * (th + base)
            cv2.putText(out, captions[k], (x1, min(out.shape[0] - 1, line)),
                        cv2.FONT_HERSHEY_SIMPLEX, scale * 0.85, colour, 1, cv2.LINE_AA)  # fmt: skip
    return out


def class_legend(found, names) -> list[dict]:
    """Legend of ``draw_instances``: per class present in ``found`` (``class_ids``, ``scores``)
    its colour, count and best score."""
    palette = voc_palette(len(names) + 1)
    entries = []
    for class_id in sorted({int(c) for c in found.class_ids}):
        scores = found.scores[found.class_ids == class_id]
        entries.append({"name": names[class_id], "color": list(palette[class_id + 1]),
                        "detail": f"{len(scores)} x, best {scores.max():.2f}"})  # fmt: skip
    return entries


def draw_keypoints(image: np.ndarray, points: np.ndarray, names, flip_pairs=()) -> np.ndarray:
    """RGB image with each landmark as a dot and its name; left/right pairs joined by a line.
    ``points`` (J, 2); rows with a negative coordinate are not drawn."""
    import cv2

    out = np.ascontiguousarray(image.copy())
    palette = voc_palette(len(names) + 1)
    size = max(image.shape[:2])
    radius, scale = max(2, round(size / 150)), max(0.3, size / 1400)
    shown = (points[:, 0] >= 0) & (points[:, 1] >= 0)
    for a, b in flip_pairs:
        if shown[a] and shown[b]:
            pa, pb = (tuple(int(round(v)) for v in points[k]) for k in (a, b))
            cv2.line(out, pa, pb, (255, 255, 255), max(1, radius // 2))
    for k, name in enumerate(names):
        if not shown[k]:
            continue
        x, y = (int(round(v)) for v in points[k])
        colour = tuple(int(c) for c in palette[k + 1])
        cv2.circle(out, (x, y), radius, colour, -1)
        cv2.putText(out, name, (x + radius + 1, y - radius), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    colour, 1, cv2.LINE_AA)  # fmt: skip
    return out
