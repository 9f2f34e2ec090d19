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
                      ({"early_reflections_ms": "50"}, "data.early_reflections_ms"), ({"rooms": 1}, "data.rooms"),
                      ({"augment": "yes"}, "data.augment"), ({"known_band": 0}, "data.known_band")):
        with pytest.raises(ConfigError, match=rf"^r.yaml {key}: "):
            recipe_from_mapping({"stage": "mel_unet", "data": data}, "r.yaml")


def test_a_recipe_on_the_builtin_base_changes_only_what_it_names(tmp_path):
    path = tmp_path / "fine_tune.yaml"
    path.write_text("base: builtin\nstage: mel_unet\nsteps: 300\noptimizer: {lr: 0.0001}\n"
                    "model: {deep_filter_bins: 64}\nlosses: [{name: l1, weight: 1.0}]\n")
    recipe, builtin = load_recipe(path), builtin_recipe("mel_unet")
    assert recipe.steps == 300 and recipe.optimizer == {**builtin.optimizer, "lr": 0.0001}
    assert recipe.model == {**builtin.model, "deep_filter_bins": 64}
    assert recipe.losses == ({"name": "l1", "weight": 1.0},)
    assert recipe.schedule == builtin.schedule and recipe.task == builtin.task
    assert recipe.source == str(path)


def test_bases_chain_through_relative_paths(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "first.yaml").write_text("stage: mel_unet\nsteps: 10\nbatch_size: 2\ntask: {match_level: true}\n")
    (tmp_path / "sub" / "second.yaml").write_text("base: ../first.yaml\nstage: mel_unet\nsteps: 20\n")
    (tmp_path / "third.yaml").write_text("base: sub/second.yaml\nstage: mel_unet\ntask: {trainable: [x]}\n")
    recipe = load_recipe(tmp_path / "third.yaml")
    assert (recipe.steps, recipe.batch_size) == (20, 2)
    assert recipe.task == {"match_level": True, "trainable": ["x"]}


@pytest.mark.parametrize("files, message", [
    ({"a.yaml": "base: a.yaml\nstage: mel_unet\n"}, "a.yaml base: a.yaml leads back to itself"),
    ({"a.yaml": "base: b.yaml\nstage: mel_unet\n", "b.yaml": "base: a.yaml\nstage: mel_unet\n"},
     "b.yaml base: a.yaml leads back to itself"),
    ({"a.yaml": "base: b.yaml\nstage: mel_unet\n", "b.yaml": "stage: gan_refiner\n"},
     "a.yaml stage: 'mel_unet' differs from its base's 'gan_refiner'"),
    ({"a.yaml": "base: [b.yaml]\nstage: mel_unet\n"}, "a.yaml base: expected `builtin` or a recipe file path"),
    ({"a.yaml": "base: missing.yaml\nstage: mel_unet\n"}, "missing.yaml"),
])
def test_bad_bases_are_refused_naming_the_file(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_recipe(tmp_path / "a.yaml")


def test_the_shipped_script_recipes_load():
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[2] / "scripts" / "recipes").glob("*.yaml")):
        assert load_recipe(path).stage in path.name
