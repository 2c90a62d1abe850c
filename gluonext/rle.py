"""Run-length encoded masks: Kaggle (iMaterialist) RLE and COCO RLE, converted without decoding.

Kaggle RLE is a string of ``start length`` pairs; starts are 1-indexed into the image flattened
column-major (top to bottom, then left to right). COCO's uncompressed RLE uses the same pixel
order, as alternating run counts that start with a run of zeros. COCO's compressed RLE packs
those counts (each delta-coded against the count two places back) into 6-bit printable
characters. Everything here works on run arrays with numpy, never on an ``H x W`` pixel grid,
except :func:`decode` / :func:`encode_mask` which exist for masks that really must be pixels.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "RLEError",
    "parse_kaggle",
    "kaggle_to_counts",
    "counts_to_kaggle",
    "compress_counts",
    "decompress_counts",
    "kaggle_to_coco",
    "coco_to_kaggle",
    "counts_area",
    "counts_bbox",
    "encode_mask",
    "decode",
    "mask_to_kaggle",
]


class RLEError(ValueError):
    """A run-length encoding that cannot describe a mask of the stated size."""


def _explain_bad_token(text: str) -> str:
    for position, token in enumerate(text.split()):
        try:
            value = int(token)
        except ValueError:
            return f"token {position + 1} ({token[:20]!r}) is not a whole number"
        if value < 0:
            kind = "length" if position % 2 else "start"
            return f"token {position + 1} is a negative {kind} ({value})"
    return "contains characters other than digits and spaces"


def parse_kaggle(text: str, height: int, width: int) -> np.ndarray:
    """Parse and validate a Kaggle RLE string into an ``(n, 2)`` int64 array of (start, length).

    Starts stay 1-indexed. Raises :class:`RLEError` for an empty string, an odd count,
    non-numeric tokens, starts below 1, zero or negative lengths, unsorted or overlapping runs
    and runs past ``height * width``.
    """
    if height <= 0 or width <= 0:
        raise RLEError(f"mask size must be positive, got height={height} width={width}")
    if not isinstance(text, str):
        raise RLEError(f"RLE must be a string, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise RLEError("RLE is empty (an instance needs at least one run)")
    if not (stripped.isascii() and stripped.replace(" ", "").isdigit()):
        raise RLEError(f"malformed RLE: {_explain_bad_token(stripped)}")
    values = np.fromstring(stripped, dtype=np.int64, sep=" ")  # fast C parser; input checked above
    if values.size % 2:
        raise RLEError(
            f"RLE has an odd number of values ({values.size}): expected start/length pairs"
        )
    pairs = values.reshape(-1, 2)
    starts, lengths = pairs[:, 0], pairs[:, 1]
    if starts.min() < 1:
        raise RLEError("RLE start 0 found: starts are 1-indexed")
    bad = np.flatnonzero(lengths <= 0)
    if bad.size:
        raise RLEError(f"run {bad[0] + 1} has length {lengths[bad[0]]}: lengths must be positive")
    ends = starts + lengths  # one past the last pixel, 1-indexed
    bad = np.flatnonzero(starts[1:] < ends[:-1])
    if bad.size:
        i = bad[0] + 1
        what = "unsorted" if starts[i] < starts[i - 1] else "overlapping"
        raise RLEError(
            f"runs {i} and {i + 1} are {what}: run {i + 1} starts at {starts[i]} "
            f"but run {i} ends at {ends[i - 1] - 1}"
        )
    total = height * width
    if ends[-1] - 1 > total:
        raise RLEError(
            f"last run ends at pixel {ends[-1] - 1}, past the {height}x{width}={total} pixels"
        )
    return pairs


def kaggle_to_counts(pairs: np.ndarray, height: int, width: int) -> np.ndarray:
    """Turn validated (start, length) pairs into COCO uncompressed counts summing to H*W."""
    starts = pairs[:, 0] - 1
    lengths = pairs[:, 1]
    counts = np.empty(2 * len(pairs) + 1, dtype=np.int64)
    counts[0] = starts[0]
    counts[2:-1:2] = starts[1:] - (starts[:-1] + lengths[:-1])
    counts[1::2] = lengths
    counts[-1] = height * width - (starts[-1] + lengths[-1])
    if counts[-1] == 0:
        counts = counts[:-1]
    return counts


def counts_to_kaggle(counts: np.ndarray) -> str:
    """Turn COCO uncompressed counts into a Kaggle RLE string (empty string for an empty mask)."""
    counts = np.asarray(counts, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(counts)))
    starts = offsets[1:-1:2] + 1  # runs of ones begin after each zero run
    lengths = counts[1::2]
    keep = lengths > 0
    pairs = np.stack([starts[keep], lengths[keep]], axis=1).ravel()
    return " ".join(map(str, pairs.tolist()))


_MAX_CHUNKS = 13  # 64-bit values in 5-bit chunks


def compress_counts(counts: np.ndarray) -> str:
    """Pack COCO counts into COCO's compressed RLE string (same bytes as pycocotools)."""
    x = np.asarray(counts, dtype=np.int64).copy()
    if x.size == 0:
        return ""
    if x.size > 3:
        x[3:] -= np.asarray(counts, dtype=np.int64)[1:-2]
    chunks = np.zeros((x.size, _MAX_CHUNKS), dtype=np.uint8)
    alive = np.ones(x.size, dtype=bool)
    width = np.zeros(x.size, dtype=np.int64)
    for k in range(_MAX_CHUNKS):
        c = x & 0x1F
        x = x >> 5  # arithmetic shift, as in the C code
        more = np.where(c & 0x10, x != -1, x != 0)
        chunks[:, k] = (c | np.where(more, 0x20, 0)) + 48
        width += alive
        alive &= more
        if not alive.any():
            break
    used = np.arange(_MAX_CHUNKS)[None, :] < width[:, None]
    return chunks[used].tobytes().decode("ascii")


