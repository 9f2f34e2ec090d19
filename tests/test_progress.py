"""Progress: plain, rate-limited lines without escape codes when stderr is not a terminal."""

import io

from aural import progress as progress_module
from aural.progress import Progress


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_plain_lines_every_interval_and_at_the_end(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", clock)
    out = io.StringIO()
    bar = Progress("scoring", total=10, unit="file", prefix="aural evaluate: ", interval_s=5.0, stream=out)
    for i in range(1, 11):
        clock.now += 2.0  # one file every 2 s: a line at 1, then after 5 s, ..., and at 10
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "aural evaluate: scoring: 1 of 10 files (10%), 0:02 elapsed, about 0:18 left"
    assert lines[-1] == "aural evaluate: scoring: 10 of 10 files (100%), 0:20 elapsed"
    assert [line.split(": ")[2].split(" ")[0] for line in lines] == ["1", "4", "7", "10"]  # >= 5 s apart, the end once
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_description_and_percent_units_and_a_silent_start(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", clock)
    out = io.StringIO()
    bar = Progress("memo.wav", total=100, unit="%", prefix="aural run: ", interval_s=5.0, quiet_start=True,
                   stream=out)
    bar.set(10, 100)
    clock.now += 1.0
    bar.set(100, 100)  # a short file says nothing in a log
    bar.close()
    assert out.getvalue() == ""
    bar = Progress("long.wav", total=100, unit="%", prefix="aural run: ", interval_s=5.0, quiet_start=True,
                   stream=out)
    bar.set_description("long.wav: pass 1 of 2 (mel_unet)")
    clock.now += 6.0
    bar.set(20, 100)
    bar.set_description("long.wav: pass 2 of 2 (mix_master)")
    clock.now += 6.0
    bar.set(50, 100)
    bar.set(100, 100)
    assert [line.split(",")[0] for line in out.getvalue().splitlines()] == [
        "aural run: long.wav: pass 1 of 2 (mel_unet): 20%", "aural run: long.wav: pass 2 of 2 (mix_master): 50%",
        "aural run: long.wav: pass 2 of 2 (mix_master): 100%"]


def test_disabled_and_terminal_modes():
    out = io.StringIO()
    bar = Progress("x", total=3, enabled=False, stream=out)
    bar.update(3)
    bar.close()
    assert out.getvalue() == ""
    bar = Progress("x", total=3, stream=out, interactive=True)  # a tqdm bar
    bar.update(3)
    bar.write("note")
    bar.close()
    assert "note" in out.getvalue()
