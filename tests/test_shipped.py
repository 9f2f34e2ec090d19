"""Where shipped pipelines and weights are found, and the environment overrides."""

from __future__ import annotations

import pytest

from aural import config, shipped, weights


def test_a_checkout_uses_its_top_level_folders():
    # No aural/_shipped/ in a checkout: the repository's models/ and pipelines/ are used.
    assert not shipped.INSTALLED_DIR.exists()
    assert shipped.shipped_dir("models") == shipped.PACKAGE_DIR.parent / "models"
    assert (shipped.shipped_dir("pipelines") / "phone_to_studio.yaml").is_file()


def test_an_installed_copy_wins(tmp_path, monkeypatch):
    package = tmp_path / "aural"
    (package / "_shipped" / "models").mkdir(parents=True)
    monkeypatch.setattr(shipped, "PACKAGE_DIR", package)
    monkeypatch.setattr(shipped, "INSTALLED_DIR", package / "_shipped")
    assert shipped.shipped_dir("models") == package / "_shipped" / "models"
    assert shipped.shipped_dir("pipelines") == tmp_path / "pipelines"
    with pytest.raises(ValueError, match="unknown shipped folder"):
        shipped.shipped_dir("recipes")


def test_environment_overrides_are_read_at_call_time(tmp_path, monkeypatch):
    (tmp_path / "mine.yaml").write_text("aural: 1\nstages:\n  - stage: dynamics\n")
    monkeypatch.setenv("AURAL_PIPELINES", str(tmp_path))
    monkeypatch.setenv("AURAL_MODELS", str(tmp_path / "models"))
    assert list(config.builtin_pipelines()) == ["mine"]
    assert config.resolve_pipeline_path("mine") == tmp_path / "mine.yaml"
    assert weights.models_dir() == tmp_path / "models"
    monkeypatch.delenv("AURAL_PIPELINES")
    assert "phone_to_studio" in config.builtin_pipelines()
