"""Build hook: the wheel carries the repository's ``models/`` and ``pipelines/`` as package data.

Both stay at the top of the repository, where a checkout (and an editable install) reads
them; ``build_py`` copies them into the built package as ``aural/_shipped/`` (see
``aural/shipped.py``). Everything else about the package is in ``pyproject.toml``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED_FOLDERS = ("models", "pipelines")


class BuildPyWithShippedData(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's folders
            return
        for name in SHIPPED_FOLDERS:
            target = Path(self.build_lib) / "aural" / "_shipped" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(name, target, ignore=shutil.ignore_patterns(".*", "__pycache__"))


setup(cmdclass={"build_py": BuildPyWithShippedData})
