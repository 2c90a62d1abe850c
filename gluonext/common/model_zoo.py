"""GluonCV model-zoo networks and local ImageNet weights, with one-line errors.

``fetch_model_zoo`` takes a pretrained GluonCV network from its cache (or downloads it
where there is network); ``load_backbone_weights`` loads a local ``.params`` file such
as GluonCV's ``resnet18_v1b`` ImageNet weights into a backbone.
"""

from __future__ import annotations

import os
from pathlib import Path

import mxnet as mx
from mxnet.gluon import nn

from gluonext.errors import ModelError


def load_backbone_weights(base: nn.Block, path: str | os.PathLike) -> None:
    """Load a local ImageNet ``.params`` file (e.g. GluonCV's resnet18_v1b) into a backbone."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"--pretrained-base {path}: file not found")
    try:
        base.load_parameters(str(path), allow_missing=True, ignore_extra=True)
    except (mx.base.MXNetError, AssertionError, ValueError) as exc:
        raise ModelError(
            f"--pretrained-base {path}: does not fit the backbone "
            f"({str(exc).splitlines()[0][:200]})"
        ) from None


def fetch_model_zoo(name: str, root: str | None = None, **kwargs) -> nn.HybridBlock:
    """GluonCV's pretrained ``name`` from its cache (``~/.mxnet/models`` or ``root``).

    Without the weights and without network this fails with a message saying so, not a
    download traceback.
    """
    import gluoncv

    kwargs["pretrained"] = True
    if root:
        kwargs["root"] = root
    try:
        return gluoncv.model_zoo.get_model(name, **kwargs)
    except ValueError as exc:
        raise ModelError(f"--model-zoo {name!r}: not a GluonCV model ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - download errors come in many types
        where = root or os.path.join("~", ".mxnet", "models")
        raise ModelError(
            f"--model-zoo {name}: pretrained weights are not in {where} and could not be "
            f"downloaded ({exc.__class__.__name__}). Copy the .params file there from a machine "
            "with network, or train without --model-zoo."
        ) from None


ZOO = "zoo"  # --pretrained-base zoo: GluonCV's own ImageNet file (what --use-pretrained-base means)


def zoo_file(name: str, root: str | None, flag: str, instead: str) -> str:
    """Path of GluonCV's weight file ``name`` from its cache (downloaded where there is
    network); otherwise a one-line error naming ``flag`` and what to do ``instead``."""
    from gluoncv.model_zoo.model_store import get_model_file

    where = str(root or os.path.join("~", ".mxnet", "models"))
    try:
        return get_model_file(name, root=os.path.expanduser(where))
    except Exception as exc:  # noqa: BLE001 - download errors come in many types
        raise ModelError(
            f"{flag}: GluonCV's weights {name} are not in {where} and could not be "
            f"downloaded ({exc.__class__.__name__}); {instead}"
        ) from None


def imagenet_file(network: str, root: str | None = None) -> str:
    """GluonCV's ImageNet ``.params`` for ``network`` (``--use-pretrained-base``)."""
    instead = "give --pretrained-base FILE (tools/pretrain_backbone.py makes one)"
    return zoo_file(network, root, "--use-pretrained-base", instead)
