"""Live prompting: ``/prompt NAME "text"`` over real OSC, at the bridge and in rehearsal."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from installation.messages import Controls
from installation.osc import MAX_PROMPT_CHARS, OscBridge, OscSettings, prompt_names
from installation.show import load_show
from tests.diffusion.conftest import REPO, write_show

MOODS = ("still water", "storm")
RANGES = {"calm": (0.0, 1.0)}


def prompt(*args: object) -> bytes:
    builder = OscMessageBuilder("/prompt")
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def test_the_bridge_keeps_the_latest_valid_prompt_per_mood_until_taken() -> None:
    with OscBridge(OscSettings(listen_port=0), RANGES, prompts=MOODS) as bridge:
        client = SimpleUDPClient("127.0.0.1", bridge.port)
        client.send_message("/prompt", ["storm", 3.0])  # not two strings: ignored
        client.send_message("/prompt", ["storm", "lightning"])
        client.send_message("/prompt", ["storm", "lightning over a dark sea"])
        client.send_message("/prompt", ["still water", "dawn"])
        got: dict[str, str] = {}
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and len(got) < 2:
            got.update(bridge.take_prompts())
            time.sleep(0.01)
        assert got == {"storm": "lightning over a dark sea", "still water": "dawn"}
        assert bridge.take_prompts() == {}
        assert bridge.ignored == 1


@pytest.mark.parametrize("datagram", [
    prompt("storm"),                               # no text
    prompt("storm", "a", "b"),                     # three strings
    prompt(1.0, "storm"),                          # a number for the name
    prompt("storm", 1),                            # a number for the text
    prompt("sunrise", "x"),                        # not a mood of the show
    prompt("storm", "line one\nline two"),         # not printable
    prompt("storm", "bell\x07"),                   # a control character
    prompt("storm", "x" * (MAX_PROMPT_CHARS + 1)),  # too long
    b"/prompt\x00,ss\x00storm\x00\x00\x00\xff\xfe\x00\x00",  # not UTF-8
])
def test_a_bad_prompt_message_is_ignored_and_counted_never_raised(datagram: bytes) -> None:
    bridge = OscBridge(OscSettings(listen_port=None), RANGES, prompts=MOODS)
    bridge.receive(datagram)
    assert bridge.ignored == 1 and bridge.take_prompts() == {}


def test_bad_prompts_give_one_warning_line_however_many_arrive(caplog) -> None:
    bridge = OscBridge(OscSettings(listen_port=None), RANGES, prompts=MOODS)
    with caplog.at_level("WARNING", logger="installation.osc"):
        for i in range(2000):
            bridge.receive(prompt(f"nobody{i}", "x"))
    lines = [r.getMessage() for r in caplog.records if r.name == "installation.osc"]
    assert bridge.ignored == 2000 and len(lines) == 1
    assert "not a mood of this show (moods: still water, storm)" in lines[0]
    bridge.receive(prompt("storm", "x" * MAX_PROMPT_CHARS))  # at the limit: accepted
    assert bridge.take_prompts() == {"storm": "x" * MAX_PROMPT_CHARS}


def test_a_seeded_flood_of_prompt_garbage_never_raises_nor_lets_one_through() -> None:
    rng = np.random.default_rng(12)
    bridge = OscBridge(OscSettings(listen_port=None), RANGES, prompts=MOODS)
    for _ in range(5000):
        args: list[object] = []
        for _ in range(int(rng.integers(0, 4))):
            kind = int(rng.integers(4))
            args.append(float(rng.normal()) if kind == 0 else
                        int(rng.integers(-5, 5)) if kind == 1 else
                        str(rng.choice(["sunrise", "Storm", ""])) if kind == 2
                        else "".join(chr(int(c)) for c in rng.integers(1, 32, 5)))
        bridge.receive(prompt(*args))
        bridge.receive(rng.bytes(int(rng.integers(1, 64))))
    assert bridge.take_prompts() == {}
    assert bridge.apply(Controls(t=0.0, values={"calm": 0.5})).get("calm") == 0.5


def test_only_shows_that_paint_take_prompts(tmp_path, tiny_model) -> None:
    assert prompt_names(load_show(write_show(tmp_path / "a", tiny_model.pipe))) == MOODS
    assert prompt_names(load_show(write_show(tmp_path / "b", tiny_model.pipe,
                                             moods=""))) == ("prompt",)
    plain = write_show(tmp_path / "c", tiny_model.pipe, model="cppn", moods="")
    assert prompt_names(load_show(plain)) == ()
    off = write_show(tmp_path / "d", tiny_model.pipe, model="cppn",
                     generator='[[generator.stages]]\nkind = "diffusion"\nenabled = false')
    assert prompt_names(load_show(off)) == ()
    bridge = OscBridge(OscSettings(listen_port=None), RANGES, prompts=())
    bridge.receive(prompt("storm", "x"))
    assert bridge.ignored == 1


def test_live_prompting_in_a_real_rehearsal_window(tiny_model, xvfb_display: str) -> None:
    # Its own process: a GLX window and the GL tests' EGL context do not mix.
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("rehearse_prompt_scenario.py")),
         str(tiny_model.pipe)],
        cwd=REPO, env={**os.environ, "DISPLAY": xvfb_display, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "scenario held" in result.stdout


def test_live_prompts_go_to_the_reloaded_generator_unless_the_file_changed_them(
        tmp_path, tiny_model) -> None:
    from installation.generator.factory import make_generator
    from installation.rehearsal.prompts import LivePrompts

    path = write_show(tmp_path, tiny_model.pipe)
    show = load_show(path)
    live = LivePrompts()
    assert live.set(make_generator(show, device="cpu"), show, "storm", "hail") == \
        "prompt storm: 'hail'"
    assert live.set(make_generator(show, device="cpu"), show, "still water", "fog") == \
        "prompt still water: 'fog'"
    assert live.set(make_generator(show, device="cpu"), show, "sun", "x").startswith(
        "/prompt: no mood named 'sun'")
    # The file now gives "still water" a new prompt: that mood takes the file's.
    path.write_text(path.read_text().replace("still water at dawn", "a frozen lake"))
    edited = load_show(path)
    reloaded = make_generator(edited, device="cpu")
    assert live.reapply(reloaded, edited) == ["storm"]
    assert reloaded.model.prompts.texts() == {"still water": "a frozen lake", "storm": "hail"}
    # A show that no longer paints forgets them.
    plain = load_show(write_show(tmp_path / "plain", tiny_model.pipe, model="cppn", moods=""))
    assert live.reapply(make_generator(plain, device="cpu"), plain) == [] and live.live == {}
