"""Mixed precision (``--amp``, and ``--dtype float16``, which means the same here): MXNet's
AMP on GPU contexts, for every training script. On CPU contexts it is refused with the reason
(MXNet's CPU kernels train in float32). Not exercised by the test suite, which has no GPU,
beyond those refusals."""

from __future__ import annotations

from mxnet import autograd

from gluonext.engine.compat import amp_enabled
from gluonext.errors import DeviceError


def start_amp(args, contexts):
    """MXNet's AMP module, initialised, when ``--amp`` (or ``--dtype float16``) asks for it
    on GPU contexts; None without the flags. Call before the network is built."""
    wanted = getattr(args, "amp", False) or getattr(args, "dtype", "float32") == "float16"
    if not wanted:
        return None
    if any(c.device_type == "cpu" for c in contexts):
        flag = "--amp" if getattr(args, "amp", False) else "--dtype float16"
        raise DeviceError(
            f"{flag}: MXNet's CPU kernels train in float32 only; use GPU contexts "
            "(--ngpus N) or drop the flag"
        )
    from mxnet.contrib import amp

    amp.init()
    return amp


def backward(losses, trainer) -> None:
    """``autograd.backward(losses)``, through AMP's loss scaling when the trainer has it."""
    if amp_enabled(trainer):
        from mxnet.contrib import amp

        with amp.scale_loss(losses, trainer) as scaled:
            autograd.backward(scaled)
    else:
        autograd.backward(losses)
