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

from gluonext.errors import DatasetError

__all__ = [
    "RLEError",
    "parse_kaggle",
    "kaggle_to_counts",
    "counts_to_kaggle",
    "compress_counts",
    "compress_counts_batch",
    "area_bbox_batch",
    "decompress_counts",
    "kaggle_to_coco",
    "coco_to_kaggle",
    "counts_area",
    "counts_bbox",
    "encode_mask",
    "decode",
    "mask_to_kaggle",
]


class RLEError(DatasetError):
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


# a value needs one more 5-bit chunk each time its magnitude passes 2**4, 2**9, 2**14, ...
_CHUNK_THRESHOLDS = np.array([2 ** (5 * k + 4) for k in range(12)], dtype=np.int64)


def _segments(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start offset of each segment, local index of each element) for concatenated arrays."""
    seg_start = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    local = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(seg_start, lengths)
    return seg_start, local


def _concat(counts_list: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(c) for c in counts_list], dtype=np.int64)
    return np.concatenate(counts_list).astype(np.int64), lengths


def compress_counts_batch(counts_list: list[np.ndarray]) -> list[str]:
    """Pack many COCO count arrays into compressed RLE strings in one vectorised pass."""
    return _compress_concat(*_concat(counts_list)) if counts_list else []


def _compress_concat(counts: np.ndarray, lengths: np.ndarray) -> list[str]:
    if (lengths == 0).any():
        raise RLEError("cannot compress an empty count list")
    seg_start, local = _segments(lengths)
    small = counts.size == 0 or int(np.abs(counts).max()) < 2**30
    counts = counts.astype(np.int32 if small else np.int64)  # int32 halves memory traffic
    x = counts.copy()
    x[2:] -= counts[:-2]
    x = np.where(local >= 3, x, counts)  # delta-coded from each segment's fourth value on
    magnitude = np.where(x < 0, ~x, x)
    chunks = np.searchsorted(_CHUNK_THRESHOLDS, magnitude, side="right").astype(np.int32) + 1
    max_chunks = int(chunks.max())
    table = np.empty((x.size, max_chunks), dtype=np.uint8)
    for k in range(max_chunks):
        column = ((x >> (5 * k)) & 0x1F).astype(np.uint8)
        column |= (k < chunks - 1).view(np.uint8) << 5  # continuation bit
        table[:, k] = column + 48
    used = np.arange(max_chunks, dtype=np.int32)[None, :] < chunks[:, None]
    text = table[used].tobytes().decode("ascii")
    ends = np.cumsum(np.add.reduceat(chunks, seg_start)).tolist()
    return [text[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def compress_counts(counts: np.ndarray) -> str:
    """Pack COCO counts into COCO's compressed RLE string (same bytes as pycocotools)."""
    counts = np.asarray(counts, dtype=np.int64)
    return compress_counts_batch([counts])[0] if counts.size else ""


def area_bbox_batch(counts_list: list[np.ndarray], heights) -> tuple[list[int], list[list[float]]]:
    """Areas and COCO ``[x, y, w, h]`` boxes (as pycocotools' ``toBbox``) of many count arrays."""
    return _area_bbox_concat(*_concat(counts_list), heights)


def _area_bbox_concat(counts: np.ndarray, lengths: np.ndarray, heights):
    n = lengths.size
    seg_start, local = _segments(lengths)
    seg_id = np.repeat(np.arange(n), lengths)
    position = np.cumsum(counts) - counts  # pixel offset where each run begins, global
    position -= np.repeat(position[seg_start], lengths)
    runs = np.flatnonzero((local % 2 == 1) & (counts > 0))
    run_seg = seg_id[runs]
    height = np.asarray(heights, dtype=np.int64)[run_seg]
    starts = position[runs]
    ends = starts + counts[runs] - 1
    x_start, y_start = np.divmod(starts, height)
    x_end, y_end = np.divmod(ends, height)
    spans = x_end > x_start
    y_lo = np.where(spans, 0, y_start)
    y_hi = np.where(spans, height - 1, y_end)
    areas = np.bincount(run_seg, weights=counts[runs], minlength=n).astype(np.int64)
    boxes = np.zeros((n, 4), dtype=np.float64)
    if runs.size:
        first = np.flatnonzero(np.concatenate(([True], run_seg[1:] != run_seg[:-1])))
        has = run_seg[first]
        x0 = np.minimum.reduceat(x_start, first)
        x1 = np.maximum.reduceat(x_end, first)
        y0 = np.minimum.reduceat(y_lo, first)
        y1 = np.maximum.reduceat(y_hi, first)
        boxes[has] = np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], axis=1)
    return areas.tolist(), boxes.tolist()


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


