"""Recipe files: loaded through the bounded YAML loader."""

import pytest

from aural.errors import ConfigError
from aural.train.recipe import builtin_recipe, load_recipe


def test_builtin_recipes_load():
    assert builtin_recipe("mel_unet").stage == "mel_unet"


def test_alias_bomb_recipe_is_refused_with_file_and_line(tmp_path):
    lines = ["stage: mel_unet", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]" for i in range(6)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=rf"^{path}:5: aliases expand this value to more than 10000 nodes"):
        load_recipe(path)


def test_self_referencing_recipe_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("stage: mel_unet\nmodel: &m {inner: *m}\n")
    with pytest.raises(ConfigError, match=rf"^{path}:2: alias \*m refers to its own anchor"):
        load_recipe(path)


def test_data_section_chooses_the_on_the_fly_reference():
    from aural.train.recipe import recipe_from_mapping

    recipe = recipe_from_mapping({"stage": "mel_unet", "data": {"reference": "dry", "early_reflections_ms": 80}})
    assert recipe.data == {"reference": "dry", "early_reflections_ms": 80}
    assert recipe_from_mapping({"stage": "mel_unet"}).data == {}
    for data, key in (({"reference": "wet"}, "data.reference"), ({"early_reflections_ms": -5}, "data.early_reflections_ms"),
                      ({"early_reflections_ms": "50"}, "data.early_reflections_ms"), ({"rooms": 1}, "data.rooms")):
        with pytest.raises(ConfigError, match=rf"^r.yaml {key}: "):
            recipe_from_mapping({"stage": "mel_unet", "data": data}, "r.yaml")
