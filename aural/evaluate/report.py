"""``report.html``: one self-contained page that opens offline.

It holds the summary table, a level-matched view of the level-dependent metrics, and per
file (up to ``max_files``, worst first) the file's scores, log-magnitude spectrograms
(inline PNG), a waveform overview (inline SVG) and audio players. Nothing is fetched from
anywhere: images and audio are data URIs, styling is inline. The PNG encoder and colour map
are here (numpy + zlib), so the report needs no plotting library.

Media are excerpts: the first ``seconds`` of each signal. Audio is embedded as mono MP3
(VBR, about 60 kbps for speech) at each file's own rate, so a 48 kHz output is heard at
48 kHz; ``audio_sample_rate`` resamples every player to one rate instead. Where MP3 cannot be
written, FLAC is used. Spectrograms are drawn at each signal's own rate, on a frequency axis
shared per file and fitted to the content (the widest effective bandwidth among the
signals, see :func:`aural.metrics.recording.bandwidth_hz`), and a shared dB scale, so a
missing high band shows as a dark top. A 10-file report of three 10 s signals each is
about 4 MB.
"""

from __future__ import annotations

import base64
import html
import io
import math
import struct
import zlib
from typing import Any, Mapping, Sequence

import numpy as np

from aural.dsp.resample import resample
from aural.evaluate.rows import PREFIXES, Row, ranking_column, worst_first
from aural.evaluate.summary import (direction, format_delta, format_value, metric_of, negligible,
                                   summary_table)
from aural.metrics.dnsmos import NORM_LEVEL_DBFS
from aural.signal import Signal

SPECTROGRAM_WIDTH = 800
SPECTROGRAM_HEIGHT = 160
DYNAMIC_RANGE_DB = 80.0
NUM_COLOUR_LEVELS = 64     # spectrogram colours: fewer levels compress far better, look the same
MP3_COMPRESSION_LEVEL = 0.6  # libsndfile's 0 (best quality) .. 1 (smallest); VBR, ~60 kbps for speech
WAVEFORM_WIDTH = 800
WAVEFORM_LANE = 56
ROLE_COLOURS = {"input": "#d9480f", "degraded": "#d9480f", "output": "#1971c2",
                "reference": "#2b8a3e", "estimate": "#1971c2", "recording": "#d9480f"}
# magma, sampled at 9 points (matplotlib's perceptually uniform colour map)
_MAGMA = np.array([
    (0, 0, 4), (28, 16, 68), (79, 18, 123), (129, 37, 129), (181, 54, 122),
    (229, 80, 100), (251, 135, 97), (254, 194, 135), (252, 253, 191)], dtype=np.float64)


# -- PNG ----------------------------------------------------------------------------------
def colour_map(num_colours: int = 256) -> np.ndarray:
    """``(num_colours, 3)`` uint8 RGB, dark to bright (magma)."""
    anchors = np.linspace(0.0, 1.0, len(_MAGMA))
    x = np.linspace(0.0, 1.0, num_colours)
    return np.stack([np.interp(x, anchors, _MAGMA[:, c]) for c in range(3)], axis=1).round().astype(np.uint8)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_indexed(indices: np.ndarray, palette: np.ndarray) -> bytes:
    """An 8-bit palette PNG of ``(height, width)`` uint8 ``indices`` into ``palette`` (N, 3)."""
    height, width = indices.shape
    rows = np.ascontiguousarray(indices, dtype=np.uint8)
    # filter type 1 (Sub) on every row: smooth images compress far better
    filtered = np.empty((height, width + 1), dtype=np.uint8)
    filtered[:, 0] = 1
    filtered[:, 1] = rows[:, 0]
    filtered[:, 2:] = rows[:, 1:] - rows[:, :-1]  # uint8 wraps modulo 256, as PNG wants
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"PLTE", np.ascontiguousarray(palette, dtype=np.uint8).tobytes())
            + _chunk(b"IDAT", zlib.compress(filtered.tobytes(), 9)) + _chunk(b"IEND", b""))


def data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


# -- spectrograms ---------------------------------------------------------------------------
def _mono(signal: Signal) -> np.ndarray:
    return signal.audio.double().mean(dim=0).numpy()


