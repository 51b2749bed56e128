"""torchrun/DDP helpers: process-group init (gloo on CPU, nccl on CUDA), gathers, seeding, rank-0 output."""
from __future__ import annotations

import gc
import itertools
import os
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset, DistributedSampler, Sampler

DEFAULT_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    is_main: bool


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def default_timeout_s() -> float:
    """Collective timeout in seconds: `$CIR_DIST_TIMEOUT` if set, else 1800."""
    value = os.environ.get("CIR_DIST_TIMEOUT")
    if not value:
        return DEFAULT_TIMEOUT_S
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"environment variable CIR_DIST_TIMEOUT={value!r} is not a number of seconds") from None


def init_distributed(timeout_s: float | None = None, backend: str | None = None) -> DistInfo:
    """Join the torchrun process group if launched by torchrun (WORLD_SIZE > 1); a no-op otherwise."""
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    use_cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if world_size > 1 and not dist.is_initialized():
        timeout = timedelta(seconds=timeout_s if timeout_s is not None else default_timeout_s())
        dist.init_process_group(backend=backend or ("nccl" if use_cuda else "gloo"), timeout=timeout,
                                rank=rank, world_size=world_size)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=device, is_main=rank == 0)


def resolve_device(requested: str | None, info: DistInfo) -> torch.device:
    """This process's device: `requested` ("cpu", "cuda", "cuda:N") wins, a bare "cuda" under torchrun meaning this
    process's GPU (cuda:LOCAL_RANK); without a request, `info.device` (cuda:LOCAL_RANK when CUDA exists, else cpu)."""
    if not requested:
        return info.device
    device = torch.device(requested)
    if device.type == "cuda" and device.index is None and info.device.type == "cuda":
        return info.device
    return device


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_dist() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_dist() else 1


def is_main() -> bool:
    return get_rank() == 0


def barrier() -> None:
    if is_dist():
        dist.barrier()


def gather_object(obj: Any) -> list[Any]:
    """Every rank's picklable `obj` in rank order (a collective: every rank must call it); `[obj]` without DDP."""
    if not is_dist():
        return [obj]
    objects: list[Any] = [None] * get_world_size()
    dist.all_gather_object(objects, obj)
    return objects


def all_gather_nograd(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's `tensor` along dim 0 in rank order, without gradient.

    Ranks may hold different numbers of rows (e.g. an unpadded evaluation shard); trailing dims must agree.
    """
    if not is_dist():
        return tensor.detach()
    world = get_world_size()
    rows = torch.tensor([tensor.shape[0]], dtype=torch.long, device=tensor.device)
    all_rows = [torch.empty_like(rows) for _ in range(world)]
    dist.all_gather(all_rows, rows)
    counts = [int(r.item()) for r in all_rows]
    padded = tensor.detach().new_zeros((max(counts), *tensor.shape[1:]))
    padded[:tensor.shape[0]] = tensor.detach()
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([part[:count] for part, count in zip(parts, counts)], dim=0)


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums each rank's gradient for every slice and returns this rank's slice."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> tuple[torch.Tensor, ...]:
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return tuple(parts)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> torch.Tensor:
        stacked = torch.stack(grads).contiguous()
        dist.all_reduce(stacked)
        return stacked[dist.get_rank()]


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's `tensor` along dim 0, keeping the gradient path to the local slice.

    Gradients reaching each slice from the losses of all ranks are summed (the loss of the job is the
    sum of the per-rank losses); DDP then averages parameter gradients over ranks as usual.
    """
    if not is_dist():
        return tensor
    return torch.cat(_GatherWithGrad.apply(tensor), dim=0)


def seed_everything(seed: int, rank: int = 0) -> int:
    """Seed python, numpy and torch with `seed + rank`; returns the seed used."""
    effective = int(seed) + int(rank)
    random.seed(effective)
    np.random.seed(effective % 2**32)
    torch.manual_seed(effective)
    return effective


def rank0_print(*args: Any, **kwargs: Any) -> None:
    """`print` on rank 0 only (flushes, so torchrun output interleaves sensibly)."""
    if is_main():
        kwargs.setdefault("flush", True)
        print(*args, **kwargs)


def distributed_sampler(dataset: Dataset, shuffle: bool = True, seed: int = 0,
                        drop_last: bool = False) -> DistributedSampler:
    """A sampler sharding `dataset` over ranks (the whole dataset in one process); call `set_epoch` each epoch."""
    return DistributedSampler(dataset, num_replicas=get_world_size(), rank=get_rank(), shuffle=shuffle,
                              seed=seed, drop_last=drop_last)


class SkippingSampler(Sampler):
    """A DistributedSampler whose epoch can start after its first `skip` indices, so that a run resumed mid-epoch
    does not load (and drop) the items of the batches it already trained on."""

    def __init__(self, sampler: DistributedSampler):
        self.sampler, self.skip = sampler, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """The order of `epoch`, without its first `skip` indices."""
        if not 0 <= skip <= len(self.sampler):
            raise ValueError(f"cannot skip {skip} of an epoch of {len(self.sampler)} indices")
        self.sampler.set_epoch(epoch)
        self.skip = skip

    def __iter__(self):
        return itertools.islice(iter(self.sampler), self.skip, None)

    def __len__(self) -> int:
        return len(self.sampler) - self.skip


def wrap_ddp(model: torch.nn.Module, find_unused_parameters: bool = False) -> torch.nn.Module:
    """Wrap in DistributedDataParallel when running in a process group; return `model` unchanged otherwise."""
    if not is_dist():
        return model
    device_ids = None
    if next(model.parameters()).is_cuda:
        device_ids = [torch.cuda.current_device()]
    return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=find_unused_parameters)


def cleanup() -> None:
    """Leave the process group if one was joined, once every rank got here and the garbage cycles that still hold
    gloo state (DDP, autograd graphs) are freed: left to interpreter exit they abort a rank now and then with
    "terminate called without an active exception" after all its work is done (measured 5 of 25 2-process runs
    under CPU load, 0 of 25 with the collection)."""
    if is_dist():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()
