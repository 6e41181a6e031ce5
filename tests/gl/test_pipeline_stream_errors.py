"""A stage's bare KeyError/TypeError on a chunk becomes one line naming the stream."""

from __future__ import annotations

from pathlib import Path

import moderngl
import numpy as np
import pytest

from installation.errors import StreamDataError, UserError
from installation.messages import Chunk, StreamInfo
from installation.pipeline import Pipeline
from installation.show import load_show

REPO = Path(__file__).resolve().parents[2]


def test_an_extractor_failing_on_a_chunk_is_reported_with_the_stream_and_time(
    ctx: moderngl.Context,
) -> None:
    pipeline = Pipeline(load_show(REPO / "show.toml"), ctx, (64, 36), 30.0, device="cpu")
    try:
        def broken(chunk: Chunk):  # the fault injected: what a bug in a stage would raise
            raise KeyError("heart_rate")

        pipeline.extractors["ecg"] = broken
        info = StreamInfo("polar-h10", "ECG", 1, 130.0, source_id="h10-77")
        chunk = Chunk(info, np.array([1.0, 1.01]), np.zeros((2, 1)), 1.02)
        with pytest.raises(StreamDataError) as caught:
            pipeline.extract({"ecg": chunk}, 1.02)
    finally:
        pipeline.release()
    message = str(caught.value)
    assert isinstance(caught.value, UserError) and "\n" not in message
    assert message.startswith("streams.ecg (stream 'polar-h10', type 'ECG', source_id 'h10-77')")
    assert "2 samples ending at t = 1.020 s" in message and "KeyError: 'heart_rate'" in message