def spectrogram_db(audio: np.ndarray, sample_rate: int, max_frequency_hz: float,
                   num_columns: int = SPECTROGRAM_WIDTH, num_rows: int = SPECTROGRAM_HEIGHT
                   ) -> np.ndarray:
    """``(num_rows, num_columns)`` power in dB, top row = ``max_frequency_hz``, linear axis.

    Each pixel is the loudest STFT bin of its frequency band (so narrow lines survive);
    rows above the signal's Nyquist frequency are -inf. ``n_fft`` is about 32 ms.
    """
    n_fft = int(2 ** round(np.log2(sample_rate * 0.032)))
    hop_length = max(n_fft // 8, int(np.ceil(max(audio.size - n_fft, 1) / num_columns)))
    padded = np.pad(audio, (n_fft // 2, n_fft // 2))
    num_frames = 1 + max(padded.size - n_fft, 0) // hop_length
    index = np.arange(num_frames)[:, None] * hop_length + np.arange(n_fft)[None, :]
    window = np.hanning(n_fft + 1)[:-1]
    frames = padded[np.minimum(index, padded.size - 1)] * window
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2 / np.sum(window ** 2)   # (frames, bins)
    columns = np.minimum((np.arange(num_columns) * num_frames) // num_columns, num_frames - 1)
    power = power[columns]                                                    # (columns, bins)
    bin_hz = sample_rate / n_fft
    edges = np.linspace(0.0, max_frequency_hz, num_rows + 1)
    image = np.full((num_rows, num_columns), -np.inf)
    for row in range(num_rows):
        low, high = edges[row], edges[row + 1]
        if low >= sample_rate / 2:
            break
        first = int(np.floor(low / bin_hz))
        last = max(first + 1, int(np.ceil(min(high, sample_rate / 2) / bin_hz)))
        band = power[:, first:min(last, power.shape[1])]
        image[num_rows - 1 - row] = 10.0 * np.log10(band.max(axis=1) + 1e-20)
    return image


def content_bandwidth_hz(signal: Signal) -> float:
    """Effective bandwidth of ``signal`` (its Nyquist frequency when it is silent)."""
    from aural.metrics import MetricError
    from aural.metrics.recording import bandwidth_hz

    try:
        return bandwidth_hz(None, _mono(signal), signal.sample_rate)
    except MetricError:
        return signal.sample_rate / 2


def axis_top_hz(bandwidths_hz: Sequence[float], nyquist_hz: float) -> float:
    """The top of a frequency axis that shows every signal's content: the widest bandwidth
    plus 10 %, rounded up to a whole kHz, at most ``nyquist_hz``."""
    return float(min(nyquist_hz, 1000.0 * math.ceil(1.1 * max(bandwidths_hz) / 1000.0)))


def spectrogram_pngs(signals: Mapping[str, Signal]) -> tuple[dict[str, bytes], float, float]:
    """PNGs of ``signals`` on one frequency axis fitted to their content and one dB scale;
    (pngs, max Hz, top dB)."""
    nyquist_hz = max(s.sample_rate for s in signals.values()) / 2
    max_frequency_hz = axis_top_hz([content_bandwidth_hz(s) for s in signals.values()], nyquist_hz)
    images = {label: spectrogram_db(_mono(s), s.sample_rate, max_frequency_hz)
              for label, s in signals.items()}
    finite = [im[np.isfinite(im)].max() for im in images.values() if np.isfinite(im).any()]
    top_db = float(max(finite)) if finite else 0.0
    palette = colour_map(NUM_COLOUR_LEVELS)
    pngs = {}
    for label, image in images.items():
        scaled = (np.nan_to_num(image, neginf=-1e9) - (top_db - DYNAMIC_RANGE_DB)) / DYNAMIC_RANGE_DB
        levels = np.round(np.clip(scaled, 0.0, 1.0) * (NUM_COLOUR_LEVELS - 1)).astype(np.uint8)
        pngs[label] = png_indexed(levels, palette)
    return pngs, max_frequency_hz, top_db


# -- waveform -------------------------------------------------------------------------------
def waveform_svg(signals: Mapping[str, Signal], duration_s: float) -> str:
    """Stacked min/max envelopes, one lane per signal, on a shared time axis."""
    width, lane = WAVEFORM_WIDTH, WAVEFORM_LANE
    parts = [f'<svg class="wave" viewBox="0 0 {width} {lane * len(signals) + 18}" '
             f'preserveAspectRatio="none" role="img" aria-label="waveform overview" '
             f'xmlns="http://www.w3.org/2000/svg">']
    for i, (label, signal) in enumerate(signals.items()):
        audio = _mono(signal)
        top, middle = i * lane, i * lane + lane / 2
        parts.append(f'<rect x="0" y="{top}" width="{width}" height="{lane}" '
                     f'fill="{"#f8f9fa" if i % 2 == 0 else "#f1f3f5"}"/>')
        columns = max(1, int(round(width * min(signal.duration_s / max(duration_s, 1e-9), 1.0))))
        if audio.size:
            edges = np.linspace(0, audio.size, columns + 1).astype(int)
            edges[1:] = np.maximum(edges[1:], edges[:-1] + 1)
            edges = np.minimum(edges, audio.size)
            starts = np.minimum(edges[:-1], audio.size - 1)
            high = np.maximum.reduceat(audio, starts)
            low = np.minimum.reduceat(audio, starts)
            scale = lane / 2 * 0.9
            xs = np.arange(columns) * (width * min(signal.duration_s / max(duration_s, 1e-9), 1.0) / columns)
            upper = " ".join(f"{x:.1f},{middle - min(h, 1.0) * scale:.1f}" for x, h in zip(xs, high))
            lower = " ".join(f"{x:.1f},{middle - max(lo, -1.0) * scale:.1f}"
                             for x, lo in zip(xs[::-1], low[::-1]))
            parts.append(f'<polygon points="{upper} {lower}" fill="{ROLE_COLOURS.get(label, "#495057")}" '
                         f'fill-opacity="0.85"/>')
        parts.append(f'<line x1="0" x2="{width}" y1="{middle}" y2="{middle}" stroke="#adb5bd" '
                     f'stroke-width="0.5"/>')
        parts.append(f'<text x="6" y="{top + 13}" font-size="11" fill="#343a40">{html.escape(label)}</text>')
    ruler_top = lane * len(signals)
    step = _tick_step(duration_s)
    ticks = np.arange(0.0, duration_s + 1e-9, step)
    for tick in ticks:
        x = width * tick / max(duration_s, 1e-9)
        anchor = "start" if tick == 0 else ("end" if x > width - 20 else "middle")
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{ruler_top}" y2="{ruler_top + 4}" '
                     f'stroke="#868e96" stroke-width="1"/>'
                     f'<text x="{x:.1f}" y="{ruler_top + 15}" font-size="10" fill="#868e96" '
                     f'text-anchor="{anchor}">{tick:g} s</text>')
    parts.append("</svg>")
    return "".join(parts)


def _tick_step(duration_s: float, max_ticks: int = 10) -> float:
    for step in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0):
        if duration_s / step <= max_ticks:
            return step
    return duration_s / max_ticks


# -- audio --------------------------------------------------------------------------------
def audio_bytes(signal: Signal, seconds: float, sample_rate: int | None = None) -> tuple[str, bytes]:
    """``(mime type, file bytes)``: the first ``seconds`` of ``signal`` as mono MP3 at its own
    rate (or ``sample_rate``); FLAC where MP3 cannot be written (a rate MP3 lacks)."""
    import soundfile

    audio = signal.audio[:, :int(round(seconds * signal.sample_rate))].mean(dim=0, keepdim=True)
    rate = sample_rate or signal.sample_rate
    if rate != signal.sample_rate:
        audio = resample(audio, signal.sample_rate, rate)
    samples = np.clip(audio[0].numpy(), -1.0, 1.0)
    encodings = (("audio/mpeg", dict(format="MP3", subtype="MPEG_LAYER_III", bitrate_mode="VARIABLE",
                                     compression_level=MP3_COMPRESSION_LEVEL)),
                 ("audio/flac", dict(format="FLAC", subtype="PCM_16")))
    for mime, options in encodings:
        buffer = io.BytesIO()
        try:
            soundfile.write(buffer, samples, rate, **options)
        except (soundfile.LibsndfileError, ValueError, TypeError, RuntimeError):
            continue
        return mime, buffer.getvalue()
    raise ValueError(f"cannot encode audio at {rate} Hz for the report")


# -- page ---------------------------------------------------------------------------------
CSS = """
:root { --ink:#212529; --muted:#6c757d; --line:#dee2e6; --bg:#ffffff; --panel:#f8f9fa;
        --good:#2b8a3e; --bad:#c92a2a; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #f1f3f5; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; background: var(--bg); }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 8px; }
h3 { font-size: 16px; margin: 0 0 8px; font-family: ui-monospace, Menlo, Consolas, monospace; }
p.lead { color: var(--muted); margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: right;
         font-variant-numeric: tabular-nums; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: var(--panel); font-weight: 600; font-size: 13px; }
td.good { color: var(--good); font-weight: 600; } td.bad { color: var(--bad); font-weight: 600; }
td.na { color: var(--muted); }
section.file { border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px; margin: 20px 0;
               background: var(--bg); }
.grid { display: grid; grid-template-columns: minmax(300px, max-content) 1fr; gap: 18px; }
.grid > div { min-width: 0; }
.grid .notes, .grid details { max-width: 380px; white-space: normal; }
.players { display: flex; flex-direction: column; gap: 6px; }
.player { display: flex; align-items: center; gap: 8px; }
.player span { width: 80px; font-weight: 600; font-size: 13px; }
audio { height: 32px; width: 100%; }
figure.spec { margin: 8px 0; }
.spec .row { display: flex; align-items: stretch; gap: 6px; height: 120px; }
.spec .axis { display: flex; flex-direction: column; justify-content: space-between; width: 46px;
              font-size: 11px; line-height: 1; color: var(--muted); text-align: right; }
.spec img { display: block; flex: 1; min-width: 0; height: 120px; border-radius: 3px; }
.spec figcaption { font-size: 12px; color: var(--muted); margin-left: 52px; }
.wave-box { margin: 10px 0 0 52px; }
svg.wave { display: block; width: 100%; height: auto; border: 1px solid var(--line); border-radius: 3px; }
.notes { font-size: 12px; color: var(--muted); margin: 6px 0 0; padding-left: 18px; }
details { margin: 8px 0; } summary { cursor: pointer; color: var(--muted); }
.tag { display: inline-block; padding: 1px 7px; border-radius: 10px; background: var(--panel);
       border: 1px solid var(--line); font-size: 12px; margin-right: 6px; }
ul.plain { margin: 4px 0; padding-left: 18px; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _delta_class(value: float | None, higher_is_better: bool | None,
                 before: float | None = None, after: float | None = None) -> str:
    if value is None or higher_is_better is None or negligible(value, before, after):
        return ""
    return "good" if (value > 0) == higher_is_better else "bad"


def _summary_html(summary: Mapping[str, Any]) -> str:
    header, table = summary_table(summary)
    pipeline = "delta mean" in header
    rows = []
    for cells, (name, meta) in zip(table, summary["metrics"].items()):
        klass = ""
        if pipeline:
            means = [summary["columns"][f"{p}{name}"]["mean"] for p in PREFIXES]
            klass = _delta_class(means[2], meta["higher_is_better"], means[0], means[1])
        tds = []
        for i, cell in enumerate(cells):
            attrs = f' class="{klass}"' if pipeline and i == 4 and klass else ""
            if cell == "–":
                attrs = ' class="na"'
            tds.append(f"<td{attrs}>{_e(cell)}</td>")
        title = _e(meta["summary"])
        rows.append(f'<tr title="{title}">' + "".join(tds) + "</tr>")
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _file_table(row: Row, metric_names: Sequence[str], pipeline: bool,
                metrics: Mapping[str, Any]) -> str:
    def cell(column: str, klass: str = "") -> str:
        if column not in row.values:
            return f'<td class="na" title="{_e(row.reasons.get(column, "missing"))}">–</td>'
        value = row.values[column]
        if column.startswith("delta_"):
            name = column[len("delta_"):]
            text = format_delta(value, row.values.get(f"input_{name}"), row.values.get(f"output_{name}"))
        else:
            text = format_value(value)
        return f'<td class="{klass}">{_e(text)}</td>' if klass else f"<td>{_e(text)}</td>"

    lines = []
    for name in metric_names:
        meta = metrics[name]
        label = f"{name} {direction(meta['higher_is_better'])}".strip()
        if pipeline:
            klass = _delta_class(row.values.get(f"delta_{name}"), meta["higher_is_better"],
                                 row.values.get(f"input_{name}"), row.values.get(f"output_{name}"))
            cells = cell(f"input_{name}") + cell(f"output_{name}") + cell(f"delta_{name}", klass)
        else:
            cells = cell(name)
        lines.append(f"<tr><td>{_e(label)}</td>{cells}</tr>")
    head = "<th>metric</th>" + ("<th>input</th><th>output</th><th>delta</th>" if pipeline else "<th>value</th>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _kilohertz(hz: float) -> str:
    return f"{hz / 1000:g} kHz"


def _player(label: str, signal: Signal, seconds: float, audio_sample_rate: int | None) -> str:
    mime, payload = audio_bytes(signal, seconds, audio_sample_rate)
    return (f'<div class="player"><span style="color:{ROLE_COLOURS.get(label, "#495057")}">{_e(label)}</span>'
            f'<audio controls preload="metadata" src="{data_uri(mime, payload)}"></audio></div>')


def _file_section(row: Row, metric_names: Sequence[str], pipeline: bool,
                  metrics: Mapping[str, Any], seconds: float, audio_sample_rate: int | None) -> str:
    media = {label: signal.slice(0, int(round(seconds * signal.sample_rate)))
             for label, signal in (row.media or {}).items()}
    parts = [f'<section class="file" id="{_e(row.file)}"><h3>{_e(row.file)}</h3><div class="grid">']
    parts.append("<div>" + _file_table(row, metric_names, pipeline, metrics))
    reasons = sorted({(column, reason) for column, reason in row.reasons.items()
                      if not column.startswith("delta_")})
    if reasons:
        items = "".join(f"<li><code>{_e(c)}</code>: {_e(r)}</li>" for c, r in reasons)
        parts.append(f"<details><summary>why some cells are empty ({len(reasons)})</summary>"
                     f'<ul class="notes">{items}</ul></details>')
    if row.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in row.notes) + "</ul>")
    parts.append("</div><div>")
    if media:
        players = "".join(_player(label, signal, seconds, audio_sample_rate) for label, signal in media.items())
        parts.append(f'<div class="players">{players}</div>')
        duration_s = max(signal.duration_s for signal in media.values())
        pngs, max_hz, top_db = spectrogram_pngs(media)
        for label, png in pngs.items():
            signal = media[label]
            parts.append(
                f'<figure class="spec"><div class="row"><div class="axis">'
                f"<span>{_e(_kilohertz(max_hz))}</span><span>{_e(_kilohertz(max_hz / 2))}</span>"
                f'<span>0</span></div><img alt="{_e(label)} spectrogram" '
                f'src="{data_uri("image/png", png)}"></div><figcaption>{_e(label)}: '
                f"{signal.sample_rate} Hz, {signal.duration_s:.1f} s, content up to "
                f"{_kilohertz(round(content_bandwidth_hz(signal), -2))}</figcaption></figure>")
        parts.append(f'<div class="wave-box">{waveform_svg(media, duration_s)}</div>')
    parts.append("</div></div></section>")
    return "".join(parts)


def _level_matched_html(summary: Mapping[str, Any]) -> str:
    """Level-dependent metrics beside their level-matched twins (``x`` and ``x_norm``), with
    loudness: a louder signal scores lower DNSMOS for its level alone."""
    metrics = summary["metrics"]
    twins = [name for name in metrics if f"{name}_norm" in metrics]
    if not twins:
        return ""
    columns = summary["columns"]
    pipeline = any(column.startswith("delta_") for column in columns)

    def cells(name: str) -> str:
        return format_value(columns.get(f"delta_{name}" if pipeline else name, {}).get("mean"))

    rows = "".join(f"<tr><td>{_e(name)}</td><td>{_e(cells(name))}</td><td>{_e(cells(name + '_norm'))}</td></tr>"
                   for name in twins)
    loudness = ""
    if "lufs" in metrics:
        loudness = f" Mean loudness{' change' if pipeline else ''}: {_e(cells('lufs'))} LU{'' if pipeline else 'FS'}."
    what = "means of output − input" if pipeline else "means over files"
    return (f"<h2>Level-matched view</h2><p class=\"lead\">DNSMOS marks louder playback down; the level-matched "
            f"columns score every signal scaled to {NORM_LEVEL_DBFS:g} dBFS RMS first, so they compare "
            f"sound, not level; {what}.{loudness}</p><table><thead><tr><th>metric</th><th>as played</th>"
            f"<th>at {NORM_LEVEL_DBFS:g} dBFS</th></tr></thead><tbody>{rows}</tbody></table>")


def report_html(summary: Mapping[str, Any], rows: Sequence[Row], *, title: str = "aural evaluate",
                max_files: int = 12, seconds: float = 10.0, audio_sample_rate: int | None = None) -> str:
    """The whole page as a string (see the module docstring)."""
    columns = list(summary["columns"])
    pipeline = any(c.startswith("delta_") for c in columns)
    metric_names = list(dict.fromkeys(metric_of(c) for c in columns))
    metrics = summary["metrics"]
    shown = [row for row in worst_first(rows, columns) if row.media][:max_files]
    ranking = ranking_column(columns)
    body = [f"<h1>{_e(title)}</h1>"]
    lead = f"{summary['num_files']} files scored, {summary['num_failed']} failed."
    if summary.get("pipeline"):
        lead = f"Pipeline <code>{_e(summary['pipeline'])}</code>. " + _e(lead) + \
            " Delta = output − input (sign as-is; green: better, red: worse)."
    else:
        lead = _e(lead)
    body.append(f'<p class="lead">{lead} ↑ higher is better, ↓ lower is better.</p>')
    body.append("<h2>Summary</h2>" + _summary_html(summary))
    body.append(_level_matched_html(summary))
    missing = [(column, reason, len(files)) for column, cell in summary["columns"].items()
               for reason, files in cell["reasons"].items() if not column.startswith("delta_")]
    if missing:
        items = "".join(f"<li><code>{_e(c)}</code> ({n} file{'s' if n != 1 else ''}): {_e(r)}</li>"
                        for c, r, n in missing)
        body.append(f"<details><summary>Missing values ({len(missing)})</summary>"
                    f'<ul class="plain">{items}</ul></details>')
    if summary["failed"]:
        items = "".join(f"<li><code>{_e(f)}</code>: {_e(m)}</li>" for f, m in summary["failed"].items())
        body.append(f'<h2>Failed files</h2><ul class="plain">{items}</ul>')
    if any(summary["unmatched"].values()):
        items = "".join(f"<li>{_e(side)}: {_e(', '.join(names))}</li>"
                        for side, names in summary["unmatched"].items() if names)
        body.append(f'<h2>Files without a partner</h2><ul class="plain">{items}</ul>')
    body.append("<h2>Files</h2>")
    rate_words = f"resampled to {audio_sample_rate / 1000:g} kHz" if audio_sample_rate else "at each file's own rate"
    order = f"worst first by <code>{_e(ranking)}</code>" if ranking else "by name"
    body.append(
        f'<p class="lead">{len(shown)} of {summary["num_files"]} files shown, {order}. Players hold the first '
        f"{seconds:g} s of each file as mono MP3 {rate_words} (compressed to keep the page small: fine "
        f"for judging noise and tone, not for the finest artefacts). Spectrograms show the same excerpt "
        f"at each file's own rate, on a frequency axis shared per file and fitted to the widest content "
        f"(rounded up to a kHz), {DYNAMIC_RANGE_DB:g} dB range per file.</p>")
    body += [_file_section(row, metric_names, pipeline, metrics, seconds, audio_sample_rate)
             for row in shown]
    rate_items = "".join(f"<li><code>{_e(n)}</code>: {_e(m['rate_handling'])}</li>"
                         for n, m in metrics.items())
    versions = "".join(f'<span class="tag">{_e(p)} {_e(v)}</span>'
                       for p, v in summary["package_versions"].items())
    body.append(f"<h2>How signals were compared</h2><ul class=\"plain\"><li>Alignment: "
                f"{_e(summary['alignment'])}.</li><li>Channels: {_e(summary['channels'])}.</li>"
                f"{rate_items}</ul><h2>Package versions</h2><p>{versions}</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "img-src data:; media-src data:; style-src 'unsafe-inline'\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
            + "".join(body) + "</main></body></html>\n")
