"""Where the dlib model files are, without importing ``face_recognition`` or ``face_recognition_models``.

``face_recognition_models/__init__.py`` imports ``pkg_resources``, which setuptools >= 81 no longer ships, so
we only ask the import system where the package lives and read the ``.dat`` files from there.

:func:`engine_problem` asks the same way whether dlib is there at all: the faces job calls it in the
parent before it starts workers, so a machine without dlib or its models gets one clear reason in the
job's last error (and in `homeroll status`), not photos quietly skipped by workers that cannot start.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from homeroll.daemon.errors import UserError

SHAPE_PREDICTOR = "shape_predictor_5_face_landmarks.dat"
FACE_ENCODER = "dlib_face_recognition_resnet_model_v1.dat"
CNN_DETECTOR = "mmod_human_face_detector.dat"

__all__ = ["CNN_DETECTOR", "FACE_ENCODER", "SHAPE_PREDICTOR", "engine_problem", "model_path", "models_dir"]


def models_dir() -> Path | None:
    """The ``models`` folder of the installed face-recognition-models package, or None if it is absent."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "models"
        if folder.is_dir():
            return folder
    return None


def model_path(name: str) -> Path:
    """Absolute path of one model file; a one-line UserError says how to install it when missing."""
    folder = models_dir()
    if folder is None or not (folder / name).is_file():
        raise UserError(
            f"face model {name} not found: install the 'face-recognition-models' package "
            "(pip install face-recognition-models), or set [faces] enabled = false"
        )
    return folder / name


def engine_problem(detector: str = "hog") -> str | None:
    """Why the faces engine cannot load here, or None. Cheap: dlib is looked for, not imported."""
    try:
        spec = importlib.util.find_spec("dlib")
    except (ImportError, ValueError) as exc:
        return " ".join(str(exc).split()) or "dlib cannot be imported"
    if spec is None:
        return "No module named 'dlib'"
    names = [SHAPE_PREDICTOR, FACE_ENCODER, *([CNN_DETECTOR] if detector == "cnn" else [])]
    for name in names:
        try:
            model_path(name)
        except UserError as exc:
            return str(exc)
    return None
