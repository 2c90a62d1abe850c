import mxnet as mx
import numpy as np
import pytest

from gluonext.engine import devices


def test_parse_contexts():
    assert devices.parse_contexts() == [mx.cpu()]
    assert devices.parse_contexts(ctx="cpu:0,cpu:1") == [mx.cpu(0), mx.cpu(1)]
    with pytest.raises(devices.DeviceError, match="twice"):
        devices.parse_contexts(ctx="cpu:0,cpu:0")
    with pytest.raises(devices.DeviceError, match="expected"):
        devices.parse_contexts(ctx="tpu:0")
    with pytest.raises(devices.DeviceError, match="MXNet sees 0"):
        devices.parse_contexts(ngpus=2)


def test_kvstore_choices():
    assert devices.create_kvstore("device", [mx.cpu()]).num_workers == 1
    with pytest.raises(devices.DeviceError, match="nccl needs GPU"):
        devices.create_kvstore("nccl", [mx.cpu()])
    with pytest.raises(devices.DeviceError, match="expected"):
        devices.create_kvstore("nonsense", [mx.cpu()])


def test_shards_are_disjoint_equal_and_seeded():
    shards = [devices.shard_order(103, seed=4, epoch=2, rank=r, num_workers=3) for r in range(3)]
    assert all(len(s) == 34 for s in shards)
    joined = np.concatenate(shards)
    assert len(set(joined.tolist())) == len(joined)
    again = devices.shard_order(103, seed=4, epoch=2, rank=1, num_workers=3)
    np.testing.assert_array_equal(again, shards[1])
    other_epoch = devices.shard_order(103, seed=4, epoch=3, rank=1, num_workers=3)
    assert not np.array_equal(other_epoch, shards[1])


def test_seeded_batches_do_not_depend_on_anything_but_seed_epoch_index():
    a = list(devices.SeededBatchSampler(np.array([5, 1, 7, 3, 2]), 2, seed=1, epoch=1))
    b = list(devices.SeededBatchSampler(np.array([5, 1, 7, 3, 2]), 2, seed=1, epoch=1))
    assert a == b and len(a) == 2 and [i for i, _ in a[0]] == [5, 1]
    keep = devices.SeededBatchSampler(np.arange(5), 2, seed=1, epoch=1, last_batch="keep")
    assert len(keep) == 3 and len(list(keep)) == 3
    assert devices.sample_seed(1, 1, 5) != devices.sample_seed(1, 2, 5)
