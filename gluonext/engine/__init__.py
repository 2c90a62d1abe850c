"""Training utilities shared by every train_*.py script.

``devices`` (contexts, kvstore, per-rank shards and samplers), ``schedules`` (learning rates),
``checkpoint`` (atomic save, exact resume) and ``tracking`` (NaN guard, per-epoch metrics
log, curves). One concern per module; the scripts import what they use.
"""
