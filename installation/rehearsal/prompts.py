"""Live prompting in rehearsal: ``/prompt NAME "text"`` handed to the generator, and kept
across a reload of ``show.toml``.

A reload builds a new generator from the file, which knows only the file's prompts. A live
prompt is given again to the new generator, unless the edit changed that mood's prompt in
the file (the file then wins: the artist just wrote it) or removed the mood.
"""

from __future__ import annotations

import logging
from typing import Any

from installation.show import PROMPT_NAME, Show

_log = logging.getLogger(__name__)


def file_prompt(show: Show, name: str) -> str | None:
    """What mood ``name`` paints according to the show file (``None``: no such mood)."""
    if not show.moods:
        return show.diffusion.prompt if name == PROMPT_NAME else None
    for mood in show.moods:
        if mood.name == name:
            if mood.embedding is not None:
                return f"<{mood.embedding}>"
            return mood.prompt if mood.prompt is not None else show.diffusion.prompt
    return None


class LivePrompts:
    """The prompts set live this session: mood name -> (the file's prompt then, live text)."""

    def __init__(self) -> None:
        self.live: dict[str, tuple[str | None, str]] = {}

    def set(self, generator: Any, show: Show, name: str, text: str) -> str:
        """Give mood ``name`` of ``generator`` the prompt ``text``; returns the HUD notice."""
        try:
            generator.set_prompt(name, text)
        except KeyError as error:
            return f"/prompt: {error.args[0]}"
        self.live[name] = (file_prompt(show, name), text)
        return f"prompt {name}: {text[:40]!r}"

    def reapply(self, generator: Any, show: Show) -> list[str]:
        """After a reload: give the new ``generator`` the live prompts whose mood the edit
        left as it was; forget the others. Returns the names given again."""
        kept: dict[str, tuple[str | None, str]] = {}
        for name, (base, text) in self.live.items():
            now = file_prompt(show, name)
            if now is None or now != base:
                _log.info("live prompt for %s dropped: the show file %s", name,
                          "no longer has that mood" if now is None else "changed its prompt")
                continue
            try:
                generator.set_prompt(name, text)
            except KeyError:  # the new show paints no prompts
                continue
            kept[name] = (base, text)
        self.live = kept
        return list(kept)
