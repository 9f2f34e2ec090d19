"""``aural separate INPUT... -o DIR``: split recordings into stems.

Every input becomes ``DIR/<input name>/voice.wav`` and ``DIR/<input name>/background.wav``
(``--model music``: ``vocals.wav`` and ``accompaniment.wav``) at the input's rate, length and
channel count, the stems adding up to the input. Files and
folders as in ``aural run`` (a folder keeps its layout), with the same batch rules: a file
that fails is reported in one line and the others go on; exit status 1 when any failed, 2 for
usage errors (missing weights included).
"""

from __future__ import annotations

from pathlib import Path

import click

from aural import io
from aural.cli.threads import threads_option

MODELS = ("voice", "music")  # voice: the separation stage's default weights; music: music_separation


@click.command("separate")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output folder: a folder of stems per input.")
@click.option("--model", type=click.Choice(MODELS), default="voice", show_default=True,
              help="voice: speech from its background (voice.wav, background.wav; the separation stage's "
                   "weights 'default'); music: a singer from the band (vocals.wav, accompaniment.wav; "
                   "Spleeter 2-stem, extra spleeter).")
@click.option("--weights", default=None, metavar="PRESET_OR_FILE",
              help="Voice separation weights: a preset name or a .safetensors file (instead of --model).")
@click.option("--strength", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True,
              help="0: the voice (or vocals) stem is the whole input; 1: the separated voice.")
@click.option("--deepfilter-share", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="Share of DeepFilterNet3's denoised input blended into the voice estimate (needs the extra "
                   "deepfilter; 0.7 separates speech from noise best on aural's held-out mixtures).")
@click.option("--deepfilter-fusion", is_flag=True,
              help="With --deepfilter-share: a small learned network picks between DeepFilterNet3's and the "
                   "separation network's voice per time-frequency bin (the share then weighs that fused "
                   "estimate; 1 is the fused estimate alone).")
@click.option("--format", "fmt", type=click.Choice(["wav", "flac"]), default=None,
              help="Output format (default: the input's if wav/flac, else wav).")
@click.option("--subtype", type=click.Choice(list(io.SUBTYPES)), default=None,
              help=f"Sample format (default {io.DEFAULT_SUBTYPE}; FLOAT keeps the sum exact).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@threads_option
@click.pass_context
def command(ctx: click.Context, inputs: tuple[Path, ...], output: Path, model: str, weights: str | None,
            strength: float, deepfilter_share: float, deepfilter_fusion: bool, fmt: str | None,
            subtype: str | None, overwrite: bool, quiet: bool) -> None:
    """Split INPUT files or folders into voice and background stems under OUTPUT
    (--model music: vocals and accompaniment).

    Example: aural separate rehearsal.m4a -o stems/   (stems/rehearsal/voice.wav, background.wav)
    """
    from aural.cli.run import RunOptions, local_engine, run_batch
    from aural.config import PipelineSpec, StageSpec
    from aural.pipeline import Pipeline

    if weights is not None and ctx.get_parameter_source("model") is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("give --model or --weights, not both (--weights names the weights itself)")
    if output.suffix.lower() in io.WRITE_FORMATS and not output.is_dir():
        raise click.UsageError(f"{output}: aural separate writes a folder per input; -o must name a folder")
    if deepfilter_fusion and deepfilter_share == 0.0:
        raise click.UsageError("--deepfilter-fusion fuses DeepFilterNet3's voice in: give --deepfilter-share too "
                               "(1: the fused estimate alone)")
    if model == "music":
        from aural.stages.music_separation import MusicSeparationStage

        if deepfilter_share > 0.0:
            raise click.UsageError("--deepfilter-share blends DeepFilterNet3's speech in: it is for --model voice")
        stage, reference = MusicSeparationStage(strength=strength), None
    else:
        from aural.stages.separation import SeparationStage

        reference = weights or "default"
        stage = SeparationStage(weights=reference, strength=strength, deepfilter_share=deepfilter_share,
                                deepfilter_fusion=deepfilter_fusion)
    spec = PipelineSpec(name=f"separate ({model})", stages=(StageSpec(stage.name, stage.params, reference),))
    pipeline = Pipeline(spec, [stage])
    options = RunOptions(subtype=subtype, overwrite=overwrite, show_progress=not quiet,
                         debug=bool(ctx.obj and ctx.obj.get("debug")), command_name="separate")
    run_batch(list(inputs), output, pipeline.output_stems, local_engine(pipeline, options), fmt=fmt, quiet=quiet,
              options=options)
