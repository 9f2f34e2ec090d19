"""The one Stage interface shared by learned and DSP stages.

A stage is configured for a sample rate and channel count, then streams: each
``process_block`` call returns exactly as many samples as it was given, delayed by
``latency_samples``; ``flush`` returns the last ``latency_samples``. ``process`` wraps that
for a whole :class:`~aural.signal.Signal` and returns output aligned with the input.

Stages that must see all their input before producing output (loudness normalisation)
set ``needs_analysis``: the pipeline first feeds every block to ``analyze_block`` and calls
``finish_analysis``, which may ask for another analysis pass (at most
``MAX_ANALYSIS_PASSES``) by returning True; then the same input streams again through
``process_block``.

Importing a stage module must stay cheap (``aural stages`` and ``aural validate`` read
every stage's name, ``Params`` and ``contract`` without running anything): stages import
torch and their DSP or model code where they first need it, in ``__init__`` or
``configure``; ``tests/cli/test_startup.py`` checks that.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Iterator, Literal

from aural.params import build_params, params_to_dict

if TYPE_CHECKING:
    import torch
    from torch import nn

    from aural.signal import Signal
    from aural.stems import Stems

BLOCK_SAMPLES = 1 << 16  # 65 536 samples: about 1.4 s at 48 kHz
MAX_ANALYSIS_PASSES = 4


@dataclass(frozen=True)
class IOContract:
    """What a stage takes and gives, checked when a pipeline is composed.

    ``sample_rate`` is the stage's native rate (``None``: any rate); ``channels`` the
    channel count it needs (``None``: any count, channels kept). ``keep_high_band``: in a
    stream faster than ``sample_rate``, the band above the stage's Nyquist bypasses it
    (scaled by the gain the stage applied to its own top octave) instead of being dropped.
    ``output_at_native_rate``: the stage creates content up to its own Nyquist (bandwidth
    extension), so on its own (``stage:<name>`` in a benchmark) its output stays at its rate.
    ``follows_stream_rate`` (with ``sample_rate`` ``None``): the stage runs at the stream's rate
    where that is below the pipeline's working rate (it neither needs nor adds a wider band:
    ``dehum`` on 16 kHz input runs at 16 kHz, not at the 48 kHz a pipeline masters at).

    Stems: ``input`` ``"stems"`` (or ``"any"``: a signal or stems) and ``output`` ``"stems"``
    with the stem names in ``stems``. A stems-output stage's ``process_block`` returns a
    ``(stems, channels, n)`` tensor (in the order of ``stems``; the last stem is the remainder:
    the stems add up to the input); a stage configured with ``stems=`` names receives
    ``(stems, channels, n)`` blocks. In a stream faster than ``sample_rate`` a stems stage
    with ``keep_high_band`` gives the band above its Nyquist to its first stem, scaled by that
    stem's gain in its top octave, and the rest to the last stem.
    """

    input: Literal["signal", "stems", "any"] = "signal"
    output: Literal["signal", "stems"] = "signal"
    stems: tuple[str, ...] = ()
    sample_rate: int | None = None
    channels: int | None = None
    keep_high_band: bool = False
    output_at_native_rate: bool = False
    follows_stream_rate: bool = False

    def describe(self) -> str:
        rate = f"{self.sample_rate} Hz" if self.sample_rate else "any rate"
        if self.follows_stream_rate and not self.sample_rate:
            rate += " (the stream's, up to the pipeline's)"
        if self.sample_rate and self.keep_high_band:
            rate += f" (higher bands go to {self.stems[0]}, scaled)" if self.output == "stems" else \
                " (higher bands bypass it)"
        channels = f"{self.channels} ch" if self.channels else "any channels"
        given = "signal or stems" if self.input == "any" else self.input
        made = f"stems ({', '.join(self.stems)})" if self.output == "stems" else self.output
        return f"{given} -> {made}, {rate}, {channels}"

    def takes(self, kind: str) -> bool:
        """Whether the stage accepts ``kind`` (``"signal"`` or ``"stems"``) as input."""
        return self.input in (kind, "any")


def final_stems(chain: Iterable[tuple[IOContract, str | None]]) -> tuple[str, ...] | None:
    """The stems a chain of ``(contract, apply_to)`` ends with: those of its last stage that is
    not ``apply_to`` one stem when that stage outputs stems, else ``None`` (it ends with a signal)."""
    stems = None
    for contract, apply_to in chain:
        if apply_to is None:
            stems = contract.stems if contract.output == "stems" else None
    return stems


@dataclass(frozen=True)
class NoParams:
    """A stage without parameters."""


class Stage(ABC):
    """Base class of every stage; subclasses set ``name``, ``Params``, ``contract``."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    contract: ClassVar[IOContract] = IOContract()
    learned: ClassVar[bool] = False
    needs_analysis: ClassVar[bool] = False

    def __init__(self, params: Any = None, **param_values: Any):
        if params is None:
            params = build_params(self.Params, param_values)
        elif param_values:
            raise TypeError("give either a Params instance or keyword values, not both")
        self.params = params
        self.sample_rate: int | None = None
        self.num_channels: int | None = None
        self.stem_names: tuple[str, ...] | None = None

    @classmethod
    def kind(cls) -> str:
        """How ``aural stages`` labels it: ``learned`` (a network aural trains) or ``DSP``; a stage
        around another project's pretrained model says ``pretrained``."""
        return "learned" if cls.learned else "DSP"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """``(True, "")``, or ``(False, one-line reason)`` when an optional package the stage
        needs is missing (the reason names the extra that installs it). Cheap and never raises:
        ``aural validate`` and ``aural stages`` ask every stage."""
        return True, ""

    @classmethod
    def unavailable_with(cls, params: Any) -> str | None:
        """``None``, or a one-line reason why these ``params`` cannot run here although the stage
        can (a param that needs an optional extra). Cheap and never raises."""
        return None

    # -- lifecycle -------------------------------------------------------------------------
    def configure(self, sample_rate: int, num_channels: int, stems: tuple[str, ...] | None = None) -> None:
        """Prepare for audio at ``sample_rate`` with ``num_channels``; resets state. ``stems``:
        the names of the stems each block carries (``(stems, channels, n)`` blocks), for a
        stage whose contract takes stems; ``None``: ``(channels, n)`` signal blocks."""
        if self.contract.sample_rate and sample_rate != self.contract.sample_rate:
            raise ValueError(f"{self.name} runs at {self.contract.sample_rate} Hz, got {sample_rate} Hz")
        if self.contract.channels and num_channels != self.contract.channels:
            raise ValueError(f"{self.name} needs {self.contract.channels} channels, got {num_channels}")
        if not self.contract.takes("stems" if stems else "signal"):
            raise ValueError(f"{self.name} takes {self.contract.input}, not {'stems' if stems else 'a signal'}")
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self.stem_names = tuple(stems) if stems else None
        self.reset()

    @classmethod
    def check_stems(cls, params: Any, stems: tuple[str, ...] | None) -> list[tuple[str, str]]:
        """Problems of ``params`` with the stems this stage receives (``None``: a signal), as
        ``(param name, message)``; the pipeline reports them at the param's line."""
        return []

    def reset(self) -> None:
        """Clear streaming state (filters, envelopes, delay lines, analysis results)."""

    @property
    def latency_samples(self) -> int:
        """How many samples the output of ``process_block`` lags its input."""
        return 0

    # -- streaming -------------------------------------------------------------------------
    @abstractmethod
    def process_block(self, audio: torch.Tensor) -> torch.Tensor:
        """Process the next ``(channels, n)`` block; returns ``(channels, n)``, never in place."""

    def flush(self) -> torch.Tensor:
        """The last ``latency_samples`` of output after the final block."""
        import torch

        shape = (len(self.stem_names),) if self.stem_names else ()
        return self.process_block(torch.zeros(*shape, self.num_channels or 1, self.latency_samples))

    def analyze_block(self, audio: torch.Tensor) -> None:
        """First pass of a ``needs_analysis`` stage: see the next input block."""

    def finish_analysis(self) -> bool:
        """End of an analysis pass; True asks for another pass over the same input."""
        return False

    def describe(self) -> dict[str, Any]:
        """What the history records about this stage."""
        return {"params": params_to_dict(self.params)}

    # -- whole signals ---------------------------------------------------------------------
    def process(self, signal: Signal | Stems) -> Signal | Stems:
        """Process a whole signal (or :class:`~aural.stems.Stems`, for a stage that takes
        them) in blocks; output is aligned with the input and as long: Stems for a stage
        whose contract outputs stems, else a Signal."""
        import torch

        from aural.stems import Stems

        stems = signal.names if isinstance(signal, Stems) else None
        if stems:
            audio = torch.stack([signal[name].audio for name in stems])
            signal = signal[stems[0]]
        else:
            audio = signal.audio
        if stems:
            self.configure(signal.sample_rate, signal.num_channels, stems=stems)
        else:  # stages that take no stems may override configure(sample_rate, num_channels)
            self.configure(signal.sample_rate, signal.num_channels)
        if self.needs_analysis:
            for _ in range(MAX_ANALYSIS_PASSES):
                for block in iter_blocks(audio):
                    self.analyze_block(block)
                if not self.finish_analysis():
                    break
        parts = [self.process_block(block) for block in iter_blocks(audio)]
        parts.append(self.flush())
        out = torch.cat(parts, dim=-1)[..., self.latency_samples:self.latency_samples + signal.num_samples]
        if self.contract.output == "stems":
            return Stems({name: signal.replace(part.contiguous()).with_history(self.name, stem=name,
                                                                             **self.describe())
                          for name, part in zip(self.contract.stems, out)})
        return signal.replace(out.contiguous()).with_history(self.name, **self.describe())


