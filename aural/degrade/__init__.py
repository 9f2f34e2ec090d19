"""Phone-degradation simulator: transforms, codecs, named profiles and studio/phone pairs.

A transform's random parameters are drawn apart from their application::

    params = transform.draw(rng, context)          # plain JSON-able data
    audio = transform.apply(audio, sample_rate, params)   # deterministic

Profiles (``cellular``, ``voip``, ``voice_memo``, ``laptop_mic``, ``archival``) are chains of
transforms with ranges modelled on the real thing; :func:`simulate_pair` degrades a clean
signal with one, :func:`reproduce` re-creates a pair from its manifest entry.
"""

from aural.degrade.base import TRANSFORMS, Chain, DrawContext, Resources, Step, Transform
from aural.degrade.profiles import PROFILES, Profile, get_profile, resolve_profiles
from aural.degrade.simulate import make_resources, reproduce, simulate_file, simulate_pair

__all__ = [
    "TRANSFORMS", "Chain", "DrawContext", "Resources", "Step", "Transform",
    "PROFILES", "Profile", "get_profile", "resolve_profiles",
    "make_resources", "reproduce", "simulate_file", "simulate_pair",
]
