"""Live prompting in a real rehearsal window (run in its own process by test_rehearse_prompt).

``python rehearse_prompt_scenario.py PIPELINE_FOLDER`` exits 0 and prints "scenario held"
only when every assertion held.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from pythonosc.udp_client import SimpleUDPClient

from installation.generator.factory import make_generator
from installation.modes.rehearse import Rehearsal, RehearsalOptions
from installation.osc import OscSettings
from installation.show import load_show
from tests.diffusion.conftest import DEMO, write_show


def prompt_over_osc_hud_and_saved_blend(pipe: Path, folder: Path) -> None:
    show_path = write_show(folder, pipe)
    rehearsal = Rehearsal(load_show(show_path), DEMO,
                          RehearsalOptions(osc=OscSettings(listen_port=0)))
    try:
        rehearsal.step()
        generator = rehearsal.pipeline.generator
        SimpleUDPClient("127.0.0.1", rehearsal.osc.port).send_message(
            "/prompt", ["storm", "a red sunrise over hills"])
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            rehearsal.step()
            if generator.prompts.texts()["storm"] == "a red sunrise over hills":
                break
        assert generator.prompts.texts()["storm"] == "a red sunrise over hills"
        assert "prompt storm" in rehearsal.notice
        rehearsal.step()  # the next image paints it, and the HUD says so
        assert generator.prompts.last.texts["storm"] == "a red sunrise over hills"
        assert "prompt" in generator.hud_line()
        SimpleUDPClient("127.0.0.1", rehearsal.osc.port).send_message(
            "/prompt", ["nobody", "x"])
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and "no mood named" not in rehearsal.notice:
            time.sleep(0.05)
        assert "no mood named 'nobody'" in rehearsal.notice
        rehearsal.press("mood")
        saved = rehearsal.saved_moods[-1]
    finally:
        rehearsal.close()
    show = load_show(show_path)  # the appended entry is valid show.toml
    mood = show.moods[-1]
    assert mood.latent == saved and mood.embedding is not None and mood.embedding.is_file()
    assert "a red sunrise over hills" in show_path.read_text()  # the blend, in a comment
    make_generator(show, device="cpu")  # and the saved blend loads as a mood


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        prompt_over_osc_hud_and_saved_blend(Path(sys.argv[1]), Path(tmp))
    print("scenario held")
