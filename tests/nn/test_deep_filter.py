"""Deep filtering: tap alignment, the identity start, and what it can do that a real gain cannot."""

from __future__ import annotations

import math

import pytest
import torch

from aural.nn.deep_filter import DeepFilterHead, deep_filter


def random_spec(frames: int = 12, bins: int = 6, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.complex(torch.randn(2, frames, bins, generator=generator),
                         torch.randn(2, frames, bins, generator=generator))


@pytest.mark.parametrize("order, lookahead", [(1, 0), (3, 0), (3, 1), (5, 2)])
def test_each_tap_takes_the_frame_it_names(order, lookahead):
    spec = random_spec()
    for tap in range(order):
        coefs = torch.zeros(*spec.shape, order, dtype=torch.complex64)
        coefs[..., tap] = 1.0
        shift = tap - (order - 1 - lookahead)             # frames ahead (+) or behind (-)
        expected = torch.zeros_like(spec)
        if shift >= 0:
            expected[:, :spec.shape[1] - shift] = spec[:, shift:]
        else:
            expected[:, -shift:] = spec[:, :shift]
        torch.testing.assert_close(deep_filter(spec, coefs, lookahead), expected)


def test_lookahead_must_be_inside_the_filter():
    with pytest.raises(ValueError, match="lookahead"):
        deep_filter(random_spec(), torch.ones(2, 12, 6, 3, dtype=torch.complex64), 3)


def test_an_untrained_head_is_the_identity_filter():
    noisy, masked = random_spec(seed=1), random_spec(seed=2)
    torch.testing.assert_close(DeepFilterHead(order=5, lookahead=1)(noisy, masked), masked)


def test_two_taps_cancel_a_rotating_component_that_shares_its_bin_with_a_steady_one():
    # a bin holding a steady tone (phase fixed across frames) and a component whose phase turns by
    # 0.9 rad per frame: any real gain scales both; the filter x[t] - e^{0.9 i} x[t-1] removes the
    # turning one and keeps the steady one, scaled by the known (1 - e^{0.9 i})
    frames = torch.arange(40, dtype=torch.float32)
    steady = torch.full((40,), 0.5 + 0.2j, dtype=torch.complex64)
    turning = torch.exp(1j * 0.9 * frames).to(torch.complex64)
    spec = (steady + turning).reshape(1, 40, 1)
    coefs = torch.zeros(1, 40, 1, 2, dtype=torch.complex64)
    coefs[..., 1] = 1.0
    coefs[..., 0] = -complex(math.cos(0.9), math.sin(0.9))
    out = deep_filter(spec, coefs, lookahead=0)[0, 1:, 0]
    torch.testing.assert_close(out, steady[1:] * (1 - complex(math.cos(0.9), math.sin(0.9))), rtol=0, atol=1e-5)
