"""The show: ``show.toml`` loaded into typed, frozen, validated settings.

A show names the streams it needs, how each feature maps onto a control, the generator and
its latent walk, the shader passes and the output. Every key is documented by the ``doc``
metadata of its field; ``docs/show-reference.md`` is generated from these classes.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from installation.errors import ShowError
from installation.tomlconfig import TomlLocator, bounds, format_path, load_dataclass

STREAM_TYPES = ("ECG", "EEG")
Curve = Literal["linear", "smoothstep", "ease_in", "ease_out"]


@dataclass(frozen=True)
class ShowMeta:
    """``[show]``: about the piece."""

    title: str = field(default="Untitled", metadata=bounds(doc="Name of the piece."))
    artist: str = field(default="", metadata=bounds(doc="Who made it."))


@dataclass(frozen=True)
class StreamSpec:
    """``[streams.KEY]``: a stream the show listens to; KEY names it in feature paths."""

    type: str = field(metadata=bounds(doc="LSL stream type to match, e.g. ECG or EEG."))
    name: str = field(default="", metadata=bounds(doc="Only a stream with exactly this name."))
    source_id: str = field(default="", metadata=bounds(doc="Only a stream with this source_id."))
    hostname: str = field(default="", metadata=bounds(doc="Only a stream from this host."))
    channel: int = field(
        default=0, metadata=bounds(ge=0, doc="Channel used by single-channel extractors (ECG).")
    )
    required: bool = field(
        default=True, metadata=bounds(doc="Replay refuses a recording without this stream.")
    )

    def __post_init__(self) -> None:
        if self.type.upper() not in STREAM_TYPES:
            raise ValueError(
                f"type {self.type!r} has no feature extractor (known: {', '.join(STREAM_TYPES)})"
            )


@dataclass(frozen=True)
class MappingSpec:
    """``[[mappings]]``: one feature drives one control."""

    control: str = field(metadata=bounds(doc="Control name, used by passes and the generator."))
    feature: str = field(metadata=bounds(doc="STREAM_KEY.feature, e.g. ecg.heart_rate."))
    in_range: tuple[float, float] = field(
        default=(0.0, 1.0), metadata=bounds(doc="Feature values mapped to the ends of out_range.")
    )
    out_range: tuple[float, float] = field(
        default=(0.0, 1.0), metadata=bounds(doc="Control values at the ends of in_range.")
    )
    curve: Curve = field(default="linear", metadata=bounds(doc="Shape of the mapping."))
    invert: bool = field(default=False, metadata=bounds(doc="Swap the ends of out_range."))
    smoothing_s: float = field(
        default=0.0, metadata=bounds(ge=0.0, le=60.0, doc="Exponential smoothing time constant.")
    )
    idle: float = field(
        default=0.0, metadata=bounds(doc="Control value when the feature is not available.")
    )
    idle_fade_s: float = field(
        default=2.0, metadata=bounds(ge=0.0, le=60.0, doc="Time constant of the fade to idle.")
    )

    def __post_init__(self) -> None:
        if self.in_range[0] == self.in_range[1]:
            raise ValueError("in_range needs two different values")
        if "." not in self.feature:
            raise ValueError(f"feature {self.feature!r} must be STREAM_KEY.feature")

    @property
    def stream(self) -> str:
        return self.feature.split(".", 1)[0]

    @property
    def feature_name(self) -> str:
        return self.feature.split(".", 1)[1]


@dataclass(frozen=True)
class GeneratorSpec:
    """``[generator]``: the neural image generator and its walk through latent space."""

    model: Literal["cppn"] = field(default="cppn", metadata=bounds(doc="Generator family."))
    seed: int = field(default=7, metadata=bounds(ge=0, doc="Seed of weights and walk."))
    size: tuple[int, int] = field(
        default=(256, 144), metadata=bounds(ge=8, le=4096, doc="Generated image width, height.")
    )
    rate: float = field(
        default=15.0, metadata=bounds(gt=0.0, le=240.0, doc="Generated images per second.")
    )
    latent_dim: int = field(default=8, metadata=bounds(ge=1, le=512, doc="Latent size."))
    hidden: int = field(default=32, metadata=bounds(ge=4, le=512, doc="CPPN hidden width."))
    layers: int = field(default=5, metadata=bounds(ge=1, le=16, doc="CPPN hidden layers."))
    detail: float = field(
        default=2.0, metadata=bounds(gt=0.0, le=64.0, doc="Spatial frequency of the pattern.")
    )
    mood_control: str = field(
        default="calm", metadata=bounds(doc="Control (0..1) moving between the two moods.")
    )
    energy_control: str = field(
        default="energy", metadata=bounds(doc="Control (0..1) setting how fast the walk wanders.")
    )
    pulse_control: str = field(
        default="pulse", metadata=bounds(doc="Control (0..1) kicking the latent on each beat.")
    )
    drift: float = field(
        default=0.35, metadata=bounds(ge=0.0, le=10.0, doc="Wander amplitude at full energy.")
    )
    pulse_kick: float = field(
        default=0.25, metadata=bounds(ge=0.0, le=10.0, doc="Latent kick at pulse 1.")
    )
    max_step: float = field(
        default=0.2, metadata=bounds(gt=0.0, le=10.0, doc="Largest latent move per image.")
    )


@dataclass(frozen=True)
class PassSpecToml:
    """``[[passes]]``: one shader pass, in order."""

    shader: Path = field(metadata=bounds(doc="GLSL fragment shader, relative to show.toml."))
    uniforms: dict[str, str] = field(
        default_factory=dict, metadata=bounds(doc="Float uniform name -> control name.")
    )


@dataclass(frozen=True)
class OutputSpec:
    """``[output]``: what the piece is rendered at."""

    size: tuple[int, int] = field(
        default=(640, 360), metadata=bounds(ge=16, le=8192, doc="Output width, height.")
    )
    fps: float = field(default=30.0, metadata=bounds(gt=0.0, le=240.0, doc="Frames per second."))


@dataclass(frozen=True)
class Show:
    """A whole show, as loaded from ``show.toml``."""

    path: Path
    meta: ShowMeta
    streams: dict[str, StreamSpec]
    mappings: tuple[MappingSpec, ...]
    generator: GeneratorSpec
    passes: tuple[PassSpecToml, ...]
    output: OutputSpec


@dataclass(frozen=True)
class _ShowFile:
    # The TOML layout; ``Show`` adds the path and renames ``show`` to ``meta``.
    show: ShowMeta = field(default_factory=ShowMeta)
    streams: dict[str, StreamSpec] = field(default_factory=dict)
    mappings: tuple[MappingSpec, ...] = ()
    generator: GeneratorSpec = field(default_factory=GeneratorSpec)
    passes: tuple[PassSpecToml, ...] = ()
    output: OutputSpec = field(default_factory=OutputSpec)


def load_show(path: str | Path) -> Show:
    """Load and validate a show file.

    Parameters
    ----------
    path
        The ``show.toml``. Relative shader paths are resolved against its folder.

    Returns
    -------
    Show
        Frozen, validated settings.

    Raises
    ------
    ShowError
        One line naming the file, the line and the key path of the first problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ShowError(f"{path}: show file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ShowError(f"{path}: cannot read show file ({error})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ShowError(f"{path}: invalid TOML: {error}") from None
    raw = load_dataclass(_ShowFile, data, file=path, text=text)
    show = Show(
        path=path,
        meta=raw.show,
        streams=raw.streams,
        mappings=raw.mappings,
        generator=raw.generator,
        passes=raw.passes,
        output=raw.output,
    )
    _check_references(show, text)
    return show


def _check_references(show: Show, text: str) -> None:
    """Cross-table checks: mappings name declared streams, passes exist."""
    locator = TomlLocator(text)

    def fail(key: tuple[str, ...], message: str) -> ShowError:
        line = locator.line(key)
        where = f"{show.path}:{line}" if line else str(show.path)
        return ShowError(f"{where}: {format_path(key)}: {message}")

    if not show.passes:
        raise fail(("passes",), "a show needs at least one [[passes]] entry")
    for i, mapping in enumerate(show.mappings):
        if mapping.stream not in show.streams:
            declared = ", ".join(sorted(show.streams)) or "none"
            raise fail(
                ("mappings", str(i), "feature"),
                f"stream {mapping.stream!r} is not declared in [streams] (declared: {declared})",
            )
    for i, spec in enumerate(show.passes):
        if not spec.shader.is_file():
            raise fail(("passes", str(i), "shader"), f"shader file not found: {spec.shader}")
