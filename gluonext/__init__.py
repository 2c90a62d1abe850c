"""GluonCV training recipes for clothing. ``from gluonext import load_predictor`` gives the
inference API (imported on first use, so ``import gluonext`` stays light)."""


def __getattr__(name):
    if name == "load_predictor":
        from gluonext.deploy.predictor import load_predictor

        return load_predictor
    raise AttributeError(f"module 'gluonext' has no attribute {name!r}")
