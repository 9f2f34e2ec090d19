"""Run by ``test_trainer_signals.py``: a small training run whose DataLoader worker is slow, so a
SIGTERM to the whole process group reaches the worker while it is busy."""

import sys
import time

import torch
from torch import nn

from aural.losses import build_loss
from aural.train.task import EnhancementTask, OptimizerConfig
from aural.train.trainer import Trainer, TrainerConfig


class SlowData(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 1000

    def __getitem__(self, index: int):
        time.sleep(0.05)
        x = torch.randn(1, 256)
        return x, x


torch.manual_seed(0)
task = EnhancementTask(nn.Conv1d(1, 1, 3, padding=1), build_loss([{"name": "l1", "weight": 1.0}]),
                       OptimizerConfig(lr=1e-3, warmup_steps=1, total_steps=10000))
config = TrainerConfig(steps=10000, batch_size=2, checkpoint_every=10000, progress=False, num_workers=1)
print("training", flush=True)
try:
    Trainer(task, SlowData(), sys.argv[1], config).fit()
except KeyboardInterrupt as exc:
    print(f"stopped: {type(exc).__name__}", flush=True)
    sys.exit(143)
