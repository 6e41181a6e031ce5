"""The Dreaming piece's dream network: contours.pt is what its tool builds, and the piece's
dream deepens with arousal and zooms with the heartbeat."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

from installation.generator.factory import make_generator
from installation.messages import Controls
from installation.show import load_show

REPO = Path(__file__).resolve().parents[2]
SHOW = REPO / "pieces" / "dreaming" / "show.toml"
sys.path.insert(0, str(REPO / "tools"))

from make_dream_network import ContourNetwork, build  # noqa: E402


def test_the_committed_network_is_the_one_the_tool_builds(tmp_path: Path) -> None:
    committed = torch.jit.load(str(REPO / "pieces" / "dreaming" / "contours.pt"))
    rebuilt = torch.jit.load(str(build(tmp_path / "contours.pt")))
    image = torch.rand(1, 3, 108, 192, generator=torch.Generator().manual_seed(1))
    assert torch.equal(committed(image), rebuilt(image))


def test_the_network_answers_oriented_contours_along_their_orientation() -> None:
    net = ContourNetwork()
    _y, x = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    # Vertical stripes (varying along x) excite the filters whose carrier runs along x.
    stripes = (0.5 + 0.5 * torch.cos(2 * torch.pi * x / 4.0)).expand(1, 3, 64, 64)
    flat = torch.full((1, 3, 64, 64), 0.5)
    act = net(stripes)[0].reshape(8, -1).mean(dim=1)  # luminance row, fine scale (8 oris)
    assert int(act.argmax()) == 0
    assert float(net(flat).abs().max()) < 1e-2 * float(act.max())


def _images(depth: float, pulse_every: int = 0, n: int = 12, zoom_kick: float | None = None
            ) -> list[np.ndarray]:
    show = load_show(SHOW)
    if zoom_kick is not None:
        stages = tuple(dataclasses.replace(st, zoom_kick=zoom_kick) for st in show.generator.stages)
        show = dataclasses.replace(show, generator=dataclasses.replace(show.generator,
                                                                       stages=stages))
    generator = make_generator(show, device="cpu")
    out = []
    for i in range(n):
        pulse = 1.0 if pulse_every and i % pulse_every == pulse_every - 1 else 0.0
        values = {"calm": 0.4, "energy": 0.5, "depth": depth, "pulse": pulse}
        out.append(np.asarray(generator(Controls(t=i / 10, values=values)).pixels,
                              dtype=np.float64))
    return out


def _detail(image: np.ndarray) -> float:
    grey = image.mean(axis=2)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


def test_arousal_deepens_the_dream() -> None:
    shallow, deep = _images(0.0)[-1], _images(1.0)[-1]
    # The dream grows line work: more fine detail than the CPPN's soft field.
    assert _detail(deep) > 1.5 * _detail(shallow)


def test_a_heartbeat_kicks_the_dream_zoom() -> None:
    # The same beats with and without the stage's zoom kick: only the kick differs.
    plain = _images(1.0, pulse_every=4, n=6, zoom_kick=0.0)
    kicked = _images(1.0, pulse_every=4, n=6)
    assert np.array_equal(plain[2], kicked[2])  # before the first beat: the same dream
    assert np.abs(plain[3] - kicked[3]).mean() > 0.5  # grey levels, at the beat