def decompress_counts(text: str | bytes) -> np.ndarray:
    """Unpack a COCO compressed RLE string into uncompressed counts."""
    raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
    if not raw:
        return np.zeros(0, dtype=np.int64)
    c = np.frombuffer(raw, dtype=np.uint8).astype(np.int64) - 48
    if c.min() < 0 or c.max() > 63:
        raise RLEError("compressed RLE has characters outside COCO's alphabet")
    last = (c & 0x20) == 0
    if not last[-1]:
        raise RLEError("compressed RLE ends in the middle of a value")
    value_index = np.concatenate(([0], np.cumsum(last)[:-1]))
    starts = np.flatnonzero(np.concatenate(([True], last[:-1])))
    position = np.arange(c.size) - starts[value_index]
    values = np.zeros(int(last.sum()), dtype=np.int64)
    np.add.at(values, value_index, (c & 0x1F) << (5 * position))
    end_chunks = c[last]
    negative = (end_chunks & 0x10) != 0
    span = 5 * (position[last] + 1)
    values[negative] |= -(np.int64(1) << span[negative])
    counts = values.copy()
    counts[1::2] = np.cumsum(values[1::2])
    if counts.size > 2:
        counts[2::2] = np.cumsum(values[2::2])
    return counts


def kaggle_to_coco(text: str, height: int, width: int) -> dict:
    """Kaggle RLE string to a COCO compressed RLE dict ``{'size': [h, w], 'counts': str}``."""
    counts = kaggle_to_counts(parse_kaggle(text, height, width), height, width)
    return {"size": [int(height), int(width)], "counts": compress_counts(counts)}


def coco_to_kaggle(rle: dict) -> str:
    """COCO RLE dict (compressed string or uncompressed list counts) to a Kaggle RLE string."""
    counts = rle["counts"]
    if isinstance(counts, (list, tuple, np.ndarray)):
        counts = np.asarray(counts, dtype=np.int64)
    else:
        counts = decompress_counts(counts)
    return counts_to_kaggle(counts)


def counts_area(counts: np.ndarray) -> int:
    """Number of foreground pixels of a mask given as COCO counts."""
    return int(np.asarray(counts)[1::2].sum())


def counts_bbox(counts: np.ndarray, height: int) -> list[float]:
    """COCO ``[x, y, w, h]`` box of a mask given as COCO counts, as pycocotools' ``toBbox``."""
    counts = np.asarray(counts, dtype=np.int64)
    lengths = counts[1::2]
    offsets = np.cumsum(counts)
    starts = offsets[0::2][: lengths.size]
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    if starts.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    ends = starts + lengths - 1
    x_start, y_start = np.divmod(starts, height)
    x_end, y_end = np.divmod(ends, height)
    spans = x_end > x_start
    y_min = np.where(spans, 0, y_start).min()
    y_max = np.where(spans, height - 1, y_end).max()
    x_min, x_max = x_start.min(), x_end.max()
    return [float(x_min), float(y_min), float(x_max - x_min + 1), float(y_max - y_min + 1)]


def encode_mask(mask: np.ndarray) -> np.ndarray:
    """Binary ``H x W`` mask to COCO uncompressed counts (column-major)."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate(([0], change, [flat.size]))
    counts = np.diff(edges)
    if flat.size and flat[0]:
        counts = np.concatenate(([0], counts))
    return counts.astype(np.int64)


def decode(counts: np.ndarray, height: int, width: int) -> np.ndarray:
    """COCO uncompressed counts to a ``H x W`` uint8 mask."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.sum() != height * width:
        raise RLEError(f"counts cover {counts.sum()} pixels, mask has {height * width}")
    values = np.zeros(counts.size, dtype=np.uint8)
    values[1::2] = 1
    flat = np.repeat(values, counts)
    return flat.reshape((width, height)).T.copy()


def mask_to_kaggle(mask: np.ndarray) -> str:
    """Binary ``H x W`` mask to a Kaggle RLE string."""
    return counts_to_kaggle(encode_mask(mask))
