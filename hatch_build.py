"""Builds ``sessmap.transcripts._sniff``, the C fast path of transcript summaries, with the
machine's C compiler (through setuptools, which knows each platform's compiler and flags).

Without a compiler the build goes on and sessmap is pure Python: the same results, only
``show`` and ``list --fields`` read a large transcript about twice as slowly. An editable
install puts the module next to its source (``src/sessmap/transcripts``); a wheel carries it.
The module records the SHA-256 of the sources it was built from (``_sniff.SOURCE``: of
``_sniff*.c`` and ``_sniff*.h``, in name order), so the tests can tell a stale build.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("src/sessmap/transcripts/_sniff.c")
MODULE = "sessmap.transcripts._sniff"


class SniffBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        source = Path(self.root) / SOURCE
        work = Path(tempfile.mkdtemp(prefix="sessmap-build-"))
        try:
            built = _compile(source, work)
        except Exception as error:  # any failure leaves the pure-Python build
            self.app.display_warning(f"sessmap: C fast path not built ({error}); running in pure Python")
            shutil.rmtree(work, ignore_errors=True)
            return
        self._work = work
        if version == "editable":
            shutil.copy2(built, source.parent / built.name)
        else:
            build_data["force_include"][str(built)] = f"sessmap/transcripts/{built.name}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work is not None:  # the wheel holds the module now
            shutil.rmtree(work, ignore_errors=True)


def _compile(source: Path, work: Path) -> Path:
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    parts = sorted([*source.parent.glob("_sniff*.c"), *source.parent.glob("_sniff*.h")])
    digest = hashlib.sha256(b"".join(part.read_bytes() for part in parts)).hexdigest()
    extension = Extension(MODULE, [str(source)], define_macros=[("SNIFF_SOURCE", f'"{digest}"')])
    command = build_ext(Distribution({"name": "sessmap", "ext_modules": [extension]}))
    command.build_lib = str(work / "lib")
    command.build_temp = str(work / "temp")
    command.ensure_finalized()
    command.run()
    return Path(command.get_ext_fullpath(MODULE))
