"""Devices and data parallelism: contexts, the kvstore, and per-rank data shards."""

from __future__ import annotations

from dataclasses import dataclass

import mxnet as mx
import numpy as np

from gluonext.engine.compat import WeightsFirstTrainer, has_data
from gluonext.errors import DeviceError


def parse_contexts(ngpus: int = 0, ctx: str | None = None) -> list[mx.Context]:
    """``--ctx cpu:0,cpu:1`` / ``--ctx gpu:0`` if given, else ``--ngpus N`` GPUs, else the CPU."""
    if ctx:
        contexts = []
        for token in ctx.split(","):
            kind, _, index = token.strip().lower().partition(":")
            if kind not in ("cpu", "gpu") or (index and not index.isdigit()):
                raise DeviceError(
                    f"--ctx {ctx!r}: expected e.g. 'cpu', 'cpu:0,cpu:1' or 'gpu:0,gpu:1'"
                )
            contexts.append(mx.Context(kind, int(index or 0)))
        if len(set(map(str, contexts))) != len(contexts):
            raise DeviceError(f"--ctx {ctx!r} names a device twice")
    elif ngpus > 0:
        contexts = [mx.gpu(i) for i in range(ngpus)]
    else:
        contexts = [mx.cpu()]
    wanted = sum(c.device_type == "gpu" for c in contexts)
    if wanted:
        available = mx.context.num_gpus()
        if max(c.device_id for c in contexts if c.device_type == "gpu") >= available:
            raise DeviceError(
                f"{wanted} GPU(s) requested but MXNet sees {available}: this is the CPU build of "
                "MXNet or no GPU is visible. Use --ctx cpu (or cpu:0,cpu:1), or install "
                "mxnet-cu112 as the README describes."
            )
    return contexts


@dataclass
class Parallel:
    """Where this process stands in data-parallel training."""

    kvstore: object  # an mx.kv.KVStore, or a kvstore name for gluon.Trainer
    rank: int = 0
    num_workers: int = 1
    horovod: object = None  # the horovod.mxnet module when running under --horovod

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.num_workers > 1


def create_kvstore(name: str, contexts: list[mx.Context]) -> Parallel:
    """The kvstore for ``--kvstore``; dist_* ones connect through the DMLC_* environment."""
    if name == "nccl" and any(c.device_type != "gpu" for c in contexts):
        raise DeviceError("--kvstore nccl needs GPU contexts; use device or local on CPU")
    if name.startswith("dist"):
        try:
            kv = mx.kv.create(name)
        except mx.base.MXNetError as exc:
            raise DeviceError(
                f"--kvstore {name}: could not join the cluster ({str(exc).splitlines()[0]}). "
                "Start workers with mxnet/tools/launch.py or set the DMLC_* variables."
            ) from None
        return Parallel(kv, kv.rank, kv.num_workers)
    if name not in ("device", "local", "nccl"):
        raise DeviceError(f"--kvstore {name!r}: expected device, local, nccl, dist_sync, ...")
    return Parallel(name)


def create_horovod() -> tuple[Parallel, list[mx.Context]]:
    """Join a horovod job (one GPU per process); a clear error when horovod is missing."""
    try:
        import horovod.mxnet as hvd
    except ImportError:
        raise DeviceError(
            "--horovod: horovod is not installed (it needs MPI and a GPU build of MXNet: "
            "HOROVOD_WITH_MXNET=1 pip install horovod). Without it use --kvstore dist_sync."
        ) from None
    hvd.init()
    return Parallel(None, hvd.rank(), hvd.size(), hvd), [mx.gpu(hvd.local_rank())]


def batch_norm_layer(syncbn: bool, contexts):
    """(norm layer, its kwargs): BatchNorm, or with ``--syncbn`` SyncBatchNorm over the
    devices (GPUs only)."""
    if not syncbn:
        return mx.gluon.nn.BatchNorm, None
    if any(c.device_type == "cpu" for c in contexts):
        raise DeviceError(
            "--syncbn needs GPU contexts: MXNet 1.9.1's SyncBatchNorm hangs on "
            "several CPU contexts. Drop --syncbn on CPU (plain BatchNorm is used)."
        )
    return mx.gluon.contrib.nn.SyncBatchNorm, {"num_devices": len(contexts)}


def create_trainer(params, optimizer: str, optimizer_params: dict, parallel: Parallel, amp=None):
    """A Gluon trainer that reduces gradients through the kvstore (or horovod); with ``amp``
    (``engine.precision.start_amp``) float32 master weights and AMP's loss scaling."""
    if amp is not None:
        optimizer_params = {**optimizer_params, "multi_precision": True}
    if parallel.horovod is not None:
        parallel.horovod.broadcast_parameters(params, root_rank=0)
        trainer = parallel.horovod.DistributedTrainer(params, optimizer, optimizer_params)
    else:
        trainer = WeightsFirstTrainer(  # the first weight broadcast lands first: see compat
            params, optimizer, optimizer_params, kvstore=parallel.kvstore, update_on_kvstore=False
        )
    if amp is not None:
        amp.init_trainer(trainer)
    return trainer


