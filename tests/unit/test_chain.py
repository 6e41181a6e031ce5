"""The generator chain: stages from the show, failures bypassed, never black or NaN."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import get_args

import numpy as np
import pytest
import torch

from installation.errors import ShowError
from installation.generator.chain import GeneratorChain, GuardedStage
from installation.generator.factory import make_generator
from installation.generator.latent_walk import LatentWalk
from installation.generator.sources import SOURCES
from installation.generator.stage import CppnImage
from installation.generator.stages import KINDS
from installation.messages import Controls
from installation.show import GeneratorSpec, StageSpec, load_show

SPEC = GeneratorSpec(size=(40, 24))


class Raises:
    name = "raises"

    def __init__(self) -> None:
        self.calls = 0
        self.resets = 0

    def __call__(self, image: torch.Tensor, controls: Controls) -> torch.Tensor:
        self.calls += 1
        raise RuntimeError("the artist's model broke")

    def reset(self) -> None:
        self.resets += 1


class Returns:
    """A stage returning whatever ``make(image)`` gives."""

    def __init__(self, make, name: str = "returns") -> None:
        self.make = make
        self.name = name

    def __call__(self, image: torch.Tensor, controls: Controls) -> torch.Tensor:
        return self.make(image)

    def reset(self) -> None:
        pass


class OutOfMemory(Raises):
    name = "oom"

    def __call__(self, image: torch.Tensor, controls: Controls) -> torch.Tensor:
        self.calls += 1
        raise MemoryError


class NanSource:
    """A source that gives one good image, then NaN."""

    latent_dim = 4

    def __init__(self, good_first: bool) -> None:
        self.good = good_first

    def render(self, z: torch.Tensor) -> torch.Tensor:
        value = 0.25 if self.good else float("nan")
        self.good = False
        return torch.full((24, 40, 3), value)


def chain(stages=(), model=None) -> GeneratorChain:
    model = model or CppnImage(SPEC, torch.device("cpu"), torch.float32)
    walk = LatentWalk(GeneratorSpec(size=(40, 24), latent_dim=model.latent_dim))
    return GeneratorChain(model, walk, (40, 24), torch.device("cpu"), torch.float32,
                          stages=stages)


def frames(generator: GeneratorChain, n: int = 3) -> list[np.ndarray]:
    return [generator(Controls(t=i / 15, values={})).pixels.copy() for i in range(n)]


def test_a_stage_that_raises_is_bypassed_and_the_piece_goes_on(caplog) -> None:
    stage = Raises()
    with caplog.at_level(logging.WARNING):
        out = frames(chain([stage]), 4)
    # The source's images, untouched.
    assert all(np.array_equal(a, b) for a, b in zip(out, frames(chain(), 4), strict=True))
    assert stage.calls == 4  # tried on every image: a glitch does not turn it off
    logged = [r for r in caplog.records if "bypassed" in r.getMessage()]
    assert len(logged) == 1  # rate-limited: one line, not one per image
    assert "raises" in logged[0].getMessage() and "broke" in logged[0].getMessage()


@pytest.mark.parametrize("make", [
    lambda im: im * float("nan"),
    lambda im: im[:, :, :8],
    lambda im: im.double(),
    lambda im: "not a tensor",
], ids=["nan", "wrong-shape", "wrong-dtype", "not-a-tensor"])
def test_a_stage_returning_a_broken_image_is_bypassed(make) -> None:
    out = frames(chain([Returns(make)]))
    assert all(np.array_equal(a, b) for a, b in zip(out, frames(chain()), strict=True))


def test_out_of_memory_turns_the_stage_off_for_the_run(caplog) -> None:
    stage = OutOfMemory()
    generator = chain([stage, Returns(lambda im: 1.0 - im, name="invert")])
    with caplog.at_level(logging.ERROR):
        out = frames(generator, 3)
    assert stage.calls == 1
    assert not generator.stages[0].enabled
    assert any("out of memory" in r.getMessage() for r in caplog.records)
    # The stage after it still runs.
    assert all(np.abs(a.astype(int) + b.astype(int) - 255).max() <= 1
               for a, b in zip(out, frames(chain()), strict=True))


def test_stages_run_in_order_on_the_source_image() -> None:
    halve = Returns(lambda im: im * 0.5, "halve")
    invert = Returns(lambda im: 1.0 - im, "invert")
    plain = frames(chain())[0].astype(float) / 255
    both = frames(chain([halve, invert]))[0].astype(float) / 255
    assert np.abs(both - (1.0 - plain * 0.5)).max() < 2.5 / 255


def test_a_source_that_returns_nan_shows_its_last_good_image_or_grey() -> None:
    good_then_nan = frames(chain(model=NanSource(good_first=True)), 3)
    assert all((f == round(0.25 * 255)).all() for f in good_then_nan)
    never_good = frames(chain(model=NanSource(good_first=False)), 2)
    assert all((f == 128).all() for f in never_good)


def test_reset_reaches_every_stage() -> None:
    stage = Raises()
    generator = chain([stage])
    generator.reset()
    assert stage.resets == 1


def test_guarded_stage_logs_again_after_the_quiet_period(caplog) -> None:
    now = [0.0]
    guarded = GuardedStage(Raises(), clock=lambda: now[0])
    image = torch.rand(1, 3, 8, 8)
    with caplog.at_level(logging.WARNING):
        for t in (0.0, 1.0, 2.0, 11.0):
            now[0] = t
            assert guarded(image, Controls(t=t, values={})) is image
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "2 more" in lines[1]


def write_show(folder: Path, stages: str, generator: str = "") -> Path:
    (folder / "p.frag").write_text("void main() {}\n")
    show = folder / "show.toml"
    show.write_text(f"[generator]\nsize = [40, 24]\n{generator}\n{stages}\n"
                    '[[passes]]\nshader = "p.frag"\n')
    return show


def test_show_declares_stages_in_order_with_their_controls(tmp_path: Path) -> None:
    show = load_show(write_show(tmp_path, '[[generator.stages]]\nkind = "dream"\n'
                                'path = "net.pt"\nintensity_control = "arousal"\n\n'
                                '[[generator.stages]]\nkind = "model"\npath = "style.onnx"\n'
                                'mix = 0.5\n'))
    first, second = show.generator.stages
    assert first.kind == "dream" and first.intensity_control == "arousal"
    assert first.path == tmp_path / "net.pt"
    assert second.kind == "model" and second.mix == 0.5 and second.label == "model"


def test_unknown_stage_key_names_the_file_line_and_key(tmp_path: Path) -> None:
    path = write_show(tmp_path, '[[generator.stages]]\nkind = "dream"\nintensty = 2\n')
    with pytest.raises(ShowError, match=r"show\.toml:6: generator\.stages\[0\]\.intensty: "
                                        r"unknown key"):
        load_show(path)


def test_a_model_stage_needs_a_file(tmp_path: Path) -> None:
    path = write_show(tmp_path, '[[generator.stages]]\nkind = "model"\n')
    with pytest.raises(ShowError, match=r'generator\.stages\[0\]: kind = "model" needs path'):
        load_show(path)


def test_a_dream_on_a_cppn_without_a_network_is_a_show_error(tmp_path: Path) -> None:
    show = load_show(write_show(tmp_path, '[[generator.stages]]\nkind = "dream"\n'))
    with pytest.raises(ShowError, match=r"a dream needs a network"):
        make_generator(show, device="cpu")


def test_a_disabled_stage_is_not_built(tmp_path: Path) -> None:
    show = load_show(write_show(tmp_path, '[[generator.stages]]\nkind = "model"\n'
                                'path = "missing.onnx"\nenabled = false\n'))
    assert make_generator(show, device="cpu").stages == []


def test_every_model_and_stage_kind_the_show_accepts_has_a_builder() -> None:
    assert set(get_args(_hint(GeneratorSpec, "model"))) == set(SOURCES)
    assert set(get_args(_hint(StageSpec, "kind"))) == set(KINDS)


def _hint(cls: type, name: str):
    from typing import get_type_hints

    return get_type_hints(cls)[name]


class Counting(NanSource):
    """A stateful source (as the NCA is): it counts the resets it is given."""

    def __init__(self) -> None:
        super().__init__(good_first=True)
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1


def test_reset_reaches_a_stateful_source_as_well_as_the_stages() -> None:
    stage, source = Raises(), Counting()
    generator = chain([stage], model=source)
    generator.reset()
    assert (source.resets, stage.resets) == (1, 1)


def test_a_cpu_image_is_made_with_one_torch_thread_and_the_count_comes_back() -> None:
    # The renderer shares the CPU: the chain makes its images with one torch thread (the
    # spinning second thread cost 4x on the loaded machine, BENCHMARKS.md) and leaves the
    # caller's count as it was.
    seen = []

    def record(image: torch.Tensor) -> torch.Tensor:
        seen.append(torch.get_num_threads())
        return image

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        chain([Returns(record)])(Controls(t=0.0, values={}, stream_status={}))
        assert seen == [1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
