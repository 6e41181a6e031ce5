"""Write rendered frames to an H.264 MP4 or to a folder of PNG files, with PyAV."""

from __future__ import annotations

import queue
import threading
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc

from installation.messages import Frame


def _check_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    if pixels.shape != (height, width, 3) or pixels.dtype != np.uint8:
        raise ValueError(
            f"frame must be ({height}, {width}, 3) uint8, got {pixels.shape} {pixels.dtype}"
        )
    return np.ascontiguousarray(pixels)


class VideoWriter:
    """Encode frames to an H.264 (libx264, yuv420p) video at an exact frame rate.

    The ``n``-th frame written gets ``pts = n`` in a ``1/fps`` time base, so the file's
    timing is exact whatever the frames' own ``t`` (a replay renders on a fixed step).

    Parameters
    ----------
    path
        Output file, e.g. ``out.mp4``; the container follows the suffix.
    size
        ``(width, height)``; both must be even (yuv420p halves the chroma planes).
    fps
        Frames per second (an int, or a Fraction such as ``Fraction(30000, 1001)``).
    crf
        x264 constant rate factor: 18 is visually near-lossless, higher is smaller.
    preset
        x264 speed/size trade-off (``ultrafast`` ... ``veryslow``).

    Raises
    ------
    ValueError
        Odd or non-positive size, or a non-positive frame rate.
    """

    def __init__(
        self,
        path: str | Path,
        size: tuple[int, int],
        fps: int | Fraction,
        crf: int = 18,
        preset: str = "medium",
    ) -> None:
        width, height = int(size[0]), int(size[1])
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"H.264 yuv420p needs a positive, even width and height, got {size}")
        rate = Fraction(fps)
        if rate <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        self.size = (width, height)
        self.fps = rate
        self.frames_written = 0
        self._container = av.open(str(self.path), mode="w")
        try:
            stream = self._container.add_stream("libx264", rate=rate)
            stream.width = width
            stream.height = height
            stream.pix_fmt = "yuv420p"
            stream.time_base = 1 / rate
            stream.codec_context.time_base = 1 / rate
            stream.options = {"crf": str(int(crf)), "preset": preset}
            # Convert with BT.709 and say so in the file: untagged video leaves players to
            # guess (BT.601 for small sizes, BT.709 for HD), which shifts the artist's colours.
            codec = stream.codec_context
            codec.colorspace = Colorspace.ITU709
            codec.color_primaries = ColorPrimaries.BT709
            codec.color_trc = ColorTrc.BT709
            codec.color_range = ColorRange.MPEG
        except BaseException:
            self._container.close()
            raise
        self._stream = stream
        self._closed = False

    def write(self, frame: Frame) -> None:
        """Encode one frame.

        Parameters
        ----------
        frame
            ``(height, width, 3)`` uint8 pixels, top row first.
        """
        if self._closed:
            raise ValueError(f"{self.path} is closed")
        pixels = _check_pixels(frame.pixels, self.size)
        video_frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(
            format="yuv420p", dst_colorspace=Colorspace.ITU709
        )
        video_frame.pts = self.frames_written
        video_frame.time_base = self._stream.codec_context.time_base
        self._container.mux(self._stream.encode(video_frame))
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and finish the file; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def encode_png(pixels: np.ndarray) -> bytes:
    """Encode ``(h, w, 3)`` uint8 pixels, top row first, as PNG bytes.

    Parameters
    ----------
    pixels
        The image.

    Returns
    -------
    bytes
        A complete PNG file.
    """
    height, width = pixels.shape[:2]
    pixels = _check_pixels(pixels, (width, height))
    codec = av.CodecContext.create("png", "w")
    codec.width = width
    codec.height = height
    codec.pix_fmt = "rgb24"
    frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
    packets = [*codec.encode(frame), *codec.encode(None)]
    return b"".join(bytes(p) for p in packets)


def write_png(path: str | Path, pixels: np.ndarray) -> None:
    """Write ``(h, w, 3)`` uint8 pixels, top row first, to a PNG file.

    Parameters
    ----------
    path
        The file to write.
    pixels
        The image.
    """
    Path(path).write_bytes(encode_png(pixels))


def read_png(path: str | Path) -> np.ndarray:
    """Read a PNG file as ``(h, w, 3)`` uint8 pixels, top row first.

    Parameters
    ----------
    path
        The file to read.

    Returns
    -------
    numpy.ndarray
        The image.
    """
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


class PngSequenceWriter:
    """Write frames as ``folder/frame_000000.png`` ..., with :class:`VideoWriter`'s interface.

    Files are named by ``Frame.index``, so a frame can be found by its index.

    Parameters
    ----------
    folder
        Created if missing.
    pattern
        File name format, given ``index``.
    """

    def __init__(self, folder: str | Path, pattern: str = "frame_{index:06d}.png") -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pattern = pattern
        self.frames_written = 0
        self._closed = False

    def write(self, frame: Frame) -> None:
        """Write one frame to its own PNG file.

        Parameters
        ----------
        frame
            ``(h, w, 3)`` uint8 pixels, top row first.
        """
        if self._closed:
            raise ValueError(f"{self.folder} writer is closed")
        write_png(self.folder / self.pattern.format(index=frame.index), frame.pixels)
        self.frames_written += 1

    def close(self) -> None:
        """Finish; every frame is already on disk."""
        self._closed = True

    def __enter__(self) -> PngSequenceWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class BackgroundWriter:
    """Run another writer's ``write`` on a worker thread, so encoding overlaps rendering.

    libx264 and PyAV release the GIL while they work, so on a 2-core machine the encoder
    runs while the main thread renders the next frame. The queue is bounded (memory stays
    flat if the encoder falls behind: the main thread then waits), frames are written in
    order, and an error in the worker is raised again on the next ``write`` or ``close``.

    Parameters
    ----------
    inner
        A :class:`VideoWriter`, :class:`PngSequenceWriter` or anything with ``write(frame)``
        and ``close()``.
    depth
        Frames that may wait for the encoder.
    """

    def __init__(self, inner: VideoWriter | PngSequenceWriter, depth: int = 4) -> None:
        self.inner = inner
        self._queue: queue.Queue[Frame | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="frame-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (frame := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.inner.write(frame)
                except BaseException as error:  # handed to the main thread, not swallowed
                    self._error = error

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def write(self, frame: Frame) -> None:
        """Queue one frame (waits while ``depth`` frames are already queued)."""
        if self._closed:
            raise ValueError("writer is closed")
        self._raise_pending()
        self._queue.put(frame)

    def close(self) -> None:
        """Wait for queued frames, close the inner writer, re-raise any worker error."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        try:
            self._raise_pending()
        finally:
            self.inner.close()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
