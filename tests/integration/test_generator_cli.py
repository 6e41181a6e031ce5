"""``installation train`` and a trained or broken model in a show, as a user meets them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import pytest
from PIL import Image

from installation.generator.stage import CppnGenerator
from installation.generator.vae import load_checkpoint
from installation.messages import Controls
from installation.show import GeneratorSpec, load_show

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "installation", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    for i in range(8):
        spec = GeneratorSpec(size=(24, 24), seed=200 + i, architecture="radial")
        pixels = CppnGenerator(spec, device="cpu")(Controls(t=0.0, values={})).pixels
        Image.fromarray(pixels).save(folder / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def trained(images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trained") / "model.pt"
    result = run("train", images, "-o", out, "--size", "16", "--epochs", "2",
                 "--latent-dim", "6", "--batch-size", "4", "-q")
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "2 epochs" in result.stdout
    return out


def vae_show(folder: Path, model: Path) -> Path:
    (folder / "shaders").mkdir(exist_ok=True)
    for shader in (REPO / "shaders").iterdir():
        (folder / "shaders" / shader.name).write_text(shader.read_text())
    text = (REPO / "show.toml").read_text()
    assert 'model = "cppn"' in text
    text = text.replace('model = "cppn"', f'model = "vae"\npath = "{model}"')
    (folder / "show.toml").write_text(text)
    return folder / "show.toml"


def test_train_writes_a_loadable_checkpoint_and_sample_grids(trained: Path) -> None:
    checkpoint = load_checkpoint(trained)
    assert checkpoint.config.size == 16 and checkpoint.config.latent_dim == 6
    grids = sorted((trained.parent / "model_samples").glob("epoch_*.png"))
    assert [g.name for g in grids] == ["epoch_001.png", "epoch_002.png"]


def test_replay_renders_a_video_from_the_trained_vae(trained: Path, tmp_path: Path) -> None:
    show = vae_show(tmp_path, trained)
    out = tmp_path / "vae.mp4"
    result = run("replay", DEMO, "--show", show, "-o", out, "--duration", "1",
                 "--size", "64x36", "--device", "cpu", "-q")
    assert result.returncode == 0, result.stderr
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 30


def test_corrupt_model_in_a_show_is_one_line_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"\x00" * 100)
    line = one_line_error(run("check", vae_show(tmp_path, broken)))
    assert "broken.pt: corrupt or not a checkpoint" in line


def test_train_on_an_empty_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    line = one_line_error(run("train", tmp_path / "empty", "-o", tmp_path / "m.pt"))
    assert "empty: no images" in line


def test_train_refuses_a_size_that_is_not_a_power_of_two(images: Path, tmp_path: Path) -> None:
    line = one_line_error(run("train", images, "-o", tmp_path / "m.pt", "--size", "48"))
    assert "power of two" in line


@pytest.fixture(scope="module")
def gan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real GAN trained by the command line on procedural shapes (32 px, 3 steps)."""
    from installation.generator.quality import make_shapes

    folder = tmp_path_factory.mktemp("shapes")
    make_shapes(folder, count=12, size=32, seed=2)
    out = tmp_path_factory.mktemp("gan") / "gan.pt"
    result = run("train", folder, "--model", "gan", "-o", out, "--size", "32", "--steps", "3",
                 "--every", "2", "--latent-dim", "8", "--batch-size", "4", "-q")
    assert result.returncode == 0, result.stderr
    assert "step 3, 3 steps" in result.stdout
    return out


def gan_show(folder: Path, model: Path, stages: str = "") -> Path:
    show = vae_show(folder, model)
    text = show.read_text().replace('model = "vae"', 'model = "gan"')
    show.write_text(text.replace("\n[[passes]]", f"\n{stages}\n[[passes]]", 1))
    return show


DREAM = ('[[generator.stages]]\nkind = "dream"\nfeedback = true\nintensity_control = "energy"\n'
         'zoom_control = "pulse"\n')


def test_a_gan_and_dream_chain_replays_byte_identically(gan: Path, tmp_path: Path) -> None:
    show = gan_show(tmp_path, gan, DREAM)
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name
        result = run("replay", DEMO, "--show", show, "-o", out, "--duration", "1",
                     "--size", "64x36", "--device", "cpu", "-q", "--no-report")
        assert result.returncode == 0, result.stderr
        outputs.append(sorted(out.glob("*.png")))
    first, second = outputs
    assert len(first) == 30
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert len({p.read_bytes() for p in first}) > 20  # and it moves


def test_resume_from_the_command_line_continues_from_the_saved_step(gan: Path,
                                                                    tmp_path: Path) -> None:
    copy = tmp_path / "gan.pt"
    copy.write_bytes(gan.read_bytes())
    folder = tmp_path / "more"
    from installation.generator.quality import make_shapes

    make_shapes(folder, count=12, size=32, seed=2)
    result = run("train", folder, "--model", "gan", "-o", copy, "--resume", "--steps", "5",
                 "--batch-size", "4", "-q")
    assert result.returncode == 0, result.stderr
    assert "step 5, 2 steps" in result.stdout


def test_a_vae_checkpoint_given_as_a_gan_is_one_line(trained: Path, tmp_path: Path) -> None:
    line = one_line_error(run("check", gan_show(tmp_path, trained)))
    assert "model.pt: not an installation GAN checkpoint (it is an installation-vae" in line


def test_vae_only_options_given_to_a_gan_are_one_line(images: Path, tmp_path: Path) -> None:
    line = one_line_error(run("train", images, "--model", "gan", "-o", tmp_path / "m.pt",
                              "--epochs", "3"))
    assert "--epochs is for --model vae" in line


def test_an_onnx_stage_that_breaks_the_contract_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import warnings

    import torch

    class Shrinks(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, :, ::2, ::2]

    show = vae_show(tmp_path, tmp_path / "unused.pt")
    text = show.read_text().replace('model = "vae"\npath = "' + str(tmp_path / "unused.pt")
                                    + '"', 'model = "cppn"')
    show.write_text(text)
    width, height = load_show(show).generator.size  # the stage is given the generator's size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Shrinks(), (torch.zeros(1, 3, height, width),),
                          str(tmp_path / "s.onnx"), dynamo=False)
    show.write_text(text.replace("\n[[passes]]", '\n[[generator.stages]]\nkind = "model"\n'
                                 'path = "s.onnx"\n\n[[passes]]', 1))
    line = one_line_error(run("check", show))
    assert f"s.onnx: must return images of the size it is given ({height}, {width})" in line
