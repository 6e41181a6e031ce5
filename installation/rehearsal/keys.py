"""The rehearsal's keys: a pyglet key symbol -> an action name for ``Rehearsal.press``.

``space`` pause, ``left``/``right`` seek 5 s, ``up``/``down`` speed x2 / /2, ``l`` loop,
``r`` reload now, ``h`` HUD, ``m`` save the current latent as a mood, ``q``/``esc`` quit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

KEY_ACTIONS = {"SPACE": "pause", "LEFT": "back", "RIGHT": "forward", "UP": "faster",
               "DOWN": "slower", "L": "loop", "R": "reload", "H": "hud", "M": "mood",
               "Q": "quit", "ESCAPE": "quit"}


def bind_keys(window: Any, press: Callable[[str], None]) -> None:
    """Call ``press(action)`` for the rehearsal keys pressed in a pyglet ``window``."""
    from pyglet.window import key  # imported late: pyglet wants a display

    actions = {getattr(key, name): action for name, action in KEY_ACTIONS.items()}

    def on_key_press(symbol: int, _modifiers: int) -> bool:
        if symbol in actions:
            press(actions[symbol])
            return True  # handled: pyglet's default ESC-closes-window stays out of it
        return False

    window.push_handlers(on_key_press=on_key_press)
