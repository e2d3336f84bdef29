"""The encoder on numpy gives dlib's encodings: same model file, same chips, so old clusters stay valid."""

from __future__ import annotations

import dlib
import numpy as np
import pytest
from PIL import Image

from homeroll.daemon.faces import models
from homeroll.daemon.faces.encode import CHIP_PADDING, CHIP_PIXELS, ResNetEncoder, UnknownModel

PHOTOS = ["obama.jpg", "biden.jpg", "two_people.jpg", "knn_examples/test/obama_and_biden.jpg",
          "knn_examples/test/kit_with_rose.jpg"]


@pytest.fixture(scope="module")
def chips(corpus):
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(models.model_path(models.SHAPE_PREDICTOR)))
    found = []
    for name in PHOTOS:
        image = np.asarray(Image.open(corpus / "face_recognition" / "examples" / name).convert("RGB"))
        shapes = dlib.full_object_detections([predictor(image, r) for r in detector(image, 1)])
        found += dlib.get_face_chips(image, shapes, CHIP_PIXELS, CHIP_PADDING)
    assert len(found) >= 8
    return found


def test_the_numpy_encoder_gives_dlibs_encodings_on_the_corpus_faces(chips):
    reference = dlib.face_recognition_model_v1(str(models.model_path(models.FACE_ENCODER)))
    expected = np.array([reference.compute_face_descriptor(chip) for chip in chips], np.float32)
    encoded = ResNetEncoder(models.model_path(models.FACE_ENCODER)).encode(chips)
    assert encoded.shape == (len(chips), 128) and encoded.dtype == np.float32
    # float rounding of another summation order only: far below the 0.6 that tells two people apart
    assert np.abs(encoded - expected).max() < 1e-5
    assert np.linalg.norm(encoded - expected, axis=1).max() < 1e-4
    # and one at a time (a batch of one) is the same as in a batch
    assert np.abs(ResNetEncoder(models.model_path(models.FACE_ENCODER)).encode(chips[:1]) - encoded[:1]).max() < 1e-6


def test_a_model_file_of_another_shape_is_one_clear_error(tmp_path):
    data = models.model_path(models.FACE_ENCODER).read_bytes()
    at = data.index(b"\x01\x05relu_", 100_000)  # a unit without its first relu is not the network encode.py knows
    other = tmp_path / "other.dat"
    other.write_bytes(data[:at] + b"\x01\x05xelu_" + data[at + 7:])
    with pytest.raises(UnknownModel, match=r"other\.dat is not dlib's face ResNet \(unexpected layers .*reinstall"):
        ResNetEncoder(other)
    with pytest.raises(RuntimeError):  # dlib's own encoder cannot read it either: its network is compiled in
        dlib.face_recognition_model_v1(str(other))
    other.write_bytes(data[:len(data) // 2])  # a download cut short
    with pytest.raises(UnknownModel, match="is not dlib's face ResNet"):
        ResNetEncoder(other)