def iter_blocks(audio: torch.Tensor, block_samples: int = BLOCK_SAMPLES) -> Iterator[torch.Tensor]:
    """Consecutive ``(..., <= block_samples)`` views of ``audio`` along its last axis."""
    for start in range(0, audio.shape[-1], block_samples):
        yield audio[..., start:start + block_samples]


class LearnedStage(Stage):
    """A stage around a network: ``model_factory(config) -> nn.Module`` and its weights.

    ``model_module`` names the module whose ``build_model(config)`` makes the network, and
    ``task_module`` the one whose ``build_task(recipe)`` trains it; both load on first use.

    The built-in learned stages stream through ``self._engine`` (a
    :class:`~aural.nn.streaming.StreamingFrameProcessor`) around a frame transform
    ``self._transform`` (``None`` when it keeps no state); the streaming methods below serve
    them all, and a stage that streams otherwise overrides them.
    """

    learned = True
    model_module: ClassVar[str]
    task_module: ClassVar[str]
    _engine: Any
    _transform: Any = None
    inference_engine = "torch"  # "onnxruntime" where the stage's network runs there

    @property
    def latency_samples(self) -> int:
        return self._engine.latency_samples

    def reset(self) -> None:
        channels = self.num_channels or 1
        self._engine.reset(channels)
        if self._transform is not None:
            self._transform.reset(channels)

    def process_block(self, audio: torch.Tensor) -> torch.Tensor:
        if self.num_channels is None:
            raise RuntimeError(f"{self.name}: call configure() before process_block()")
        return self._engine.push(audio)

    def flush(self) -> torch.Tensor:
        return self._engine.finish()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.weights_info, "engine": self.inference_engine}

    def _weights_key(self) -> tuple[str, str] | None:
        """``(stage name, weights sha256)``: what lets stages of one process share an inference
        session; ``None`` for a model object."""
        sha256 = self.weights_info.get("sha256")
        return (self.name, sha256) if sha256 else None

    @classmethod
    def model_factory(cls, config: Any) -> nn.Module:
        """A new network of this stage from its ``model`` config (``{}``: the defaults)."""
        return importlib.import_module(cls.model_module).build_model(config)

    def _resolve_model(self, weights: str | None, model: Any) -> Any:
        """``model`` as given, else the network loaded from ``weights`` (checked rate), in eval mode."""
        from aural.errors import WeightsError

        if model is not None:
            self.weights_info = {"weights": "<model object>"}
            return model.eval()
        if weights is None:
            raise WeightsError(f"{self.name}: needs weights (a preset name or a file path)")
        from aural.weights import load_model

        model, config, self.weights_info = load_model(self.name, weights, self.model_factory)
        rate = config.get("sample_rate", self.contract.sample_rate)
        if rate != self.contract.sample_rate:
            raise WeightsError(f"{weights}: weights run at {rate} Hz, {self.name} at {self.contract.sample_rate} Hz")
        return model.eval()
