"""Live prompting in a real rehearsal window (run in its own process by test_rehearse_prompt).

``python rehearse_prompt_scenario.py PIPELINE_FOLDER`` exits 0 and prints "scenario held"
only when every assertion held.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pythonosc.udp_client import SimpleUDPClient

from installation.generator.factory import make_generator
from installation.modes.rehearse import Rehearsal, RehearsalOptions
from installation.osc import OscSettings
from installation.rehearsal.hud import generator_line
from installation.show import load_show
from tests.diffusion.conftest import DEMO, write_show

SUNRISE = "a red sunrise over hills"


def step_until(rehearsal: Rehearsal, done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done():
        rehearsal.step()
    assert done()


def prompt_over_osc_hud_reload_and_saved_blend(pipe: Path, folder: Path) -> None:
    show_path = write_show(folder, pipe)
    rehearsal = Rehearsal(load_show(show_path), DEMO,
                          RehearsalOptions(osc=OscSettings(listen_port=0)))
    try:
        rehearsal.step()
        generator = rehearsal.pipeline.generator
        client = SimpleUDPClient("127.0.0.1", rehearsal.osc.port)
        client.send_message("/prompt", ["storm", SUNRISE])
        client.send_message("/prompt", ["still water", "a green pond"])
        step_until(rehearsal, lambda: generator.model.prompts.texts()["storm"] == SUNRISE)
        step_until(rehearsal, lambda: "still water" in rehearsal.prompts.live)
        assert "prompt" in rehearsal.notice
        # The next generated image paints it (the generator may run slower than the frames),
        # and the HUD says so.
        step_until(rehearsal, lambda: generator.model.prompts.last is not None
                   and generator.model.prompts.last.texts.get("storm") == SUNRISE)
        assert generator_line(generator).startswith("prompt ")

        # A name that is no mood of the show is refused at the bridge, counted, never raised.
        client.send_message("/prompt", ["nobody", "x"])
        step_until(rehearsal, lambda: rehearsal.osc.ignored >= 1)

        # An edit elsewhere in show.toml: the new generator gets the live prompts again.
        with show_path.open("a") as handle:
            handle.write("\n# an edit that leaves the moods alone\n")
        step_until(rehearsal, lambda: rehearsal.pipeline.reloads == 1)
        reloaded = rehearsal.pipeline.generator
        assert reloaded is not generator
        assert reloaded.model.prompts.texts()["storm"] == SUNRISE
        assert reloaded.model.prompts.texts()["still water"] == "a green pond"

        # An edit of one mood's prompt: the file wins for that mood, the other stays live.
        text = show_path.read_text().replace('"still water at dawn"', '"fog on a lake"')
        show_path.write_text(text)
        step_until(rehearsal, lambda: rehearsal.pipeline.reloads == 2)
        texts = rehearsal.pipeline.generator.model.prompts.texts()
        assert texts == {"still water": "fog on a lake", "storm": SUNRISE}, texts

        rehearsal.step()
        rehearsal.press("mood")
        saved = rehearsal.saved_moods[-1]
    finally:
        rehearsal.close()
    show = load_show(show_path)  # the appended entry is valid show.toml
    mood = show.moods[-1]
    assert mood.latent == saved and mood.embedding is not None and mood.embedding.is_file()
    assert SUNRISE in show_path.read_text()  # the blend, in a comment
    make_generator(show, device="cpu")  # and the saved blend loads as a mood


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        prompt_over_osc_hud_reload_and_saved_blend(Path(sys.argv[1]), Path(tmp))
    print("scenario held")
