"""Run by ``test_trainer.py`` under torchrun: rank 1 nudges one weight, then every rank runs
the trainer's end-of-run weight check and writes what it said to ``OUT_DIR/rank<N>.txt``."""

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from aural.errors import StageError
from aural.train.trainer import DistInfo, _check_ranks_agree

dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
model = torch.nn.Linear(4, 3)
if rank == 1 and sys.argv[2] == "nudge":
    with torch.no_grad():
        model.weight[2, 1] += 0.25
try:
    said = str(_check_ranks_agree(model, DistInfo(rank, dist.get_world_size()), torch.device("cpu")))
except StageError as exc:
    said = f"StageError: {exc}"
Path(sys.argv[1], f"rank{rank}.txt").write_text(said)
dist.destroy_process_group()
