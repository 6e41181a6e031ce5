"""Import diffusers with the hub switched off, or say in one line how to install it."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

from installation.errors import ModelError
from installation.tomlconfig import TomlLocator, format_path

# Read by huggingface_hub/transformers/diffusers when they are first imported; set before.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DIFFUSERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
}
INSTALL_HINT = "needs the diffusion extra: pip install -e '.[diffusion]'"
_MODULES = ("safetensors", "transformers", "diffusers")


def key_where(show_path: Path, key: tuple[str, ...]) -> str:
    """``show.toml:LINE: key.path`` for error messages (the line when it can be found)."""
    try:
        line = TomlLocator(Path(show_path).read_text(encoding="utf-8")).line(key)
    except OSError:
        line = None
    where = f"{show_path}:{line}" if line else str(show_path)
    return f"{where}: {format_path(key)}"


def go_offline() -> None:
    """Switch the Hugging Face hub off for this process (idempotent).

    The environment is read at import; a library imported earlier is switched off through
    its constants too. Every load also passes ``local_files_only=True``.
    """
    os.environ.update(OFFLINE_ENV)
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


def import_diffusers(where: str) -> ModuleType:
    """``diffusers``, imported offline.

    Parameters
    ----------
    where
        The show key asking for diffusion (``key_where(...)``), named in the error.

    Raises
    ------
    ModelError
        One line naming the key and the install command when the extra is missing.
    """
    go_offline()
    for name in _MODULES:
        try:
            importlib.import_module(name)
        except ImportError as error:
            missing = getattr(error, "name", None) or name
            raise ModelError(f"{where}: {INSTALL_HINT} ({missing} is not installed)") from None
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    # Their warnings (deprecated config keys, ignored attributes) would flood the show's log;
    # what matters to the artist is raised as one-line ModelErrors here instead.
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    # Explicit few-step schedules are the point here; LCM warns about every one of them.
    diffusers.utils.logging.get_logger("diffusers.schedulers.scheduling_lcm").setLevel(40)
    return diffusers
