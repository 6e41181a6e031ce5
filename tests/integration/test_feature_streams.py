"""A show declaring PPG, EDA and RSP streams loads, and the pipeline's extractors read them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from installation.messages import Chunk, Status, StreamInfo
from installation.pipeline import make_extractor
from installation.show import load_show


def test_show_with_body_streams_drives_real_extractors(tmp_path: Path, repo: Path,
                                                       shared_data: Path) -> None:
    shader = tmp_path / "plain.frag"
    shader.write_text((repo / "shaders").joinpath(next(
        p.name for p in (repo / "shaders").glob("*.frag"))).read_text())
    (tmp_path / "show.toml").write_text(
        '[streams.ppg]\ntype = "PPG"\nchannel = 1\n'
        '[streams.eda]\ntype = "EDA"\n'
        '[streams.breath]\ntype = "RSP"\nchannel = 2\n'
        '[streams.strap]\ntype = "RR"\nrequired = false\n'
        '[[mappings]]\ncontrol = "calm"\nfeature = "breath.resp_rate"\nin_range = [6.0, 20.0]\n'
        '[[passes]]\nshader = "plain.frag"\n'
    )
    show = load_show(tmp_path / "show.toml")
    d = np.loadtxt(
        shared_data / "neurokit" / "bio_resting_5min_100hz.csv", delimiter=",", skiprows=1
    )
    ts = np.arange(d.shape[0]) / 100.0
    info = StreamInfo("bio", "PPG", 3, 100.0)
    extractors = {k: make_extractor(k, spec) for k, spec in show.streams.items()}
    last = {}
    for i in range(0, 6000, 10):  # one minute in 100 ms chunks
        chunk = Chunk(info, ts[i : i + 10], d[i : i + 10], float(ts[i + 9]))
        last = {k: ex(chunk) for k, ex in extractors.items() if k != "strap"}
    assert last["ppg"].status is Status.OK and 50 < last["ppg"].values["heart_rate"] < 100
    assert last["breath"].status is Status.OK and 8 < last["breath"].values["resp_rate"] < 25
    assert {"eda_tonic", "scr_rate"} <= set(last["eda"].values)  # no EDA here: it just runs
    assert extractors["strap"](Chunk(StreamInfo("rr", "RR", 1, 0.0), np.empty(0),
                                     np.empty((0, 1)), 1.0)).status is Status.STALE
