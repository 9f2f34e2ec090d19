"""Where speech is, streamed: a speech envelope and a pause gate for the learned enhancement stages.

:class:`SpeechPresence` turns Silero VAD's probabilities (:mod:`aural.nn.silero_vad`, one per
32 ms chunk, each channel analysed on its own and the most confident taken, so the envelope is
linked across channels) into a per-sample envelope in ``[0, 1]``: speech where the probability
reaches ``threshold`` (and until it falls ``RELEASE_MARGIN`` below it), opened ``lookahead_ms``
before speech starts and held ``hold_ms`` after it ends, both rounded up to whole chunks, with
linear ramps from one chunk's centre to the next. With ``speech_before_start`` the stream is
taken to start just after speech: a pause at its start is one like any other, held open for
``hold_ms``. It looks ahead by reading the stream further
than the samples it gives: a caller with enough latency (a network's) gets the envelope without
adding any.

:class:`PauseGate` uses it in :class:`~aural.nn.streaming.StreamingFrameProcessor`: in speech
the network's output, in pauses the input ``attenuation_db`` down. Where a denoiser's residual
on noise alone flutters from frame to frame, the pauses get the room's own steady tone.
"""

from __future__ import annotations

import torch

from aural.nn.silero_vad import CHUNK_SAMPLES, CONTEXT_SAMPLES, SAMPLE_RATE, SileroVad

RELEASE_MARGIN = 0.15  # speech continues until the probability falls this far below the threshold


class SpeechDecisions:
    """Silero VAD's speech decision for each whole 32 ms chunk of a 16 kHz stream: speech where the
    probability reaches ``threshold`` and until it falls ``RELEASE_MARGIN`` below it; each channel
    analysed on its own and the most confident taken."""

    def __init__(self, *, threshold: float = 0.5, model: SileroVad | None = None):
        self.model = model if model is not None else SileroVad.pretrained()
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self._pending: torch.Tensor | None = None          # (channels, context + the unfinished chunk)
        self._state = None
        self._speaking = False

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        """The next ``(channels, n)`` samples -> the decisions (bool) of the chunks they complete."""
        audio = torch.atleast_2d(audio).to(torch.float32)
        if self._pending is None:
            self._pending = torch.zeros(audio.shape[0], CONTEXT_SAMPLES)
        pending = torch.cat([self._pending, audio], dim=1)
        count = (pending.shape[1] - CONTEXT_SAMPLES) // CHUNK_SAMPLES
        if count == 0:
            self._pending = pending
            return torch.zeros(0, dtype=torch.bool)
        chunks = pending.unfold(1, CHUNK_SAMPLES + CONTEXT_SAMPLES, CHUNK_SAMPLES)[:, :count]
        self._pending = pending[:, count * CHUNK_SAMPLES:].clone()
        with torch.no_grad():  # the LSTM state carries on: with a graph, every chunk's would stay in memory
            probabilities, self._state = self.model(chunks, self._state)
        decisions = torch.empty(count, dtype=torch.bool)
        for index, probability in enumerate(probabilities.amax(dim=0).tolist()):
            self._speaking = probability >= self.threshold - (RELEASE_MARGIN if self._speaking else 0.0)
            decisions[index] = self._speaking
        return decisions


class SpeechShare:
    """How much of a 16 kHz stream is speech: the share of its 32 ms chunks Silero VAD calls speech
    (:class:`SpeechDecisions`), in constant memory."""

    def __init__(self, *, threshold: float = 0.5, model: SileroVad | None = None):
        self._decisions = SpeechDecisions(threshold=threshold, model=model)
        self.reset()

    def reset(self) -> None:
        self._decisions.reset()
        self.chunks = 0
        self.speech_chunks = 0

    def push(self, audio: torch.Tensor) -> None:
        decisions = self._decisions.push(audio)
        self.chunks += decisions.numel()
        self.speech_chunks += int(decisions.sum())

    @property
    def share(self) -> float | None:
        """Speech chunks over chunks seen; None before the first whole chunk."""
        return self.speech_chunks / self.chunks if self.chunks else None


