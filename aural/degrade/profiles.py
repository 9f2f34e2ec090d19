"""Named degradation profiles: chains with parameter ranges modelled on real devices.

Order follows the physics: the room (reverb) and the room's noise reach the microphone
together with wind, mains hum or buzz and clicks, the microphone colours them all, the ADC
may clip, the phone's AGC rides the gain (and its noise floor breathes), then the channel
band-limits, codes and loses packets, and the level changes last. The interference steps
(hum, buzz, clicks, wind, breathing, eq) come with modest probabilities, so each profile keeps
its character. ``additive_noise`` is plain noise at a drawn SNR and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from aural.degrade.base import Chain, Step
from aural.degrade.breathing import Breathing
from aural.degrade.codecs import Codec
from aural.degrade.eq import Equalizer
from aural.degrade.impulsive import Clicks
from aural.degrade.mains import Buzz, Hum
from aural.degrade.noise import AddNoise
from aural.degrade.wind import Wind
from aural.degrade.reverb import Reverb
from aural.degrade.transforms import (AutomaticGainControl, BandLimit, Clipping, LevelChange, MicResponse,
                                      PacketLoss)
from aural.errors import UsageError
from aural.registry import Registry


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    steps: tuple[Step, ...]

    def chain(self) -> Chain:
        return Chain(self.steps)


PROFILES: Registry[Profile] = Registry("degradation profile")


def _add(profile: Profile) -> None:
    PROFILES.add(profile.name, profile)


_add(Profile("cellular", "a mobile call: street noise, phone mic, AGC, 8 kHz band, GSM/AMR or G.711, lost packets", (
    Step(Reverb(rt60_s=(0.2, 0.6), drr_db=(6.0, 15.0)), 0.3),
    Step(AddNoise(snr_db=(0.0, 20.0)), 0.9),
    Step(Wind(), 0.1),
    Step(Hum(), 0.05),
    Step(Clicks(), 0.1),
    Step(MicResponse(highpass_hz=(200.0, 400.0), peak_hz=(1800.0, 3500.0), peak_gain_db=(2.0, 6.0),
                     lowpass_probability=0.0), 1.0),
    Step(AutomaticGainControl(target_db=(-20.0, -14.0), max_gain_db=(10.0, 20.0), attack_ms=(2.0, 10.0),
                              release_ms=(200.0, 800.0)), 0.8),
    Step(Breathing(), 0.15),
    Step(BandLimit(band_rates=(8000,)), 1.0),
    Step(Codec(codecs={"amr_nb": 0.5, "gsm": 0.3, "mulaw": 0.1, "alaw": 0.1}), 1.0),
    Step(PacketLoss(loss_rate=(0.0, 0.05), mean_burst_packets=(1.0, 3.0)), 0.7),
    Step(LevelChange(gain_db=(-6.0, 3.0), changes_per_minute=1.0), 0.5),
)))

_add(Profile("voip", "a VoIP or video call: room, laptop-ish mic, 16 kHz band, Opus 6-24 kbit/s, lost packets", (
    Step(Reverb(rt60_s=(0.2, 0.7), drr_db=(0.0, 10.0)), 0.5),
    Step(AddNoise(snr_db=(5.0, 30.0)), 0.8),
    Step(Hum(), 0.1),
    Step(Buzz(), 0.05),
    Step(Clicks(kinds=("key", "click")), 0.2),
    Step(MicResponse(highpass_hz=(150.0, 300.0), peak_hz=(2000.0, 6000.0), peak_gain_db=(2.0, 7.0),
                     lowpass_probability=0.5, lowpass_hz=(6000.0, 7500.0)), 1.0),
    Step(Equalizer(), 0.2),
    Step(AutomaticGainControl(target_db=(-22.0, -16.0), max_gain_db=(6.0, 15.0)), 0.5),
    Step(Breathing(), 0.15),
    Step(BandLimit(band_rates={16000: 0.8, 8000: 0.2}), 1.0),
    Step(Codec(codecs=("opus",), bitrate_kbps={"opus": (6.0, 24.0)}), 1.0),
    Step(PacketLoss(loss_rate=(0.0, 0.10), mean_burst_packets=(1.0, 4.0)), 0.7),
)))

_add(Profile("voice_memo", "a phone at arm's length in an untreated room: reverb, phone mic, mild noise, AGC, AAC", (
    Step(Reverb(rt60_s=(0.3, 0.9), drr_db=(0.0, 8.0)), 1.0),
    Step(AddNoise(snr_db=(15.0, 35.0)), 0.8),
    Step(Wind(level_db=(-25.0, 0.0)), 0.1),
    Step(Hum(), 0.05),
    Step(Clicks(kinds=("pop", "click")), 0.1),
    Step(MicResponse(highpass_hz=(80.0, 200.0), peak_hz=(2000.0, 6000.0), peak_gain_db=(2.0, 5.0),
                     lowpass_probability=0.3, lowpass_hz=(9000.0, 14000.0)), 1.0),
    Step(Equalizer(), 0.3),
    Step(AutomaticGainControl(target_db=(-20.0, -16.0), max_gain_db=(4.0, 12.0), attack_ms=(5.0, 20.0),
                              release_ms=(300.0, 1500.0)), 0.7),
    Step(Codec(codecs={"aac": 0.8, "mp3": 0.2}, bitrate_kbps={"aac": (32.0, 64.0), "mp3": (48.0, 96.0)}), 1.0),
    Step(LevelChange(gain_db=(-4.0, 2.0), changes_per_minute=2.0), 0.5),
)))

_add(Profile("laptop_mic", "a laptop's built-in mic: fan and room noise, reverb, tinny response, mild clipping", (
    Step(Reverb(rt60_s=(0.3, 0.8), drr_db=(0.0, 8.0)), 0.8),
    Step(AddNoise(snr_db=(5.0, 25.0), colours={"brown": 0.5, "pink": 0.5}), 1.0),
    Step(Hum(), 0.15),
    Step(Buzz(), 0.1),
    Step(Clicks(kinds=("key",), rate_per_s=(1.0, 6.0)), 0.3),
    Step(MicResponse(highpass_hz=(250.0, 400.0), peak_hz=(3000.0, 5000.0), peak_gain_db=(4.0, 8.0),
                     lowpass_probability=0.8, lowpass_hz=(5000.0, 8000.0)), 1.0),
    Step(Clipping(headroom_db=(10.0, 18.0), modes={"soft": 0.7, "hard": 0.3}), 0.5),
    Step(BandLimit(band_rates=(16000, 22050)), 0.5),
    Step(Codec(codecs=("opus",), bitrate_kbps={"opus": (16.0, 24.0)}), 0.3),
)))

_add(Profile("archival", "an old recording: 11.025 kHz band, hiss, mu-law or few bits, clipping", (
    Step(AddNoise(snr_db=(15.0, 35.0), source="synthetic", colours={"white": 0.5, "pink": 0.5}), 1.0),
    Step(Hum(), 0.3),
    Step(Clicks(kinds=("click", "pop"), rate_per_s=(1.0, 20.0)), 0.3),
    Step(MicResponse(highpass_hz=(80.0, 250.0), peak_hz=(1000.0, 3000.0), peak_gain_db=(1.0, 5.0),
                     lowpass_probability=0.7, lowpass_hz=(3500.0, 5000.0), measured_probability=0.0), 1.0),
    Step(Clipping(headroom_db=(6.0, 14.0), modes={"hard": 0.7, "soft": 0.3}), 0.6),
    Step(BandLimit(band_rates=(11025,)), 1.0),
    Step(Codec(codecs={"mulaw": 0.4, "bit_depth": 0.6}, bits=(8, 12), codec_rates={"mulaw": 11025}), 1.0),
    Step(LevelChange(gain_db=(-6.0, 0.0), changes_per_minute=0.5), 0.3),
)))

_add(Profile("additive_noise", "plain additive noise at a drawn SNR: no room, no phone chain, no band limit, no codec", (
    Step(AddNoise(snr_db=(-5.0, 25.0)), 1.0),
)))


def get_profile(name: str) -> Profile:
    """The profile ``name``; an unknown name lists the profiles."""
    return PROFILES.get(name)


def resolve_profiles(names: Iterable[str]) -> list[Profile]:
    """Profiles from names (``all`` for every one; comma-separated lists allowed), in order, once each."""
    wanted: list[str] = []
    for entry in names:
        for name in (part.strip() for part in str(entry).split(",")):
            if not name:
                continue
            for resolved in (PROFILES.names() if name == "all" else [name]):
                if resolved not in wanted:
                    wanted.append(resolved)
    if not wanted:
        raise UsageError(f"no profile given; available: {', '.join(PROFILES.names())}, all")
    return [get_profile(name) for name in wanted]
