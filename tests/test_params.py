from dataclasses import dataclass

import pytest

from aural.params import ParamError, build_params, param, param_specs


@dataclass(frozen=True)
class Params:
    ratio: float = param(4.0, help="compression ratio", min=1.0)
    knee_db: float = param(6.0, help="knee width", unit="dB", min=0.0, max=24.0)
    link: bool = param(True, help="link channels")
    mode: str = param("peak", help="detector", choices=("peak", "rms"))
    limit_db: float | None = param(None, help="optional ceiling", unit="dB")
    taps: int = param(8, help="filter taps", min=1)


def test_defaults_and_coercion():
    p = build_params(Params, {"ratio": 3, "taps": 16.0})
    assert p.ratio == 3.0 and isinstance(p.ratio, float)
    assert p.taps == 16 and isinstance(p.taps, int)
    assert p.limit_db is None


@pytest.mark.parametrize("values, key, text", [
    ({"ratio": "loud"}, "ratio", "expected a number >= 1, got 'loud'"),
    ({"ratio": 0.5}, "ratio", "expected a number >= 1, got 0.5"),
    ({"knee_db": 30}, "knee_db", "in 0..24"),
    ({"link": "yes"}, "link", "true or false"),
    ({"mode": "fast"}, "mode", "one of 'peak', 'rms'"),
    ({"taps": 2.5}, "taps", "an integer"),
    ({"ratio": float("nan")}, "ratio", "a number"),
    ({"ratio": True}, "ratio", "a number"),
    ({"knee": 3}, "knee", "did you mean 'knee_db'"),
])
def test_bad_values_name_the_key(values, key, text):
    with pytest.raises(ParamError) as info:
        build_params(Params, values)
    assert info.value.key == key
    assert text in info.value.message


def test_specs_carry_units_and_ranges():
    specs = {s.name: s for s in param_specs(Params)}
    assert specs["knee_db"].unit == "dB"
    assert specs["knee_db"].describe_range() == "0..24"
    assert specs["limit_db"].optional
