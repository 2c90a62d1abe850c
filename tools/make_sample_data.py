#!/usr/bin/env python
"""Generate a sample dataset in one of the real on-disk formats, with exact ground truth.

python tools/make_sample_data.py --format imaterialist --output datasets/imaterialist_sample
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gluonext.common.cli import non_negative_int, positive_int, run_tool, sample_image_size
from gluonext.common.logs import setup_logging
from gluonext.sample.writers import DEFAULT_SIZES, WRITERS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--format", required=True, choices=sorted(WRITERS))
    parser.add_argument("--output", required=True, help="folder to write the dataset into")
    parser.add_argument("--num-images", type=positive_int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--stream",
        type=non_negative_int,
        default=0,
        help="the generator's picture stream: pictures of two streams never coincide "
        "(0: datasets; tools/pretrain_backbone.py draws its pictures from 1)",
    )
    parser.add_argument(
        "--image-size",
        type=sample_image_size,
        default=None,
        metavar="WxH",
        help="image size (iMaterialist sizes vary around it); default per format: "
        + ", ".join(f"{k} {w}x{h}" for k, (w, h) in DEFAULT_SIZES.items()),
    )
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> int:
    log = setup_logging()
    out = Path(args.output)
    size = args.image_size or DEFAULT_SIZES[args.format]
    start = time.perf_counter()
    WRITERS[args.format](
        out, args.num_images, args.seed, size, progress=not args.no_progress, stream=args.stream
    )
    log.info(
        "wrote %d %s images to %s in %.1f s",
        args.num_images,
        args.format,
        out,
        time.perf_counter() - start,
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args()))
