"""Detection details that the corpus photos do not exercise: the adaptive second pass on a group photo."""

from __future__ import annotations

from PIL import Image

from homeroll.daemon.faces.detect import FaceDetector, load_displayed


def test_small_faces_in_a_large_group_photo_trigger_the_second_pass(corpus, tmp_path):
    with Image.open(corpus / "face_recognition" / "examples" / "obama.jpg") as src:
        head = src.convert("RGB").crop((300, 60, 700, 500))
    canvas = Image.new("RGB", (4000, 3000), (200, 200, 190))
    for i, size in enumerate([330, 330, 150, 150, 150]):  # faces of about 200 and 95 px in 12 MP
        canvas.paste(head.resize((size, round(size * 1.1))), (200 + i * 700, 1200))
    canvas.save(tmp_path / "group.jpg", quality=92)

    detector = FaceDetector()
    image, full = load_displayed(tmp_path / "group.jpg", detector.detect_size_max)
    assert full == (4000, 3000) and max(image.size) <= 2 * detector.detect_size_max
    first_pass_only = detector._boxes_at(image, detector.detect_size / max(image.size), detector.upsample)
    result = detector.detect_path(tmp_path / "group.jpg")
    assert len(first_pass_only) < 5
    assert result.passes == 3 and len(result.faces) == 5  # pre-pass, closer look, larger decode
    assert all(0 <= f.left < f.right <= 1 and 0 <= f.top < f.bottom <= 1 for f in result.faces)
    assert all(f.crop[:2] == b"\xff\xd8" and f.encoding.shape == (128,) for f in result.faces)


def test_a_photo_with_no_face_costs_the_pre_pass_alone(tmp_path):
    from homeroll.demo.media import scene

    decodes = []
    detector = FaceDetector()
    image = scene(3, (1000, 750))
    result = detector.detect_image(image, (4000, 3000), lambda: decodes.append(1) or image.resize((2000, 1500)))
    assert result.faces == [] and result.passes == 1 and decodes == []


def test_a_closer_look_that_finds_only_large_faces_never_decodes_the_photo_larger(corpus):
    # a lead near a large face (or a spurious one) brings a closer look; with no small face found there,
    # the larger decode (30 ms of a 12-MP JPEG at 1/2) is for nothing
    with Image.open(corpus / "face_recognition" / "examples" / "obama.jpg") as src:
        head = src.convert("RGB").crop((300, 60, 700, 500)).resize((220, 242))
    image = Image.new("RGB", (1000, 750), (200, 200, 190))
    image.paste(head, (400, 250))
    detector = FaceDetector()
    decodes = []
    boxes, used = detector._closer_look(image, detector._prepare(image), (0, image.height),
                                        lambda: decodes.append(1) or image.resize((2000, 1500)))
    assert len(boxes) == 1 and used == 1 and decodes == []


def test_a_small_old_camera_photo_keeps_the_whole_upsampled_look(corpus):
    # 640x480 with a 36-px face: too few pixels for the cheap pre-pass to answer (no lead at all)
    photo = corpus / "exif-samples" / "jpg" / "exif-org" / "sony-cybershot.jpg"
    result = FaceDetector().detect_path(photo)
    assert len(result.faces) == 1 and result.faces[0].size_px < 48


def test_an_unreadable_file_is_skipped_with_a_reason(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result = FaceDetector().detect_path(bad)
    assert result.faces == [] and result.skipped


def test_a_photo_that_hangs_its_worker_is_skipped_with_a_reason(corpus):
    from homeroll.daemon.faces import job

    photo = str(corpus / "face_recognition" / "examples" / "obama.jpg")
    results = []
    settings = {"detector": "hog", "detect_size": 1024, "detect_size_max": 1600, "upsample": 1,
                "max_image_pixels": 80_000_000}
    job.detect_many([(1, photo), (2, photo)], 1, settings, 0,
                    lambda *r: results.append(r), timeout=0.05)  # nothing finishes in 50 ms: treated as hung
    assert sorted(r[0] for r in results) == [1, 2]
    assert all(r[1] == [] and "took longer" in r[2] for r in results)
    assert job._WARM.pool is None
