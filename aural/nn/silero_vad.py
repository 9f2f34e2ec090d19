"""Silero VAD v6 at 16 kHz in torch, with the weights the ``silero-vad`` wheel ships.

The weights are the wheel's ``silero_vad_16k.safetensors`` (MIT licence), read without
importing the package (importing it sets torch's thread count). They are not byte for byte the
weights of the wheel's JIT and ONNX models: probabilities differ by up to 0.34, and decisions at
0.5 agreed on 98.7-100 % of the chunks of three speech recordings.

The network takes 32 ms chunks (512 samples), each seen with the 64 samples before it, and
gives one speech probability per chunk; an LSTM carries state from chunk to chunk.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from aural.errors import WeightsError

SAMPLE_RATE = 16000
CHUNK_SAMPLES = 512
CONTEXT_SAMPLES = 64
WEIGHTS_NAME = "silero_vad_16k.safetensors"

LstmState = tuple[torch.Tensor, torch.Tensor]


def silero_weights_path() -> Path:
    """The Silero VAD 16 kHz weights inside the installed ``silero-vad`` wheel."""
    spec = importlib.util.find_spec("silero_vad")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"speech detection needs the silero-vad package ({WEIGHTS_NAME}): pip install silero-vad")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / WEIGHTS_NAME
    if not path.is_file():
        raise WeightsError(f"{path}: not found; the installed silero-vad has no {WEIGHTS_NAME} (it needs 6.2 or later)")
    return path


class SileroVad(nn.Module):
    """Silero VAD v6 (16 kHz): ``(streams, n, 576)`` chunks with context -> ``(streams, n)`` probabilities."""

    def __init__(self):
        super().__init__()
        self.stft_conv = nn.Conv1d(1, 258, kernel_size=256, stride=128, bias=False)
        self.conv1 = nn.Conv1d(129, 128, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(128, 64, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(64, 64, kernel_size=3, stride=2, padding=1)
        self.conv4 = nn.Conv1d(64, 128, kernel_size=3, padding=1)
        self.lstm_cell = nn.LSTMCell(128, 128)
        self.final_conv = nn.Conv1d(128, 1, kernel_size=1)

    @classmethod
    def pretrained(cls) -> SileroVad:
        from safetensors.torch import load_file

        model = cls()
        model.load_state_dict(load_file(silero_weights_path()))
        return model.eval()

    def features(self, chunks: torch.Tensor) -> torch.Tensor:
        """``(n, 576)`` chunks -> ``(n, 128)`` features; no state, so any number at once."""
        x = nn.functional.pad(chunks, (0, CONTEXT_SAMPLES), mode="reflect").unsqueeze(1)
        x = self.stft_conv(x)
        x = (x[:, :129] ** 2 + x[:, 129:] ** 2).sqrt()
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = torch.relu(conv(x))
        return x.squeeze(-1)

    def forward(self, chunks: torch.Tensor, state: LstmState | None = None) -> tuple[torch.Tensor, LstmState]:
        """``(streams, n, 576)`` consecutive chunks of each stream -> ``(streams, n)``
        probabilities and the new state (one LSTM state per stream)."""
        streams, n, width = chunks.shape
        features = self.features(chunks.reshape(streams * n, width)).reshape(streams, n, -1)
        hidden = []
        for step in range(n):
            state = self.lstm_cell(features[:, step], state)
            hidden.append(state[0])
        logits = self.final_conv(torch.relu(torch.stack(hidden, dim=-1)))  # (streams, 1, n)
        return torch.sigmoid(logits[:, 0]), state
