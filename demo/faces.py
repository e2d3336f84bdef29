"""Real face photos for the demo, fetched at demo time from a package registry (never shipped with homeroll).

The face_recognition sdist on PyPI carries its test images (Obama x3 plus two partial faces, Biden, a
32-bit PNG); ``pip download`` fetches the sdist without installing or building anything we keep.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

SDIST = "face_recognition==1.3.0"
IMAGES_DIR = "/tests/test_images/"

__all__ = ["fetch_demo_faces"]


def fetch_demo_faces(dest_dir: Path | str, timeout: float = 300) -> list[Path]:
    """Download the sdist with pip and copy its test photos into ``dest_dir``; [] (with a logged reason) on failure.

    Takes about 25 s here (pip prepares the sdist's metadata); needs access to PyPI or a configured mirror.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="homeroll-faces-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--disable-pip-version-check", "--quiet", SDIST, "-d", tmp]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("demo faces: cannot run pip download (%s); the demo runs without real faces", exc)
            return []
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            log.warning("demo faces: pip download %s failed (%s); the demo runs without real faces", SDIST, last)
            return []
        archives = sorted(Path(tmp).glob("face_recognition-*.tar.gz"))
        if not archives:
            log.warning("demo faces: pip did not produce a face_recognition sdist; the demo runs without real faces")
            return []
        return _extract_images(archives[0], dest)


def _extract_images(archive: Path, dest: Path) -> list[Path]:
    """Copy only the test images (by basename: no paths from the archive are trusted)."""
    out: list[Path] = []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if (not member.isfile() or IMAGES_DIR not in member.name
                        or Path(name).suffix.lower() not in (".jpg", ".jpeg", ".png")):
                    continue
                data = tar.extractfile(member)
                if data is None:
                    continue
                target = dest / name
                target.write_bytes(data.read())
                out.append(target)
    except (OSError, tarfile.TarError) as exc:
        log.warning("demo faces: cannot read %s (%s); the demo runs without real faces", archive.name, exc)
        return []
    if not out:
        log.warning("demo faces: no test images in %s; the demo runs without real faces", archive.name)
    return sorted(out)
