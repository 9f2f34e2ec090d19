"""aural.cache: built once, read after; rebuilt on request; off when asked."""

from __future__ import annotations

from aural.cache import cache_dir, cache_key, cached_bytes


def counting_builder(data: bytes):
    calls = []

    def build() -> bytes:
        calls.append(1)
        return data

    return build, calls


def test_bytes_are_built_once_then_read(tmp_path, monkeypatch):
    monkeypatch.setenv("AURAL_CACHE_DIR", str(tmp_path / "cache"))
    build, calls = counting_builder(b"graph")
    key = cache_key("export", b"weights", 80)
    assert cached_bytes("onnx", key, build) == b"graph"
    assert cached_bytes("onnx", key, build) == b"graph"
    assert len(calls) == 1
    assert (tmp_path / "cache" / "onnx" / key).read_bytes() == b"graph"
    assert [p.name for p in (tmp_path / "cache" / "onnx").iterdir()] == [key]  # no temporary left


def test_rebuild_replaces_what_was_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("AURAL_CACHE_DIR", str(tmp_path))
    key = cache_key("x")
    (tmp_path / "onnx").mkdir()
    (tmp_path / "onnx" / key).write_bytes(b"damaged")
    build, calls = counting_builder(b"good")
    assert cached_bytes("onnx", key, build) == b"damaged"  # the caller checks what it loads
    assert cached_bytes("onnx", key, build, rebuild=True) == b"good"
    assert cached_bytes("onnx", key, build) == b"good" and len(calls) == 1


def test_off_builds_every_time_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("AURAL_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() is None
    build, calls = counting_builder(b"graph")
    cached_bytes("onnx", cache_key("x"), build)
    cached_bytes("onnx", cache_key("x"), build)
    assert len(calls) == 2 and not any(tmp_path.iterdir())


def test_the_default_folder_is_under_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.delenv("AURAL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "aural"


def test_a_folder_that_cannot_be_made_turns_the_cache_off(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("AURAL_CACHE_DIR", str(tmp_path / "file" / "cache"))
    assert cache_dir() is None
    build, calls = counting_builder(b"graph")
    assert cached_bytes("onnx", cache_key("x"), build) == b"graph"


def test_keys_depend_on_every_part():
    assert cache_key("a", b"b", 1) == cache_key("a", b"b", 1)
    assert len({cache_key("a", b"b", 1), cache_key("a", b"b", 2), cache_key("a", b"c", 1), cache_key("ab", 1)}) == 4


def test_each_namespace_keeps_its_most_recently_used_files(tmp_path, monkeypatch):
    import os

    import aural.cache

    monkeypatch.setenv("AURAL_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(aural.cache, "MAX_FILES", 3)
    keys = [cache_key(i) for i in range(4)]
    for age, key in enumerate(keys[:3]):
        cached_bytes("onnx", key, lambda: b"x")
        os.utime(tmp_path / "onnx" / key, (1000 + age, 1000 + age))
    cached_bytes("onnx", keys[0], lambda: b"y")  # read: now the most recent
    cached_bytes("onnx", keys[3], lambda: b"z")
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == sorted([keys[0], keys[2], keys[3]])


def test_cached_loads_and_builds_again_only_what_it_read(tmp_path, monkeypatch):
    """A stored file ``load`` refuses is built again and replaced; freshly built bytes it refuses
    raise at once (built once, not twice)."""
    import pytest

    from aural.cache import cached

    monkeypatch.setenv("AURAL_CACHE_DIR", str(tmp_path))

    def load(data: bytes) -> str:
        if data != b"good":
            raise ValueError(data)
        return data.decode()

    key = cache_key("y")
    (tmp_path / "onnx").mkdir()
    (tmp_path / "onnx" / key).write_bytes(b"damaged")
    build, calls = counting_builder(b"good")
    assert cached("onnx", key, build, load) == "good" and len(calls) == 1
    assert (tmp_path / "onnx" / key).read_bytes() == b"good"
    bad, bad_calls = counting_builder(b"bad")
    with pytest.raises(ValueError):
        cached("onnx", cache_key("z"), bad, load)
    assert len(bad_calls) == 1
