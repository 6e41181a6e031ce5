from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from installation.messages import Frame
from installation.render.export import PngSequenceWriter, VideoWriter, read_png

from .conftest import synthetic_image


def frames(n: int, width: int, height: int) -> list[Frame]:
    return [
        Frame(index=i, t=i / 25, pixels=synthetic_image(width, height, seed=i).pixels)
        for i in range(n)
    ]


def test_video_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    written = frames(12, 160, 90)
    with VideoWriter(path, (160, 90), fps=25) as writer:
        for frame in written:
            writer.write(frame)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert stream.average_rate == Fraction(25)
        assert stream.codec_context.name == "h264"
    assert len(decoded) == 12
    assert decoded[0].shape == (90, 160, 3)
    # crf 18 is close to lossless; what is left is 4:2:0 chroma, and no colour-matrix shift.
    diff = decoded[3].astype(int) - written[3].pixels
    assert np.abs(diff).mean() < 4
    assert np.all(np.abs(diff.reshape(-1, 3).mean(axis=0)) < 2)


def test_video_odd_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        VideoWriter(tmp_path / "odd.mp4", (65, 36), fps=30)


def test_video_wrong_frame_size_is_refused(tmp_path: Path) -> None:
    with (
        VideoWriter(tmp_path / "out.mp4", (64, 36), fps=30) as writer,
        pytest.raises(ValueError, match="frame must be"),
    ):
        writer.write(frames(1, 32, 18)[0])


def test_png_sequence(tmp_path: Path) -> None:
    written = frames(3, 20, 10)
    with PngSequenceWriter(tmp_path / "png") as writer:
        for frame in written:
            writer.write(frame)
    names = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert names == ["frame_000000.png", "frame_000001.png", "frame_000002.png"]
    assert np.array_equal(read_png(tmp_path / "png" / "frame_000002.png"), written[2].pixels)