_ALLOWED = np.zeros(256, dtype=bool)


_ALLOWED[list(b"0123456789 \n")] = True


def _plain_rows(texts) -> np.ndarray:
    """For each text, whether it holds only digits and spaces (checked in one numpy pass)."""
    strings = [t if isinstance(t, str) else "\x00" for t in texts]
    raw = np.frombuffer("\n".join(strings).encode("ascii", "replace"), dtype=np.uint8)
    ends = np.cumsum([len(t) + 1 for t in strings]) - 1  # index of each row's separator
    bad_rows = np.searchsorted(ends, np.flatnonzero(~_ALLOWED[raw]))
    plain = np.array([bool(t.strip()) for t in strings], dtype=bool)
    plain[bad_rows] = False
    return plain


def kaggle_batch_to_coco(texts, heights, widths) -> list[tuple[str, int, list[float]] | RLEError]:
    """Convert many Kaggle RLE strings at once: (compressed counts, area, bbox) or the error.

    Validation is the same as :func:`parse_kaggle` (which supplies the message of any failure),
    vectorised across all rows so that per-row numpy overhead does not dominate.
    """
    results: list = [None] * len(texts)
    parsed, keep = [], []
    plain = _plain_rows(texts) if len(texts) else []
    for i, text in enumerate(texts):
        pairs = None
        if plain[i]:  # digits and spaces only: numpy's parser reads every token
            values = np.fromstring(text, dtype=np.int64, sep=" ")
            pairs = None if values.size % 2 else values.reshape(-1, 2)
        if pairs is None:  # malformed, or only unusual: parse_kaggle decides and explains
            try:
                pairs = parse_kaggle(text, heights[i], widths[i])
            except RLEError as exc:
                results[i] = exc
                continue
        parsed.append(pairs)
        keep.append(i)
    if not keep:
        return results
    m = np.array([len(p) for p in parsed], dtype=np.int64)
    pairs = np.concatenate(parsed)
    seg_start, local = _segments(m)
    seg = np.repeat(np.arange(m.size), m)
    starts, lengths = pairs[:, 0] - 1, pairs[:, 1]
    ends = starts + lengths
    total = np.asarray(heights, dtype=np.int64)[keep] * np.asarray(widths, dtype=np.int64)[keep]
    bad = np.zeros(m.size, dtype=bool)
    bad[seg[(starts < 0) | (lengths <= 0)]] = True
    follows = np.flatnonzero(local > 0)
    bad[seg[follows[starts[follows] < ends[follows - 1]]]] = True
    last = seg_start + m - 1
    bad |= ends[last] > total
    for k in np.flatnonzero(bad):
        i = keep[k]
        try:
            parse_kaggle(texts[i], heights[i], widths[i])
        except RLEError as exc:
            results[i] = exc
    good = np.flatnonzero(~bad)
    if good.size == 0:
        return results
    if good.size < m.size:  # keep only the valid segments
        select = np.repeat(~bad, m)
        starts, lengths, ends = starts[select], lengths[select], ends[select]
        m, total = m[good], total[good]
        seg_start, local = _segments(m)
    # counts of each segment: [s0, l0, s1 - e0, l1, ..., total - e_last], zero tail dropped
    tail = total - ends[seg_start + m - 1]
    size = 2 * m + (tail > 0)
    out_start = np.concatenate(([0], np.cumsum(size)[:-1]))
    counts = np.empty(int(size.sum()), dtype=np.int64)
    pair_base = np.repeat(out_start, m) + 2 * local
    gaps = starts.copy()
    inner = local > 0
    gaps[inner] = starts[inner] - ends[np.flatnonzero(inner) - 1]
    counts[pair_base] = gaps
    counts[pair_base + 1] = lengths
    has_tail = np.flatnonzero(tail > 0)
    counts[out_start[has_tail] + size[has_tail] - 1] = tail[has_tail]
    strings = _compress_concat(counts, size)
    good_heights = np.asarray(heights, dtype=np.int64)[np.asarray(keep)[good]]
    areas, boxes = _area_bbox_concat(counts, size, good_heights)
    for j, k in enumerate(good.tolist()):
        results[keep[k]] = (strings[j], areas[j], boxes[j])
    return results


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
    return area_bbox_batch([np.asarray(counts, dtype=np.int64)], [height])[1][0]


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