def shard_order(
    num_items: int, seed: int, epoch: int, rank: int = 0, num_workers: int = 1, shuffle: bool = True
) -> np.ndarray:
    """This rank's item indices for ``epoch``: one seeded permutation, cut into equal shards.

    Every rank gets the same number of items (the remainder is left out of the epoch) so that
    synchronous workers run the same number of steps; shards never overlap.
    """
    order = (
        np.random.RandomState([seed & 0xFFFFFFFF, epoch]).permutation(num_items)
        if shuffle
        else np.arange(num_items)
    )
    per_rank = num_items // num_workers
    if per_rank == 0:
        raise DeviceError(f"{num_items} items cannot be shared among {num_workers} workers")
    return order[rank * per_rank : (rank + 1) * per_rank]


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The augmentation seed of one item in one epoch (independent of loader workers)."""
    return int(np.random.RandomState([seed & 0xFFFFFFFF, epoch, index]).randint(2**31 - 1))


class SeededBatchSampler:
    """Batches of ``(index, seed)`` pairs: the dataset seeds each item's augmentation itself,
    so data order and augmentation are the same whatever the number of loader workers."""

    def __init__(
        self,
        indices: np.ndarray,
        batch_size: int,
        seed: int,
        epoch: int,
        last_batch: str = "discard",
    ):
        self.indices, self.batch_size = np.asarray(indices), batch_size
        self.seed, self.epoch, self.last_batch = seed, epoch, last_batch

    def __iter__(self):
        batch = []
        for index in self.indices.tolist():
            batch.append((index, sample_seed(self.seed, self.epoch, index)))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and self.last_batch == "keep":
            yield batch

    def __len__(self) -> int:
        full, rest = divmod(len(self.indices), self.batch_size)
        return full + (1 if rest and self.last_batch == "keep" else 0)


_STATE_KEY_OFFSET = 1_000_000  # kvstore keys of running statistics, clear of the Trainer's


def average_running_stats(net, parallel: Parallel) -> int:
    """Average non-trained state (BatchNorm running mean/var) over devices and workers.

    The kvstore only reduces gradients, so each device and each worker otherwise keeps the
    statistics of its own share of the data. Returns the number of arrays averaged.
    """
    params = [p for p in net.collect_params().values() if p.grad_req == "null" and has_data(p)]
    kv = parallel.kvstore if parallel.distributed and parallel.horovod is None else None
    initialised = getattr(parallel, "_state_keys", set())
    for index, param in enumerate(params):
        copies = param.list_data()
        mean = mx.nd.add_n(*[c.as_in_context(copies[0].context) for c in copies]) / len(copies)
        if parallel.distributed and parallel.horovod is not None:
            mean = parallel.horovod.allreduce(mean, average=True, name=f"running_stat_{index}")
        elif kv is not None:
            key = _STATE_KEY_OFFSET + index
            if key not in initialised:
                kv.init(key, mx.nd.zeros_like(mean))
                initialised.add(key)
            kv.push(key, mean / parallel.num_workers)
            kv.pull(key, out=mean)
        for copy in copies:
            mean.copyto(copy)
    if kv is not None:
        mx.nd.waitall()  # this epoch's pulls land before the next epoch pushes the same keys
    parallel._state_keys = initialised
    return len(params)


def epoch_loader(dataset, parallel: Parallel, batch_size: int, seed: int, epoch: int, workers: int,
                 batchify_fn=None, sampler=None, skip: int = 0):  # fmt: skip
    """This rank's DataLoader for ``epoch``: its shard in seeded order, items seeded by
    (seed, epoch, index), full batches of ``batch_size`` (per worker). ``sampler``: another
    ``SeededBatchSampler`` class (e.g. YOLOv3's random input shapes). ``skip``: leave out
    the first batches (a mid-epoch resume); the loader's ``skipped`` says how many."""
    order = shard_order(len(dataset), seed, epoch, parallel.rank, parallel.num_workers)
    kwargs = {"batchify_fn": batchify_fn} if batchify_fn is not None else {}
    batches = (sampler or SeededBatchSampler)(order, batch_size, seed, epoch)
    loader = mx.gluon.data.DataLoader(
        dataset,
        batch_sampler=SkipBatches(batches, skip) if skip else batches,
        num_workers=workers,
        thread_pool=False,
        **kwargs,
    )
    loader.skipped = skip
    return loader


class SkipBatches:
    """A batch sampler without its first ``skip`` batches (same order, same seeds after)."""

    def __init__(self, sampler, skip: int):
        self.sampler, self.skip = sampler, skip

    def __iter__(self):
        for number, batch in enumerate(self.sampler):
            if number >= self.skip:
                yield batch

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)


def split_batch(batch_size: int, num_items: int, parallel: Parallel) -> tuple[int, int]:
    """(per-worker batch, iterations per epoch) of ``--batch-size`` over ``num_items``
    training items; a batch that does not divide among the workers, or a shard without one
    full batch, is refused with the numbers."""
    if batch_size % parallel.num_workers:
        raise DeviceError(
            f"--batch-size {batch_size} must divide among {parallel.num_workers} workers"
        )
    local = batch_size // parallel.num_workers
    iterations = (num_items // parallel.num_workers) // local
    if iterations == 0:
        raise DeviceError(
            f"{num_items} training images give no full batch of {local} per worker; "
            "lower --batch-size"
        )
    return local, iterations
