"""Frame-wise streaming with overlap-add, in bounded memory.

:class:`StreamingFrameProcessor` cuts a ``(channels, samples)`` stream into frames of
``frame_length`` every ``hop_length`` samples, hands them to a transform, multiplies what
comes back by a synthesis window and overlap-adds it, dividing every sample by the summed
window product (``analysis * synthesis`` over the frames covering it; the transform applies
the analysis window itself, as an STFT does: frames are handed over unwindowed). The stream is
thought of as preceded by ``frame_length - hop_length`` zeros, so every real sample is
covered by the same number of frames and the normalisation is exact from the first sample.

A transform may hold frames back (to see right context) and return them later, in order;
``max_held_frames`` bounds that and sets the latency. Output is mixed with the aligned dry
input by ``strength`` (0: the input exactly, without running the transform). A ``pause_gate``
(:class:`~aural.nn.speech_presence.PauseGate`) then keeps that mix where there is speech and
puts the lowered input in the pauses; it looks ahead within the latency the processor has.

With ``lead_in_samples``, the stream is instead thought of as preceded by its own first
samples mirrored (and :meth:`StreamingFrameProcessor.finish` continues it by its last ones
mirrored rather than by zeros): a network with context then sees the file's edges as it sees
its middle, so the first and last milliseconds are processed like the rest. The first frames
wait until that many samples have arrived, within the latency the processor already has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol

import torch

from aural.nn.spectral import overlap_add

if TYPE_CHECKING:
    from aural.nn.speech_presence import PauseGate

FrameTransform = Callable[[torch.Tensor], torch.Tensor]


class DelayLine:
    """``(channels, n)`` blocks in, the same samples ``delay_samples`` later out (zeros first);
    :attr:`held` is what is still inside (the last ``delay_samples`` pushed)."""

    def __init__(self, num_channels: int, delay_samples: int):
        self.held = torch.zeros(num_channels, delay_samples)

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        joined = torch.cat([self.held, audio], dim=1)
        out, self.held = joined[:, :audio.shape[1]], joined[:, audio.shape[1]:]
        return out


class FrameCutter:
    """A stream cut into frames of ``frame_length`` samples every ``hop_length``: ``cut`` returns
    the ``(channels, frames, frame_length)`` frames the samples so far complete and holds back
    what the next frame still needs."""

    def __init__(self, frame_length: int, hop_length: int):
        self.frame_length = frame_length
        self.hop_length = hop_length
        self.reset(0)

    def reset(self, num_channels: int, pre_roll: int = 0) -> None:
        """A new stream, thought of as starting after ``pre_roll`` zeros."""
        self._pending = torch.zeros(num_channels, pre_roll)

    def cut(self, audio: torch.Tensor) -> torch.Tensor:
        pending = torch.cat([self._pending, audio], dim=1) if self._pending.shape[0] else audio
        if pending.shape[1] < self.frame_length:
            self._pending = pending
            return pending.new_zeros(pending.shape[0], 0, self.frame_length)
        num_frames = (pending.shape[1] - self.frame_length) // self.hop_length + 1
        frames = pending.unfold(1, self.frame_length, self.hop_length)[:, :num_frames]
        self._pending = pending[:, num_frames * self.hop_length:].clone()
        return frames.contiguous()


class StreamingFrameProcessor:
    """Stream audio through a frame transform; ``push`` returns as many samples as given."""

    def __init__(self, transform: FrameTransform, *, frame_length: int, hop_length: int,
                 synthesis_window: torch.Tensor, analysis_window: torch.Tensor | None = None,
                 max_held_frames: int = 0, strength: float = 1.0, lead_in_samples: int = 0,
                 pause_gate: PauseGate | None = None):
        if frame_length % hop_length:
            raise ValueError("frame_length must be a multiple of hop_length")
        self.transform = transform
        self.frame_length = frame_length
        self.hop_length = hop_length
        self._frames = FrameCutter(frame_length, hop_length)
        self.max_held_frames = max_held_frames
        self.strength = float(strength)
        self.lead_in_samples = int(lead_in_samples)
        if self.lead_in_samples >= self.latency_samples:
            raise ValueError("lead_in_samples must be shorter than the latency")
        self.pause_gate = pause_gate
        if pause_gate is not None and pause_gate.lookahead_samples > self.latency_samples - hop_length:
            raise ValueError(f"the pause gate reads {pause_gate.lookahead_samples} samples ahead, further ahead than "
                             f"the latency allows ({self.latency_samples - hop_length}): hold more frames "
                             f"or shorten the gate's lookahead")
        self.synthesis_window = synthesis_window.to(torch.float32)
        analysis = torch.ones(frame_length) if analysis_window is None else analysis_window.to(torch.float32)
        product = (analysis * self.synthesis_window).reshape(-1, hop_length)
        self._norm = product.sum(dim=0)  # the summed window, period hop_length
        if bool((self._norm <= 1e-6).any()):
            raise ValueError("the windows do not overlap-add to a usable (non-zero) sum")
        self.num_channels = 0

    @property
    def pre_roll(self) -> int:
        """Zeros thought of before the stream: ``frame_length - hop_length``."""
        return self.frame_length - self.hop_length

    @property
    def latency_samples(self) -> int:
        return self.pre_roll + self.hop_length - 1 + self.max_held_frames * self.hop_length

    def reset(self, num_channels: int) -> None:
        self.num_channels = num_channels
        self._frames.reset(num_channels, self.pre_roll)           # framed from its start
        self._tail = torch.zeros(num_channels, self.pre_roll)     # unfinished overlap-add
        self._frames_out = 0                                      # frames overlap-added so far
        self._drop = self.pre_roll                                # finished pre-roll samples to drop
        self._dry = torch.zeros(num_channels, 0)
        self._out = torch.zeros(num_channels, self.latency_samples)
        # input held back until the lead-in can be mirrored from it (None: no lead-in, or sent)
        self._waiting = torch.zeros(num_channels, 0) if self.lead_in_samples else None
        self._recent = torch.zeros(num_channels, 0)   # the last input samples, mirrored by finish()
        self._ending = False
        if self.pause_gate is not None:
            self.pause_gate.reset()

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        """Next ``(channels, n)`` input -> ``(channels, n)`` output delayed by ``latency_samples``."""
        return self._push(audio, ending=False)

    def _push(self, audio: torch.Tensor, *, ending: bool) -> torch.Tensor:
        n = audio.shape[1]
        audio = audio.to(torch.float32)
        if self.lead_in_samples:
            self._recent = torch.cat([self._recent, audio], dim=1)[:, -(self.latency_samples + 1):]
        if self.strength == 0.0:
            self._out = torch.cat([self._out, audio], dim=1)
        else:
            self._dry = torch.cat([self._dry, audio], dim=1)
            if self.pause_gate is not None:
                self.pause_gate.analyse(audio)
                if ending:  # the gate reads the tail as it reads the stream; output past the end is unused
                    self.pause_gate.end()
            wet = self._overlap_add(self.transform(self._frames.cut(self._after_lead_in(audio))))
            dry, self._dry = self._dry[:, :wet.shape[1]], self._dry[:, wet.shape[1]:]
            mixed = wet if self.strength == 1.0 else dry + self.strength * (wet - dry)
            if self.pause_gate is not None:
                mixed = self.pause_gate.apply(dry, mixed, self.strength)
            self._out = torch.cat([self._out, mixed], dim=1)
        out, self._out = self._out[:, :n], self._out[:, n:]
        return out

    def finish(self) -> torch.Tensor:
        """The last ``latency_samples`` of output, the stream continued by its end mirrored
        (with ``lead_in_samples``) or by zeros."""
        tail = torch.zeros(self.num_channels, self.latency_samples)
        if self.lead_in_samples:
            self._ending = True
            mirrored = self._recent[:, :-1].flip(1)[:, :self.latency_samples]
            tail[:, :mirrored.shape[1]] = mirrored
        return self._push(tail, ending=True)

    # -- internals ---------------------------------------------------------------------------
    def _after_lead_in(self, audio: torch.Tensor) -> torch.Tensor:
        """``audio``, preceded by the mirrored lead-in once enough of the stream has arrived."""
        if self._waiting is None:
            return audio
        waiting = torch.cat([self._waiting, audio], dim=1)
        if waiting.shape[1] <= self.lead_in_samples and not self._ending:
            self._waiting = waiting
            return audio[:, :0]
        self._waiting = None
        lead_in = torch.zeros(self.num_channels, self.lead_in_samples)
        mirrored = waiting[:, 1:self.lead_in_samples + 1].flip(1)
        lead_in[:, self.lead_in_samples - mirrored.shape[1]:] = mirrored
        self._drop += self.lead_in_samples
        return torch.cat([lead_in, waiting], dim=1)

    def _overlap_add(self, frames: torch.Tensor) -> torch.Tensor:
        num_frames = frames.shape[1]
        if num_frames == 0:
            return frames.new_zeros(self.num_channels, 0)
        summed = overlap_add(frames * self.synthesis_window, self.hop_length)
        summed[:, :self.pre_roll] += self._tail
        done = num_frames * self.hop_length
        finished, self._tail = summed[:, :done], summed[:, done:].clone()
        start = self._frames_out * self.hop_length
        self._frames_out += num_frames
        phase = (torch.arange(start, start + done) % self.hop_length)
        finished = finished / self._norm[phase]
        if self._drop:
            drop = min(self._drop, finished.shape[1])
            finished, self._drop = finished[:, drop:], self._drop - drop
        return finished


SpectralTransform = Callable[..., torch.Tensor]


class FrameTrack(Protocol):
    """Per-frame side information computed causally as frames arrive (e.g. a cutoff)."""

    pad_value: int

    def reset(self) -> None: ...

    def __call__(self, power: torch.Tensor) -> torch.Tensor:
        """``(channels, frames, bins)`` power -> ``(frames,)`` integer values."""


class ChunkedSpectralProcessor:
    """Frame transform for :class:`StreamingFrameProcessor` around a spectral network.

    Frames are analysed (``window``, rfft) as they arrive and queued; a network that maps
    complex ``(batch, frames, bins)`` windows to spectra of the same shape runs on chunks of
    ``chunk_frames`` with ``context_frames`` of real context each side (zeros before the
    start; :func:`spectral_stream` gives them the mirrored start instead), batched at most
    ``max_batch`` windows at a time; the chunk centres are inverse transformed. The output does
    not depend on how the input is split into blocks. With a ``track``, every frame also gets a
    causal side value (channels linked; ``pad_value`` before the start), queued alongside, and
    the network is called as ``transform(windows, values)``. The first ``lead_in_frames`` frames
    (made-up context before the stream, such as a mirrored start) get ``pad_value`` without the
    track seeing them: a mirror's kink at the first sample would read as an onset.
    """

    def __init__(self, transform: SpectralTransform, *, n_fft: int, window: torch.Tensor, chunk_frames: int,
                 context_frames: int, max_batch: int = 16, track: FrameTrack | None = None,
                 lead_in_frames: int = 0):
        from aural.nn.spectral import stft_frames

        self._analyse = stft_frames
        self.transform = transform
        self.n_fft = n_fft
        self.window = window
        self.chunk = chunk_frames
        self.context = context_frames
        self.max_batch = max_batch
        self.track = track
        self.lead_in_frames = lead_in_frames

    @property
    def max_held_frames(self) -> int:
        return self.chunk + self.context - 1

    def reset(self, num_channels: int) -> None:
        bins = self.n_fft // 2 + 1
        self._history = torch.zeros(num_channels, self.context, bins, dtype=torch.complex64)
        self._queue = torch.zeros(num_channels, 0, bins, dtype=torch.complex64)
        if self.track is not None:
            self.track.reset()
            self._history_track = torch.full((self.context,), self.track.pad_value, dtype=torch.long)
            self._queue_track = torch.zeros(0, dtype=torch.long)
            self._unseen = self.lead_in_frames  # lead-in frames still to come

    @torch.inference_mode()
    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        spec = self._analyse(frames, self.window)
        self._queue = torch.cat([self._queue, spec], dim=1)
        if self.track is not None and spec.shape[1]:
            skipped = min(self._unseen, spec.shape[1])
            self._unseen -= skipped
            seen = spec[:, skipped:]
            values = [torch.full((skipped,), self.track.pad_value, dtype=torch.long)]
            if seen.shape[1]:
                values.append(self.track(seen.real.pow(2) + seen.imag.pow(2)))
            self._queue_track = torch.cat([self._queue_track, *values])
        channels, queued, bins = self._queue.shape
        num_chunks = max(0, (queued - self.context) // self.chunk)
        if num_chunks == 0:
            return frames.new_zeros(channels, 0, self.n_fft)
        full = torch.cat([self._history, self._queue], dim=1)
        span = self.chunk + 2 * self.context
        windows = full.unfold(1, span, self.chunk)[:, :num_chunks]          # (C, N, bins, span)
        windows = windows.permute(0, 1, 3, 2).reshape(channels * num_chunks, span, bins)
        done = num_chunks * self.chunk
        if self.track is None:
            out = torch.cat([self.transform(part) for part in windows.split(self.max_batch)])
        else:
            full_track = torch.cat([self._history_track, self._queue_track])
            values = full_track.unfold(0, span, self.chunk)[:num_chunks].repeat(channels, 1)
            out = torch.cat([self.transform(part, value) for part, value in
                             zip(windows.split(self.max_batch), values.split(self.max_batch))])
            self._history_track = full_track[done:done + self.context].clone()
            self._queue_track = self._queue_track[done:].clone()
        centre = slice(self.context, self.context + self.chunk)
        out = out[:, centre].reshape(channels, num_chunks * self.chunk, bins)
        self._history = full[:, done:done + self.context].clone()
        self._queue = self._queue[:, done:].clone()
        return torch.fft.irfft(out, n=self.n_fft, dim=-1)


def spectral_stream(transform: SpectralTransform, config: Any, *, strength: float, max_batch: int = 16,
                    track: FrameTrack | None = None, pause_gate: PauseGate | None = None
                    ) -> tuple[ChunkedSpectralProcessor, StreamingFrameProcessor]:
    """A spectral network's streaming pair: its :class:`ChunkedSpectralProcessor` inside a
    :class:`StreamingFrameProcessor`, both on periodic Hann windows. ``config`` gives
    ``n_fft``, ``hop_length``, ``chunk_frames`` and ``context_frames``."""
    from aural.nn.spectral import hann_window

    window = hann_window(config.n_fft)
    lead_in_samples = spectral_lead_in_samples(config)
    chunked = ChunkedSpectralProcessor(transform, n_fft=config.n_fft, window=window, chunk_frames=config.chunk_frames,
                                       context_frames=config.context_frames, max_batch=max_batch, track=track,
                                       lead_in_frames=-(-lead_in_samples // config.hop_length))
    engine = StreamingFrameProcessor(chunked, frame_length=config.n_fft, hop_length=config.hop_length,
                                     synthesis_window=window, analysis_window=window,
                                     max_held_frames=chunked.max_held_frames, strength=strength,
                                     pause_gate=pause_gate, lead_in_samples=lead_in_samples)
    return chunked, engine


def chunk_window_frames(config: Any) -> int:
    """Frames in each window :class:`ChunkedSpectralProcessor` hands its network: a chunk and
    its context on both sides."""
    return config.chunk_frames + 2 * config.context_frames


def spectral_lead_in_samples(config: Any) -> int:
    """How much mirrored start :func:`spectral_stream` puts before a stream: its first chunk's
    context, and the first window's reach back before the first sample."""
    return config.n_fft - config.hop_length + config.context_frames * config.hop_length
