"""The loss over N processes (embeddings all-gathered with their gradient, gradients averaged as
DDP does) equals the single-process loss on the same global batch, gradients included."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from audioret.losses import ContrastiveLoss
from tolerances import U64

WORLD, LOCAL, IN, DIM = 2, 3, 5, 4
F64 = torch.float64
#: Both runs are float64 and differ only in the order of their sums (gather, all-reduce). Losses and gradients
#: are at most about 10 and pass through fewer than 100 operations: 100 x 10 x float64's unit roundoff.
TOL = 100 * 10 * U64


def _setup():
    torch.manual_seed(0)
    audio_net, text_net = nn.Linear(IN, DIM, dtype=F64), nn.Linear(IN, DIM, dtype=F64)
    log_tau = nn.Parameter(torch.tensor(-2.0, dtype=F64))
    x_audio, x_text = torch.randn(WORLD * LOCAL, IN, dtype=F64), torch.randn(WORLD * LOCAL, IN, dtype=F64)
    x_mixed = torch.randn(WORLD * LOCAL, IN, dtype=F64)
    clip_ids = torch.tensor([0, 1, 2, 3, 3, 5])  # rows 3 and 4: two captions of one clip
    lam = torch.rand(WORLD * LOCAL, dtype=F64)
    partner_local = torch.tensor([[1, 2, 0], [2, 0, 1]])  # each process mixes within its own shard
    return audio_net, text_net, log_tau, x_audio, x_text, x_mixed, clip_ids, lam, partner_local


def _loss(audio_net, text_net, log_tau, rows, x_audio, x_text, x_mixed, clip_ids, lam, partner):
    norm = nn.functional.normalize
    return ContrastiveLoss()(norm(audio_net(x_audio[rows]), dim=-1), norm(text_net(x_text[rows]), dim=-1),
                             log_tau.exp(), clip_ids[rows], norm(audio_net(x_mixed[rows]), dim=-1), lam[rows],
                             partner)["loss"]


def _worker(rank: int, rendezvous: str, queue) -> None:
    # A file rendezvous: no TCP port that another process could take between choosing and binding it.
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=WORLD)
    audio_net, text_net, log_tau, x_audio, x_text, x_mixed, clip_ids, lam, partner_local = _setup()
    rows = torch.arange(rank * LOCAL, (rank + 1) * LOCAL)
    loss = _loss(audio_net, text_net, log_tau, rows, x_audio, x_text, x_mixed, clip_ids, lam, partner_local[rank])
    loss.backward()
    grads = [p.grad for p in (*audio_net.parameters(), *text_net.parameters(), log_tau)]
    for g in grads:  # what DDP does after backward
        dist.all_reduce(g)
        g /= WORLD
    # Plain arrays, sent by value: a tensor would travel as a shared-memory handle that this process
    # must still be alive to serve when the parent reads it.
    queue.put((rank, loss.item(), [g.detach().numpy().copy() for g in grads]))
    dist.destroy_process_group()


def test_two_gloo_processes_equal_one_process(tmp_path):
    audio_net, text_net, log_tau, x_audio, x_text, x_mixed, clip_ids, lam, partner_local = _setup()
    partner_global = torch.cat([partner_local[0], partner_local[1] + LOCAL])
    single = _loss(audio_net, text_net, log_tau, torch.arange(WORLD * LOCAL), x_audio, x_text, x_mixed, clip_ids,
                   lam, partner_global)
    single.backward()
    expected = [p.grad for p in (*audio_net.parameters(), *text_net.parameters(), log_tau)]

    context = mp.get_context("spawn")
    queue = context.Queue()
    rendezvous = str(tmp_path / "rendezvous")
    processes = [context.Process(target=_worker, args=(rank, rendezvous, queue)) for rank in range(WORLD)]
    for p in processes:
        p.start()
    results = [queue.get(timeout=120) for _ in range(WORLD)]
    for p in processes:
        p.join(timeout=60)
        assert p.exitcode == 0
    for _, loss, grads in results:
        assert loss == pytest.approx(single.item(), abs=TOL)
        for got, want in zip(grads, expected, strict=True):
            torch.testing.assert_close(torch.from_numpy(got), want, atol=TOL, rtol=0)
