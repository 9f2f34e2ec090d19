import pytest

from aural.errors import UsageError
from aural.registry import Registry


def test_register_get_and_did_you_mean():
    things = Registry("thing")

    @things.register("noise_reduction")
    class NoiseReduction:
        pass

    assert things.get("noise_reduction") is NoiseReduction
    with pytest.raises(UsageError) as info:
        things.get("noise_reducton")
    message = str(info.value)
    assert "did you mean 'noise_reduction'" in message
    assert "available: noise_reduction" in message


def test_duplicate_names_are_an_error():
    things = Registry("thing")
    things.add("a", object)
    with pytest.raises(ValueError, match="already registered"):
        things.add("a", int)


def test_builtin_modules_load_lazily():
    from aural.stages import STAGES

    assert {"dynamics", "mix_master"} <= set(STAGES.names())


def test_third_party_stages_come_from_entry_points(monkeypatch):
    from importlib import metadata

    from aural import registry as registry_module

    class ThirdParty:
        pass

    class FakeEntry:
        name, value = "third_party", "pkg:ThirdParty"

        def load(self):
            return ThirdParty

    def fake_entry_points(group):
        return [FakeEntry()] if group == "aural.stages" else []

    monkeypatch.setattr(registry_module.metadata, "entry_points", fake_entry_points)
    stages = Registry("stage", entry_point_group="aural.stages")
    assert stages.names() == ["third_party"]
    assert stages.get("third_party") is ThirdParty
    assert metadata is registry_module.metadata
