"""scripts/train_freq_expansion.py: material groups and the balanced training list."""

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from train_freq_expansion import GROUP_SHARES, balanced, material_group  # noqa: E402


def test_material_groups_follow_the_data_layout():
    assert material_group("speech/ravdess/actor01/a.wav") == "ravdess"
    assert material_group("speech/vctk48k_clearervoice/p226_001.flac") == "vctk"
    assert material_group("speech/sganvc_target_p239_409_mic1.flac") == "vctk"
    assert material_group("speech/librivox_flatland_excerpt.flac") == "other speech"
    assert material_group("music/dsd100_vocals/x.flac") == "music"


def test_balanced_list_gives_each_group_about_its_share(tmp_path):
    files = ([str(tmp_path / f"speech/ravdess/actor01/{i}.wav") for i in range(300)]
             + [str(tmp_path / f"speech/vctk48k/p2{i:02d}.flac") for i in range(10)]
             + [str(tmp_path / f"speech/librivox_{i}.flac") for i in range(5)]
             + [str(tmp_path / f"music/piece{i}.flac") for i in range(30)])
    lines = balanced(files, tmp_path)
    assert set(lines) == set(files)
    groups = Counter(material_group(str(Path(line).relative_to(tmp_path))) for line in lines)
    for name, share in GROUP_SHARES.items():
        assert abs(groups[name] / len(lines) - share) < 0.03, (name, groups)