class SpeechPresence:
    """Streaming speech envelope of a 16 kHz stream: ``push`` audio, ``take`` envelope behind it.

    ``take(n)`` gives the envelope of the next ``n`` samples not yet taken; it needs the stream
    pushed ``lookahead_samples`` beyond them (:attr:`lookahead_samples` says how far).
    """

    def __init__(self, *, sample_rate: int = SAMPLE_RATE, threshold: float = 0.5, lookahead_ms: float = 96.0,
                 hold_ms: float = 320.0, speech_before_start: bool = False, model: SileroVad | None = None):
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"speech presence runs at {SAMPLE_RATE} Hz, not {sample_rate} Hz")
        self._decisions = SpeechDecisions(threshold=threshold, model=model)
        chunk_ms = 1000 * CHUNK_SAMPLES / SAMPLE_RATE
        self.lookahead_chunks = int(-(-lookahead_ms // chunk_ms))
        self.hold_chunks = int(-(-hold_ms // chunk_ms))
        self.speech_before_start = speech_before_start
        self.reset()

    @property
    def lookahead_samples(self) -> int:
        """How far past the samples taken the stream must have been pushed."""
        return (self.lookahead_chunks + 2) * CHUNK_SAMPLES

    def reset(self) -> None:
        self._decisions.reset()
        self._speech = torch.zeros(0, dtype=torch.bool)   # decisions from chunk self._first on
        self._first = 0
        self._taken = 0
        self._pushed = 0
        self._ending = False

    def end(self) -> None:
        """The stream has ended (what follows was padding): ``take`` may now read past it."""
        self._ending = True

    def push(self, audio: torch.Tensor) -> None:
        """The next ``(channels, n)`` or ``(n,)`` samples; the channels keep their count."""
        audio = torch.atleast_2d(audio)
        self._pushed += audio.shape[1]
        self._speech = torch.cat([self._speech, self._decisions.push(audio)])

    @property
    def ready_samples(self) -> int:
        """How many samples ``take`` can give now."""
        return self._pushed - self._taken - (0 if self._ending else self.lookahead_samples)

    def take(self, n: int) -> torch.Tensor:
        """The envelope of the next ``n`` samples, ``(n,)`` in ``[0, 1]``."""
        if n < 0:
            raise ValueError(f"speech presence: cannot take {n} samples")
        if n == 0:
            return torch.zeros(0)
        start, stop = self._taken, self._taken + n
        if n > self.ready_samples:
            raise RuntimeError(f"speech presence: samples to {stop} taken with only {self._pushed} pushed "
                               f"(it reads {self.lookahead_samples} ahead)")
        self._taken = stop
        # chunk k's openness sits at its centre; samples between centres are interpolated
        first_chunk = (start - CHUNK_SAMPLES // 2) // CHUNK_SAMPLES
        last_chunk = (stop - 1 - CHUNK_SAMPLES // 2) // CHUNK_SAMPLES + 1
        openness = self._openness(first_chunk, last_chunk + 1)
        position = (torch.arange(start, stop) - CHUNK_SAMPLES // 2 - first_chunk * CHUNK_SAMPLES) / CHUNK_SAMPLES
        index = position.floor().long()
        fraction = position - index
        envelope = openness[index] + fraction * (openness[index + 1] - openness[index])
        self._forget(first_chunk)
        return envelope

    def _openness(self, first: int, stop: int) -> torch.Tensor:
        """Chunks ``first..stop-1``: 1.0 where speech lies within ``hold`` before or ``lookahead``
        after them (chunks not yet analysed hold none; those before the stream hold speech with
        ``speech_before_start``, else none)."""
        chunks = torch.arange(first - self.hold_chunks, stop + self.lookahead_chunks)
        index = chunks - self._first
        known = (index >= 0) & (index < self._speech.shape[0])
        speech = torch.zeros(index.shape, dtype=torch.float32)
        speech[known] = self._speech[index[known]].float()
        if self.speech_before_start:
            speech[chunks < 0] = 1.0
        return speech.unfold(0, self.hold_chunks + self.lookahead_chunks + 1, 1).amax(dim=1)

    def _forget(self, first_needed: int) -> None:
        """Drop decisions no later ``take`` reads (it starts at chunk ``first_needed`` or later)."""
        drop = first_needed - self.hold_chunks - self._first
        if drop > 0:
            self._speech, self._first = self._speech[drop:], self._first + drop


class PauseGate:
    """In speech the processed signal, in pauses the input ``attenuation_db`` down; ramps between.

    ``analyse`` sees the input as it arrives; ``apply`` gets processed samples with their dry
    input (both behind it) and gates those the envelope reaches, holding the newest back until
    the input has run ``lookahead_samples`` past them (or ``end`` says it has ended).
    """

    def __init__(self, attenuation_db: float, *, sample_rate: int = SAMPLE_RATE,
                 presence: SpeechPresence | None = None):
        self.presence = presence if presence is not None else SpeechPresence(sample_rate=sample_rate)
        self.attenuation_db = float(attenuation_db)
        self.reset()

    @property
    def lookahead_samples(self) -> int:
        return self.presence.lookahead_samples

    def reset(self) -> None:
        self.presence.reset()
        self._held: tuple[torch.Tensor, torch.Tensor] | None = None

    def analyse(self, audio: torch.Tensor) -> None:
        self.presence.push(audio)

    def end(self) -> None:
        self.presence.end()

    def apply(self, dry: torch.Tensor, processed: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
        """``processed`` in speech, ``dry`` lowered by ``strength * attenuation_db`` in pauses.

        Gates the samples held from earlier calls and then the given ones, as far as the
        envelope reaches now; returns those, ``(channels, m)``, and holds the rest."""
        if self._held is not None:
            dry, processed = (torch.cat(pair, dim=-1) for pair in zip(self._held, (dry, processed)))
        ready = max(0, min(self.presence.ready_samples, dry.shape[-1]))
        self._held = dry[..., ready:], processed[..., ready:]
        dry, processed = dry[..., :ready], processed[..., :ready]
        envelope = self.presence.take(ready)
        pause = dry * 10 ** (-strength * self.attenuation_db / 20)
        return pause + envelope * (processed - pause)
