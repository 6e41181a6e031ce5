"""The living image as a user meets it: ``installation train --model nca``, a show that uses
the checkpoint, bad checkpoints, and the repertoire's piece replayed twice."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from installation.generator.nca import load_checkpoint
from installation.modes.replay import ReplayOptions, replay
from installation.pipeline import Step
from installation.show import load_show

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"
PIECE = REPO / "pieces" / "living-image"
PORTRAIT = PIECE / "portrait.png"


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "installation", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=600)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


SHOW = """
[streams.ecg]
type = "ECG"

[[mappings]]
control = "pulse"
feature = "ecg.beat_pulse"

[[mappings]]
control = "calm"
feature = "state.calm"

[[mappings]]
control = "arousal"
feature = "state.arousal"

[generator]
model = "nca"
path = "{model}"
size = [40, 32]
rate = 15

[generator.nca]
steps_per_image = 2

[[passes]]
shader = "{shader}"
uniforms = {{ u_calm = "calm", u_arousal = "arousal", u_pulse = "pulse" }}

[output]
size = [64, 36]
fps = 15
"""


def write_show(folder: Path, model: Path) -> Path:
    path = folder / "show.toml"
    path.write_text(SHOW.format(model=model, shader=PIECE / "shaders" / "living.frag"))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("nca") / "tiny.pt"
    result = run("train", PORTRAIT, "--model", "nca", "-o", out, "--size", "32", "--steps", "2",
                 "--batch-size", "2", "--seed", "5", "-q")
    return out, result


def test_train_nca_writes_a_checkpoint_grid_and_loss_curve(trained) -> None:
    out, result = trained
    assert result.returncode == 0, result.stderr
    assert "2 steps" in result.stdout and "steps/s" in result.stdout
    assert "likeness (layout, recognisable >= 0.85)" in result.stdout
    checkpoint = load_checkpoint(out)
    assert checkpoint.step == 2 and checkpoint.config.size == 32
    assert checkpoint.train["batch_size"] == 2 and checkpoint.train["seed"] == 5
    assert (out.parent / "tiny_samples" / "grid.png").is_file()
    assert (out.parent / "tiny_samples" / "loss.png").is_file()


def test_resume_on_the_command_line_continues_from_the_saved_step(trained, tmp_path) -> None:
    out, _ = trained
    copy = tmp_path / "more.pt"
    copy.write_bytes(out.read_bytes())
    result = run("train", PORTRAIT, "--model", "nca", "-o", copy, "--size", "32", "--steps",
                 "3", "--batch-size", "2", "--resume", "-q")
    assert result.returncode == 0, result.stderr
    assert load_checkpoint(copy).step == 3
    assert "3 steps, 1 in" in result.stdout


def test_the_trained_checkpoint_replays_in_a_show(trained, tmp_path: Path) -> None:
    out, _ = trained
    show = write_show(tmp_path, out)
    result = run("replay", DEMO, "--show", show, "-o", tmp_path / "nca.mp4", "--duration", "2",
                 "-q", "--no-report")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "nca.mp4").stat().st_size > 1000


@pytest.mark.parametrize("kind", ["truncated", "foreign", "mismatched"])
def test_a_bad_checkpoint_in_a_show_is_one_line_naming_it(trained, tmp_path: Path,
                                                          kind: str) -> None:
    import torch

    out, _ = trained
    bad = tmp_path / f"{kind}.pt"
    if kind == "truncated":
        bad.write_bytes(out.read_bytes()[:5000])
    elif kind == "foreign":
        torch.save({"format": "someone-elses-gan", "weights": torch.zeros(2)}, bad)
    else:
        payload = torch.load(out, weights_only=True)
        payload["state_dict"]["hidden.weight"] = torch.zeros(7, 48, 1, 1)
        torch.save(payload, bad)
    line = one_line_error(run("check", write_show(tmp_path, bad)))
    assert str(bad) in line


def test_train_nca_refuses_a_folder_a_vae_flag_and_a_missing_resume(tmp_path: Path) -> None:
    line = one_line_error(run("train", PIECE, "--model", "nca", "-o", tmp_path / "x.pt"))
    assert "give an image file" in line
    line = one_line_error(run("train", PORTRAIT, "--model", "nca", "-o", tmp_path / "x.pt",
                              "--epochs", "3"))
    assert "--epochs is not an option of --model nca" in line
    line = one_line_error(run("train", PORTRAIT, "--model", "nca", "-o", tmp_path / "x.pt",
                              "--resume"))
    assert "x.pt: --resume needs an existing checkpoint" in line


def test_the_living_image_piece_replays_byte_identically_twice(tmp_path: Path) -> None:
    show = load_show(PIECE / "show.toml")

    def hashes(out: Path) -> list[str]:
        steps: list[Step] = []
        options = ReplayOptions(size=(96, 54), fps=15.0, start=3.0, duration=3.0,
                                progress=False)
        replay(DEMO, show, out, options, on_step=steps.append)
        return [hashlib.sha256(s.frame.pixels.tobytes()).hexdigest() for s in steps]

    first = hashes(tmp_path / "a.mp4")
    second = hashes(tmp_path / "b.mp4")
    assert len(first) == 45
    assert first == second
    assert len(set(first)) > 40  # it is alive, not a still
