"""Bounded YAML: alias bombs, cycles, deep nesting and huge files fail fast with file:line."""

import pytest

from aural import safe_yaml
from aural.errors import ConfigError
from robustness.corpus import BOMB


def test_alias_bomb_is_refused_at_the_line_that_explodes():
    with pytest.raises(ConfigError, match=r"^bomb.yaml:6: aliases expand this value to more than 10000 nodes"):
        safe_yaml.load(BOMB, "bomb.yaml")


@pytest.mark.parametrize("text, line", [("a: &x [1, *x]\n", 1), ("aural: 1\nstages: &s {x: *s}\n", 2),
                                        ("k: &m\n  - &n [*n]\n", 2)])
def test_self_reference_is_refused(text, line):
    with pytest.raises(ConfigError, match=rf"^s.yaml:{line}: alias \*\w refers to its own anchor"):
        safe_yaml.load(text, "s.yaml")


@pytest.mark.parametrize("text", ["x: " + "[" * 5000 + "]" * 5000, "x:\n" + "".join(" " * i + "- \n" for i in range(100)),
                                  "x: " + "{a: " * 70 + "1" + "}" * 70])
def test_deep_nesting_is_refused_without_recursion_error(text):
    with pytest.raises(ConfigError, match=r"^d.yaml:\d+: nested deeper than 64 levels"):
        safe_yaml.load(text, "d.yaml")


def test_ordinary_aliases_and_merge_keys_still_load():
    text = "base: &p {ratio: 3.0, attack_ms: 5.0}\nstages:\n  - {<<: *p, ratio: 4.0}\n  - *p\n"
    data, node = safe_yaml.load(text, "ok.yaml")
    assert data["stages"] == [{"ratio": 4.0, "attack_ms": 5.0}, {"ratio": 3.0, "attack_ms": 5.0}]
    assert node.start_mark.line == 0


def test_expansion_just_under_the_budget_loads():
    text = "a: &a [" + ", ".join(["1"] * 99) + "]\nb: [" + ", ".join(["*a"] * 98) + "]\n"
    data, _ = safe_yaml.load(text, "ok.yaml")
    assert len(data["b"]) == 98 and len(data["b"][0]) == 99


def test_syntax_error_and_several_documents_name_the_line():
    with pytest.raises(ConfigError, match=r"^x.yaml:2: YAML syntax error"):
        safe_yaml.load("a: 1\n b: [\n", "x.yaml")
    with pytest.raises(ConfigError, match=r"^x.yaml:\d+: YAML syntax error: expected a single document in the stream, but found another"):
        safe_yaml.load("a: 1\n---\nb: 2\n", "x.yaml")


def test_read_text_refuses_huge_binary_and_missing_files(tmp_path):
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * (safe_yaml.MAX_FILE_BYTES + 1))
    with pytest.raises(ConfigError, match=r"huge.yaml: larger than 1 MiB; not a pipeline file"):
        safe_yaml.read_text(huge, "pipeline file")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"aural: 1\n\xff\xfe")
    with pytest.raises(ConfigError, match=r"bin.yaml: not UTF-8 text \(byte 9\)"):
        safe_yaml.read_text(binary, "recipe")
    with pytest.raises(ConfigError, match=r"nope.yaml: cannot read the recipe \(No such file"):
        safe_yaml.read_text(tmp_path / "nope.yaml", "recipe")


def test_read_text_refuses_fifos_and_devices_without_blocking(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.yaml")
    with pytest.raises(ConfigError, match=r"pipe.yaml: not a regular file; not a recipe"):
        safe_yaml.read_text(tmp_path / "pipe.yaml", "recipe")
    with pytest.raises(ConfigError, match=r"^/dev/zero: not a regular file"):
        safe_yaml.read_text("/dev/zero", "recipe")
