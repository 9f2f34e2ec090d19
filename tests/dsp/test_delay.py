import numpy as np
import pytest

from aural.dsp.delay import SampleDelay


@pytest.mark.parametrize("delay_samples", [0, 1, 300])
def test_delay_streamed_in_blocks_shifts_the_whole_signal(delay_samples):
    audio = np.random.default_rng(3).standard_normal((2, 2000))
    delay = SampleDelay(delay_samples, 2)
    out = np.concatenate([delay.process(audio[:, i:i + 77]) for i in range(0, 2000, 77)], axis=1)
    assert out.shape == audio.shape
    assert np.array_equal(out[:, delay_samples:], audio[:, :2000 - delay_samples])
    assert not out[:, :delay_samples].any()


def test_delay_output_never_aliases_the_input_and_reset_clears_it():
    audio = np.ones((1, 10))
    delay = SampleDelay(0, 1)
    out = delay.process(audio)
    out[:] = 5.0
    assert (audio == 1.0).all()
    delay = SampleDelay(4, 1)
    delay.process(audio)
    delay.reset()
    assert not delay.process(np.zeros((1, 4))).any()
