"""Annotation files written by the real tools' own code, for the readers' tests.

LabelImg: its ``libs/pascal_voc_io.PascalVocWriter`` (the ``labelImg`` package, installed
without its Qt dependencies by ``scripts/setup_env.sh``), called as LabelImg's
``LabelFile.save_pascal_voc_format`` calls it when a user saves: ``<folder>`` is the name of the
image's folder, ``<filename>`` its name, ``<path>`` the full path on the annotator's machine,
and the XML goes to the "Change Save Dir" folder (beside the image when none is set).
"""

from __future__ import annotations

import ntpath
import posixpath
from pathlib import Path

from libs.pascal_voc_io import PascalVocWriter


def labelimg_save(image_path: str, size: tuple[int, int], objects, xml_path: Path) -> Path:
    """Save ``objects`` ((name, (xmin, ymin, xmax, ymax), difficult) triples) for the image at
    ``image_path`` (as the annotator's machine spells it: a Windows path is split as Windows
    does) of ``size`` (height, width) into ``xml_path``, as LabelImg does."""
    pathmod = ntpath if "\\" in image_path else posixpath
    writer = PascalVocWriter(
        pathmod.basename(pathmod.dirname(image_path)),
        pathmod.basename(image_path),
        (size[0], size[1], 3),
        local_img_path=image_path,
    )
    for name, (x1, y1, x2, y2), difficult in objects:
        writer.add_bnd_box(int(x1), int(y1), int(x2), int(y2), name, difficult)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    writer.save(target_file=str(xml_path))
    return xml_path
