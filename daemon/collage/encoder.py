"""PyAV at the film's two ends: the MP4 written with H.264 (the Pi's hardware where it works, else libx264)
and AAC, and the memory's own videos read back as frames at the film's rate.

PyAV's wheels carry FFmpeg with libx264, and on a Pi ``h264_v4l2m2m``. A hardware encoder that is
compiled in may still have no device behind it (every x86 box, a Pi with the codec driver off), or open
and then fail on the first frame, so "auto" opens it on its own and encodes one test frame before the
film commits to it; the answer is remembered per size for the life of the process. The output is MP4
with the index first (``+faststart``), so a TV or a browser starts playing before the whole file has
arrived over the share; colours are tagged BT.709, which is what players assume for HD anyway.

Clips are read here too, because the same PyAV quirks decide how they look: the display matrix a phone
writes for rotation, variable frame rates (the frame shown is the newest at or before each film time),
and 10-bit HDR frames, which swscale turns into 8-bit RGB while it resizes (not tone-mapped: a little
flat, but playable everywhere).
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
from collections.abc import Callable
from fractions import Fraction
from typing import BinaryIO

import av
import numpy as np
from PIL import Image

from homeroll.daemon.collage.kenburns import COVER_MIN_ASPECT
from homeroll.daemon.config import VIDEO_ENCODERS

log = logging.getLogger(__name__)

__all__ = ["ENCODERS", "SAMPLE_RATE", "ClipError", "ClipReader", "FilmWriter", "choose_encoder", "video_length"]

ENCODERS = VIDEO_ENCODERS  # one list: the config checks [export] video_encoder against it without PyAV
HARDWARE = "h264_v4l2m2m"
SOFTWARE = "libx264"
SAMPLE_RATE = 48000
_BT709 = 1  # AVCOL_PRI_BT709 / AVCOL_TRC_BT709 / AVCOL_SPC_BT709 share the value


def _bit_rate(width: int, height: int, fps: int) -> int:
    """About 8 Mb/s at 1080p30: a hardware encoder has no CRF, and photos that drift slowly compress well."""
    return int(width * height * fps * 0.13)


@functools.lru_cache(maxsize=16)
def _probe_encoder(name: str, width: int, height: int, fps: int) -> str | None:
    """None if ``name`` opens and turns a test frame into a packet, else the reason it cannot be used."""
    try:
        ctx = av.CodecContext.create(name, "w")
        ctx.width, ctx.height = width, height
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = Fraction(1, fps)
        ctx.framerate = Fraction(fps)
        ctx.bit_rate = _bit_rate(width, height, fps)
        ctx.open()
        frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 128, np.uint8), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = 0
        packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    except Exception as exc:  # noqa: BLE001 - FFmpeg reports a missing device in many ways
        return f"{type(exc).__name__}: {exc}"
    return None if packets else "no packet from a test frame"


def choose_encoder(requested: str, width: int, height: int, fps: int) -> str:
    """The encoder to use for ``requested`` ("auto", "libx264" or "h264_v4l2m2m"). A hardware encoder that
    does not work falls back to libx264 with a warning, so an export never fails for want of a device."""
    if requested not in ENCODERS:
        raise ValueError(f"unknown video encoder {requested!r} (choose from {', '.join(ENCODERS)})")
    if requested == SOFTWARE:
        return SOFTWARE
    reason = _probe_encoder(HARDWARE, width, height, fps)
    if reason is None:
        return HARDWARE
    if requested == HARDWARE:
        log.warning("video: %s does not work here (%s); using %s", HARDWARE, reason, SOFTWARE)
    else:
        log.info("video: %s unavailable (%s); using %s", HARDWARE, reason, SOFTWARE)
    return SOFTWARE


class _Guarded:
    """The caller's file as PyAV writes it: the first OSError (a full disk) is kept and raised, and after it
    every write, seek and flush is a quiet no-op. FFmpeg goes on writing while it unwinds (the trailer,
    the faststart pass), and PyAV would print a traceback for each of those failing calls; one error,
    said once, is the truth."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.error: OSError | None = None

    def _call(self, fn, *args, quiet=None):  # noqa: ANN001, ANN202 - a thin pass-through
        if self.error is not None:
            return quiet
        try:
            return fn(*args)
        except OSError as exc:
            self.error = exc
            raise

    def write(self, data: bytes) -> int:
        return self._call(self.out.write, data, quiet=len(data))

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._call(self.out.seek, offset, whence, quiet=0)

    def tell(self) -> int:
        return self._call(self.out.tell, quiet=0)

    def flush(self) -> None:
        self._call(self.out.flush)

    def __getattr__(self, name: str):  # noqa: ANN204 - fileno, readable, getbuffer… of the real file
        return getattr(self.out, name)


