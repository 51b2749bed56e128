"""Single-process no-ops, sampler and seeding; a 2-process gloo run where gathered negatives match one big batch."""
import os
import re
import subprocess
import sys
import textwrap

import pytest
import torch

from common.dist import (DistInfo, SkippingSampler, all_gather_nograd, all_gather_with_grad, default_timeout_s,
                         distributed_sampler, init_distributed, resolve_device, seed_everything, wrap_ddp)


def test_single_process_is_a_no_op(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = init_distributed()
    assert (info.rank, info.world_size, info.is_main) == (0, 1, True)
    assert not torch.distributed.is_initialized()
    x = torch.randn(3, 2, requires_grad=True)
    assert all_gather_with_grad(x) is x and torch.equal(all_gather_nograd(x), x)
    model = torch.nn.Linear(2, 2)
    assert wrap_ddp(model) is model


def test_timeout_from_environment(monkeypatch):
    monkeypatch.setenv("CIR_DIST_TIMEOUT", "42")
    assert default_timeout_s() == 42.0
    monkeypatch.setenv("CIR_DIST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="CIR_DIST_TIMEOUT='soon'"):
        default_timeout_s()


def test_sampler_reshuffles_per_epoch_and_seeding_repeats():
    sampler = distributed_sampler(list(range(20)), shuffle=True, seed=3)
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert sorted(first) == list(range(20)) and list(sampler) != first
    seed_everything(7)
    a = torch.rand(3)
    seed_everything(7)
    assert torch.equal(a, torch.rand(3))
    assert seed_everything(7, rank=1) == 8


def test_requested_device_wins_and_bare_cuda_means_this_process_gpu():
    on_cpu = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"), is_main=True)
    on_gpu1 = DistInfo(rank=1, world_size=2, local_rank=1, device=torch.device("cuda", 1), is_main=False)
    assert resolve_device(None, on_cpu) == torch.device("cpu")
    assert resolve_device("cuda:1", on_cpu) == torch.device("cuda", 1)
    assert resolve_device(None, on_gpu1) == torch.device("cuda", 1)
    assert resolve_device("cuda", on_gpu1) == torch.device("cuda", 1)
    assert resolve_device("cpu", on_gpu1) == torch.device("cpu")  # was ignored by FashionERN on a GPU host
    assert resolve_device("cuda:0", on_gpu1) == torch.device("cuda", 0)


def test_skipping_sampler_starts_an_epoch_after_the_done_indices():
    sampler = SkippingSampler(distributed_sampler(list(range(20)), shuffle=True, seed=3))
    sampler.set_epoch(2)
    whole = list(sampler)
    sampler.set_epoch(2, skip=8)
    assert list(sampler) == whole[8:] and len(sampler) == 12
    sampler.set_epoch(3)
    assert len(sampler) == 20 and list(sampler) != whole
    with pytest.raises(ValueError, match="cannot skip 21 of an epoch of 20 indices"):
        sampler.set_epoch(3, skip=21)


WORKER = textwrap.dedent("""
    import sys, torch, torch.nn.functional as F
    from common.dist import init_distributed, all_gather_with_grad, all_gather_nograd, wrap_ddp, cleanup, barrier

    def loss_local(model, images, texts, rank, world):
        img = F.normalize(model(images), dim=-1)
        txt = F.normalize(texts, dim=-1)
        all_img, all_txt = all_gather_with_grad(img), all_gather_with_grad(txt)
        labels = torch.arange(img.shape[0]) + rank * img.shape[0]
        i2t = F.cross_entropy(img @ all_txt.T / 0.07, labels)
        t2i = F.cross_entropy(txt @ all_img.T / 0.07, labels)
        return (i2t + t2i) / 2

    info = init_distributed()
    torch.manual_seed(0)
    full_images, full_texts = torch.randn(8, 6), torch.randn(8, 5)
    model = torch.nn.Linear(6, 5)
    reference = torch.nn.Linear(6, 5)
    reference.load_state_dict(model.state_dict())
    per = 8 // info.world_size
    mine = slice(info.rank * per, (info.rank + 1) * per)
    ddp = wrap_ddp(model)
    loss = loss_local(ddp, full_images[mine], full_texts[mine], info.rank, info.world_size)
    loss.backward()
    mean_loss = all_gather_nograd(loss.detach().reshape(1)).mean()

    img = F.normalize(reference(full_images), dim=-1)
    txt = F.normalize(full_texts, dim=-1)
    labels = torch.arange(8)
    full = (F.cross_entropy(img @ txt.T / 0.07, labels) + F.cross_entropy(txt @ img.T / 0.07, labels)) / 2
    full.backward()
    assert torch.allclose(mean_loss, full, atol=1e-5), (mean_loss, full)
    assert torch.allclose(model.weight.grad, reference.weight.grad, atol=1e-5)
    assert torch.allclose(model.bias.grad, reference.bias.grad, atol=1e-5)
    uneven = all_gather_nograd(torch.full((info.rank + 1, 2), float(info.rank)))
    assert uneven.tolist() == [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]], uneven
    barrier()
    # one write per line: print() writes text and newline separately, and two ranks share the pipe
    sys.stdout.write(f"rank {info.rank}/{info.world_size} loss {mean_loss.item():.6f} full {full.item():.6f}\\n")
    sys.stdout.flush()
    cleanup()
""")


@pytest.mark.slow
def test_torchrun_two_processes_gathered_negatives_equal_full_batch(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = dict(os.environ, OMP_NUM_THREADS="1", CIR_DIST_TIMEOUT="120")
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    ranks = sorted(re.findall(r"rank (\d)/2 loss", out.stdout))  # robust to the two ranks' lines interleaving
    assert ranks == ["0", "1"], out.stdout
