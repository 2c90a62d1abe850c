"""The errors a user can fix, in one hierarchy.

Every script turns a ``GluonextError`` into one line naming the file, row or flag and what is
wrong, and exit code 2, instead of a traceback (``gluonext.common.cli.run_tool``). Each
class is also a ``ValueError`` (``RuntimeError`` for a diverged run), as before the hierarchy.
"""

from __future__ import annotations


class GluonextError(Exception):
    """Base of every error the user can fix by changing the input, a flag or a file."""


class DatasetError(GluonextError, ValueError):
    """A dataset, annotation file, image or split that cannot be used as it is."""


class ModelError(GluonextError, ValueError):
    """A model name, backbone, weight file or model-zoo entry that cannot be used."""


class CheckpointError(GluonextError, ValueError):
    """A checkpoint that is missing, damaged, or from another model or task."""


class DeviceError(GluonextError, ValueError):
    """A device or distributed-training setting that cannot be honoured here."""


class OutputError(GluonextError, OSError):
    """An output folder or file that cannot be written (a file in its place, no permission,
    a full disk)."""


class TrainingDiverged(GluonextError, RuntimeError):
    """The loss became NaN or infinite: the run stops instead of training on garbage."""
