"""``aural stages show NAME``: params, and for learned stages their weight presets."""

from aural import weights
from helpers import run_cli


def test_show_lists_the_presets_of_a_learned_stage(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AURAL_MODELS", str(tmp_path))
    for preset, gain in (("light", -0.5), ("default", 2.25)):
        weights.record_preset("noise_reduction", preset, {
            "architecture": "ConvAutoencoder", "num_parameters": 1234, "sample_rate": 16000, "steps": 40,
            "metrics": {"snr_gain/val": gain, "loss/val": 1.0}, "card": f"noise_reduction/{preset}.md"}, tmp_path)
    code, out, err = run_cli(["stages", "show", "noise_reduction"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    start = lines.index(f"  weights presets (weights: NAME, or a path to a .safetensors file; in {tmp_path}):")
    assert lines[start + 1:] == [
        "    default: ConvAutoencoder, 1,234 parameters, 16000 Hz, 40 steps; validation snr_gain/val +2.25; "
        "card noise_reduction/default.md",
        "    light: ConvAutoencoder, 1,234 parameters, 16000 Hz, 40 steps; validation snr_gain/val -0.50; "
        "card noise_reduction/light.md"]
    code, out, _ = run_cli(["stages", "show", "mel_unet"], capsys)
    assert "weights: no presets in" in out and "aural train mel_unet" in out
    code, out, _ = run_cli(["stages", "show", "dynamics"], capsys)
    assert "weights presets" not in out and "weights:" not in out


def test_the_shipped_presets_are_listed(capsys):
    code, out, _ = run_cli(["stages", "show", "mel_unet"], capsys)
    assert code == 0 and "    default: MelUNet, " in out
