"""Frame transform of ``freq_expansion``: STFT, causal cutoff tracking, chunked expansion."""

from __future__ import annotations

from aural.nn.spectral import hann_window
from aural.nn.streaming import ChunkedSpectralProcessor
from aural.stages.freq_expansion.model import BandwidthExtender

MAX_BATCH_CHUNKS = 16


def chunked_expansion(model: BandwidthExtender) -> ChunkedSpectralProcessor:
    """The frame transform for :class:`~aural.nn.streaming.StreamingFrameProcessor`: every frame's
    cutoff tracked as it arrives (channels linked), chunks expanded with their cutoffs."""
    config = model.config
    return ChunkedSpectralProcessor(lambda spec, cutoff: model.expand(spec, cutoff)[0], n_fft=config.n_fft,
                                    window=hann_window(config.n_fft), chunk_frames=config.chunk_frames,
                                    context_frames=config.context_frames, max_batch=MAX_BATCH_CHUNKS,
                                    track=model.cutoff_tracker())