class _ReadBack:
    """A reader of the file being written, with its own position: what ``+faststart`` needs to move the
    index to the front. FFmpeg would reopen the output by name, and the export's file has none (an
    O_TMPFILE in the export folder), so it reads back through the same file object instead."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.position, self.fd = out, 0, None
        if not hasattr(out, "getbuffer"):
            # a write-only file cannot be read through its own descriptor: reopen it (Linux) for reading
            self.fd = out.fileno() if out.readable() else os.open(f"/proc/self/fd/{out.fileno()}", os.O_RDONLY)
            self.owned = not out.readable()

    def read(self, size: int) -> bytes:
        if getattr(self.out, "error", None) is not None:
            return b""  # the write failed (a full disk): nothing more to move
        self.out.flush()  # FFmpeg flushed its buffer to us; Python's own buffer must reach the file too
        if hasattr(self.out, "getbuffer"):
            data = bytes(self.out.getbuffer()[self.position:self.position + size])
        else:
            data = os.pread(self.fd, size, self.position)
        self.position += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_END and getattr(self.out, "error", None) is not None:
            return self.position
        if whence == os.SEEK_END:
            self.out.flush()
            base = self.out.getbuffer().nbytes if hasattr(self.out, "getbuffer") else os.fstat(self.out.fileno()).st_size
            self.position = base + offset
        else:
            self.position = offset + (self.position if whence == os.SEEK_CUR else 0)
        return self.position

    def tell(self) -> int:
        return self.position

    def close(self) -> None:
        """Close only a descriptor opened here: the file itself belongs to the caller."""
        if self.fd is not None and self.owned:
            os.close(self.fd)
        self.fd = None


class FilmWriter:
    """An MP4 being written to ``out``: video frames from RGB images, audio from float samples."""

    def __init__(self, out: BinaryIO, width: int, height: int, fps: int, encoder: str, *, threads: int = 0,
                 audio: bool = False) -> None:
        guarded = _Guarded(out)
        self.container = av.open(guarded, "w", format="mp4", options={"movflags": "+faststart"},
                                 io_open=lambda url, flags, options: _ReadBack(guarded))
        self.video = self.container.add_stream(encoder, rate=fps)
        ctx = self.video.codec_context
        self.video.width, self.video.height = width, height
        self.video.pix_fmt = "yuv420p"
        ctx.gop_size = fps * 2
        ctx.colorspace = ctx.color_primaries = ctx.color_trc = _BT709
        ctx.color_range = 1  # limited ("TV") range, what every player expects from H.264
        if threads:
            ctx.thread_count = threads
        if encoder == SOFTWARE:
            # veryfast: near the speed of superfast at a third of the size for slow-moving photos
            self.video.options = {"preset": "veryfast", "crf": "22", "profile": "high"}
        else:
            ctx.bit_rate = _bit_rate(width, height, fps)
        self.frames = 0
        self.audio = None
        self._pending = np.zeros((2, 0), np.float32)
        self._samples = 0
        if audio:
            self.audio = self.container.add_stream("aac", rate=SAMPLE_RATE)
            self.audio.layout = "stereo"
            self.audio.codec_context.bit_rate = 160_000

        self._encoding = _EncodeThread()

    def write_video(self, image: Image.Image) -> None:
        """Queue one frame: it is converted and encoded in the encode thread while the next one is drawn."""
        self.frames += 1
        self._encoding.put(self._encode_video, image, self.frames - 1)

    def _encode_video(self, image: Image.Image, pts: int) -> None:
        frame = av.VideoFrame.from_image(image).reformat(format="yuv420p", dst_colorspace="ITU709")
        frame.pts = pts
        for packet in self.video.encode(frame):
            self.container.mux(packet)

    def write_audio(self, samples: np.ndarray) -> None:
        """Queue (2, n) float samples in -1..1; whole encoder frames are encoded as they fill."""
        if self.audio is None or samples.shape[1] == 0:
            return
        self._pending = np.concatenate([self._pending, samples.astype(np.float32, copy=False)], axis=1)
        size = self.audio.codec_context.frame_size or 1024
        while self._pending.shape[1] >= size:
            self._encoding.put(self._encode_audio, self._pending[:, :size])
            self._pending = self._pending[:, size:]

    def _encode_audio(self, chunk: np.ndarray) -> None:
        assert self.audio is not None
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._samples
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._samples += chunk.shape[1]
        for packet in self.audio.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        """Flush both encoders and write the index. Call once, after the last frame."""
        self._encoding.finish()
        if self.audio is not None and self._pending.shape[1]:
            self._encode_audio(self._pending)
            self._pending = self._pending[:, :0]
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        for stream in streams:
            for packet in stream.encode(None):
                self.container.mux(packet)
        self.container.close()

    def abort(self) -> None:
        """Give up without flushing (the caller discards the file)."""
        self._encoding.finish(check=False)
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - a half-written container may refuse to close cleanly
            log.debug("video: closing an aborted film failed", exc_info=True)


class _EncodeThread:
    """One thread that does all of the container's work (PyAV's muxer is not thread-safe), in order, while
    the caller draws the next frame: drawing (Pillow's resizes) and x264 then share the cores, and the film
    takes about two thirds of the time it takes in turns. The queue is short, so at most a few 720p or 1080p
    frames wait (under 30 MB). Created from the render's low-priority thread, it inherits its niceness.
    An error in the thread is raised in the caller at its next frame, or at ``finish``."""

    def __init__(self, depth: int = 3) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="film-encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            if self._error is None:
                try:
                    job[0](*job[1:])
                except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
                    self._error = exc

    def put(self, fn: Callable, *args) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((fn, *args))

    def finish(self, check: bool = True) -> None:
        """Wait until every queued job has run; ``check`` raises the first error one of them had."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if check and self._error is not None:
            raise self._error


class ClipError(Exception):
    """A clip whose picture cannot be decoded."""


def video_length(path: str) -> float:
    """Seconds of the first picture stream (0.0 when the file does not say)."""
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
            return (container.duration or 0) / 1_000_000
    except Exception:  # noqa: BLE001 - probe() already opened it; a length is only a hint
        return 0.0


class ClipReader:
    """A video clip's frames at film times: the newest decoded frame at or before each time, so a
    variable or different frame rate comes out at the film's; rotation applied, 10-bit made 8-bit."""

    def __init__(self, path: str, start: float, size: tuple[int, int],
                 fill: Callable[[Image.Image, tuple[int, int]], Image.Image]) -> None:
        self.start, self.size, self.fill = start, size, fill
        try:
            self.container = av.open(path)
            self.stream = self.container.streams.video[0]
            self.stream.thread_type = "AUTO"
            if start > 0.5:
                self.container.seek(int(start / self.stream.time_base), stream=self.stream, backward=True)
            self.frames = self.container.decode(self.stream)
            self.current = next(self.frames)
        except Exception as exc:  # noqa: BLE001 - PyAV raises many types; all mean "unusable video"
            raise ClipError(f"cannot decode video ({type(exc).__name__}: {exc})") from None
        self.ahead = self._next()
        self.shown: tuple[object, Image.Image] | None = None

    def _next(self):
        try:
            return next(self.frames)
        except StopIteration:
            return None
        except Exception as exc:  # noqa: BLE001 - a damaged tail: hold the last good frame
            log.warning("video: clip stops early: %s", exc)
            return None

    def frame_at(self, local: float) -> Image.Image:
        target = self.start + local
        while self.ahead is not None and (self.ahead.time is None or self.ahead.time <= target + 1e-6):
            self.current, self.ahead = self.ahead, self._next()
        if self.shown is None or self.shown[0] is not self.current:
            self.shown = (self.current, self._picture(self.current))
        return self.shown[1]

    def _picture(self, frame) -> Image.Image:
        width, height = self.size
        turns = round((frame.rotation or 0) / 90) % 4
        stored_w, stored_h = frame.width, frame.height
        shown_w, shown_h = (stored_h, stored_w) if turns % 2 else (stored_w, stored_h)
        aspect = shown_w / shown_h
        cover = aspect >= COVER_MIN_ASPECT
        scale = max(width / shown_w, height / shown_h) if cover else min(width / shown_w, height / shown_h)
        out_w, out_h = max(2, round(shown_w * scale)), max(2, round(shown_h * scale))
        if turns % 2:
            out_w, out_h = out_h, out_w
        # swscale resizes and turns 10-bit or odd formats into 8-bit RGB in one pass
        img = frame.reformat(width=out_w, height=out_h, format="rgb24").to_image()
        if turns:
            img = img.transpose((None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180,
                                 Image.Transpose.ROTATE_270)[turns])
        if cover:
            left, top = (img.width - width) // 2, (img.height - height) // 2
            return img.crop((left, top, left + width, top + height))
        canvas = self.fill(img, self.size)
        canvas.paste(img, ((width - img.width) // 2, (height - img.height) // 2))
        return canvas

    def close(self) -> None:
        self.container.close()
