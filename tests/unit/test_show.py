"""show.toml loading: typed, frozen, and every error names the file, line and key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from installation.errors import ShowError
from installation.show import load_show

REPO = Path(__file__).resolve().parents[2]


def write_show(tmp_path: Path, text: str) -> Path:
    (tmp_path / "shaders").mkdir(exist_ok=True)
    (tmp_path / "shaders" / "a.frag").write_text("// shader\n")
    path = tmp_path / "show.toml"
    path.write_text(text)
    return path


MINIMAL = """
[streams.ecg]
type = "ECG"

[[mappings]]
control = "pulse"
feature = "ecg.beat_pulse"

[[passes]]
shader = "shaders/a.frag"
uniforms = { u_pulse = "pulse" }
"""


def test_default_show_loads_with_its_mappings_and_passes() -> None:
    show = load_show(REPO / "show.toml")
    assert set(show.streams) == {"ecg", "eeg"}
    assert {m.control for m in show.mappings} == {"pulse", "energy", "calm"}
    assert [p.shader for p in show.passes] == [
        REPO / "shaders" / name
        for name in ("garden.frag", "garden_tint.frag", "garden_haze.frag", "pulse.frag")]
    assert show.output.size == (640, 360)


def test_loaded_show_is_frozen(tmp_path: Path) -> None:
    show = load_show(write_show(tmp_path, MINIMAL))
    with pytest.raises(dataclasses.FrozenInstanceError):
        show.output = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        show.streams["x"] = show.streams["ecg"]  # type: ignore[index]


def test_shader_paths_resolve_against_the_show_folder(tmp_path: Path) -> None:
    show = load_show(write_show(tmp_path, MINIMAL))
    assert show.passes[0].shader == tmp_path / "shaders" / "a.frag"


@pytest.mark.parametrize(
    ("snippet", "key", "words"),
    [
        ("[output]\nsize = [640, 360]\nfsp = 30\n", "output.fsp", "unknown key"),
        ("[output]\nfps = \"thirty\"\n", "output.fps", "expected a number"),
        ("[output]\nfps = -5\n", "output.fps", "must be >= 1.0"),
        ("[output]\nsize = [640]\n", "output.size", "array of 2"),
        ("[generator]\nmodel = \"stylegan\"\n", "generator.model", "must be one of"),
        ("[generator]\nlayers = 2.5\n", "generator.layers", "expected an integer"),
        ("[streams.brain]\ntype = \"EMG\"\n", "streams.brain", "no feature extractor"),
    ],
)
def test_invalid_values_name_the_file_line_and_key(
    tmp_path: Path, snippet: str, key: str, words: str
) -> None:
    path = write_show(tmp_path, MINIMAL + snippet)
    with pytest.raises(ShowError) as caught:
        load_show(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:")
    assert key in message
    assert words in message
    line = int(re.match(rf"{re.escape(str(path))}:(\d+):", message).group(1))
    expected_line = next(
        n for n, text in enumerate(path.read_text().splitlines(), 1)
        if text.startswith(key.split(".")[-1]) or text.startswith(f"[{key}")
    )
    assert line == expected_line


def test_error_in_second_array_entry_names_its_index(tmp_path: Path) -> None:
    text = MINIMAL + (
        '\n[[mappings]]\ncontrol = "calm"\nfeature = "ecg.heart_rate"\ncurve = "zigzag"\n'
    )
    with pytest.raises(ShowError, match=r"mappings\[1\]\.curve: must be one of"):
        load_show(write_show(tmp_path, text))


def test_mapping_to_an_undeclared_stream_is_refused(tmp_path: Path) -> None:
    text = MINIMAL + '\n[[mappings]]\ncontrol = "calm"\nfeature = "eeg.alpha_rel"\n'
    with pytest.raises(ShowError, match=r"stream 'eeg' is not declared"):
        load_show(write_show(tmp_path, text))


def test_pulse_at_and_the_beat_forecast_are_heart_features_only(tmp_path: Path) -> None:
    text = MINIMAL.replace("ecg.beat_pulse", "ecg.pulse_at") + (
        '\n[[mappings]]\ncontrol = "soon"\nfeature = "ecg.next_beat_in_s"\n')
    show = load_show(write_show(tmp_path, text))
    assert [m.feature for m in show.mappings] == ["ecg.pulse_at", "ecg.next_beat_in_s"]
    eeg = MINIMAL.replace('type = "ECG"', 'type = "EEG"').replace("beat_pulse", "pulse_at")
    with pytest.raises(ShowError, match=r"\(EEG\) has no feature 'pulse_at'"):
        load_show(write_show(tmp_path, eeg))


def test_missing_shader_file_is_refused(tmp_path: Path) -> None:
    path = write_show(tmp_path, MINIMAL.replace("shaders/a.frag", "shaders/nope.frag"))
    with pytest.raises(ShowError, match=r"passes\[0\]\.shader: shader file not found"):
        load_show(path)


def test_missing_and_malformed_files_give_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ShowError, match="show file not found"):
        load_show(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[output\nsize = 3\n")
    with pytest.raises(ShowError, match="invalid TOML") as caught:
        load_show(bad)
    assert "\n" not in str(caught.value)


def test_visitor_state_is_fed_by_the_first_stream_of_a_fitting_type(tmp_path: Path) -> None:
    text = MINIMAL.replace("[streams.ecg]", '[streams.chest]\ntype = "RR"\n\n[streams.ecg]') + (
        '\n[streams.brain]\ntype = "EEG"\n\n[streams.skin]\ntype = "EDA"\n'
        '\n[visitor]\nsources = { heart_rate = "chest.heart_rate" }\n'
        '\n[[mappings]]\ncontrol = "calm"\nfeature = "state.calm"\n'
    )
    show = load_show(write_show(tmp_path, text))
    sources = show.state_sources()
    assert sources["heart_rate"] == "chest.heart_rate"  # named in [visitor] sources
    assert sources["hrv_rmssd"] == "ecg.hrv_rmssd"  # ECG is preferred over RR for HRV
    assert sources["resp_rate"] == "ecg.resp_rate"  # no belt: breathing from the ECG
    assert sources["alpha_rel"] == "brain.alpha_rel"
    assert sources["scr_rate"] == "skin.scr_rate"
    assert show.mappings[-1].stream == "state"


@pytest.mark.parametrize(
    ("snippet", "words"),
    [
        ('\n[visitor]\nsources = { joy = "ecg.heart_rate" }\n', "unknown quantity 'joy'"),
        ('\n[visitor]\nsources = { heart_rate = "ppg.heart_rate" }\n',
         "visitor.sources.heart_rate: stream 'ppg' is not declared"),
        ('\n[streams.state]\ntype = "EEG"\n', "'state' is reserved"),
        ('\n[[mappings]]\ncontrol = "c"\nfeature = "state.clam"\n',
         "mappings[1].feature: the visitor's state has no 'clam'"),
        ("\n[visitor]\nbaseline_s = 0\n", "visitor.baseline_s"),
        ('\n[record]\nenabled = "yes"\n', "record.enabled"),
    ],
)
def test_bad_visitor_and_record_settings_are_named(
    tmp_path: Path, snippet: str, words: str
) -> None:
    with pytest.raises(ShowError, match=re.escape(words)):
        load_show(write_show(tmp_path, MINIMAL + snippet))


def test_recording_is_off_unless_the_show_opts_in(tmp_path: Path) -> None:
    assert not load_show(REPO / "show.toml").record.enabled
    show = load_show(write_show(tmp_path, MINIMAL + '\n[record]\nenabled = true\ndir = "rec"\n'))
    assert show.record.enabled and show.record.dir == tmp_path / "rec"


def test_every_quantity_of_the_visitor_state_has_a_default_source() -> None:
    # The composites' quantities (state.py) and where shows take them from (show.py) must not
    # drift apart: a quantity without a default source would silently never be measured.
    from installation.features.state import COMPOSITE_WEIGHTS
    from installation.show import DEFAULT_STATE_SOURCES

    assert set(DEFAULT_STATE_SOURCES) == set(COMPOSITE_WEIGHTS)


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize(
    ("snippet", "marker", "words"),
    [
        # The new user's typo from issue 14: "check: ok", then a control idle all show long.
        ('\n[[mappings]]\ncontrol = "energy"\nfeature = "ecg.heartrate"\n', "ecg.heartrate",
         "mappings[1].feature: stream 'ecg' (ECG) has no feature 'heartrate' (did you mean"
         " ecg.heart_rate?)"),
        ('\n[streams.eeg]\ntype = "EEG"\nrequired = false\n'
         '\n[[mappings]]\ncontrol = "calm"\nfeature = "eeg.alpha_rl_Fp1"\n', "alpha_rl_Fp1",
         "did you mean eeg.alpha_rel_Fp1?"),
        ('\n[[mappings]]\ncontrol = "calm"\nfeature = "ekg.heart_rate"\n', "ekg.heart_rate",
         "stream 'ekg' is not declared in [streams] (declared: ecg); did you mean 'ecg'?"),
        ('\n[[mappings]]\ncontrol = "calm"\nfeature = "state.calmness"\n', "state.calmness",
         "did you mean state.calm?"),
        ('\n[visitor]\nsources = { heart_rate = "ecg.hart_rate" }\n', "hart_rate",
         "visitor.sources.heart_rate: stream 'ecg' (ECG) has no feature 'hart_rate'"),
    ],
)
def test_a_feature_name_typo_is_an_error_naming_the_key_line_and_closest_name(
    tmp_path: Path, snippet: str, marker: str, words: str
) -> None:
    path = write_show(tmp_path, MINIMAL + snippet)
    with pytest.raises(ShowError) as caught:
        load_show(path)
    message = str(caught.value)
    assert words in message
    assert message.startswith(f"{path}:{_line_of(path, marker)}:")


def test_per_channel_eeg_features_and_every_declared_name_load(tmp_path: Path) -> None:
    from installation.features.catalog import FEATURES

    text = MINIMAL.replace('[streams.ecg]\ntype = "ECG"', "".join(
        f'[streams.s{k.lower()}]\ntype = "{k}"\nrequired = false\n\n' for k in FEATURES
    ) + '[streams.ecg]\ntype = "ECG"')
    for kind, names in FEATURES.items():
        for name in (*names.names, *(p.replace("<label>", "O2") for p in names.patterns)):
            text += (f'\n[[mappings]]\ncontrol = "c_{kind}_{name}"\n'
                     f'feature = "s{kind.lower()}.{name}"\n')
    show = load_show(write_show(tmp_path, text))
    assert any(m.feature == "seeg.alpha_rel_O2" for m in show.mappings)


def test_a_uniform_bound_to_a_control_nothing_produces_is_refused(tmp_path: Path) -> None:
    bound = 'uniforms = { u_pulse = "pulse", u_calm = "clam" }'
    path = write_show(tmp_path, MINIMAL.replace('uniforms = { u_pulse = "pulse" }', bound))
    with pytest.raises(ShowError) as caught:
        load_show(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{_line_of(path, 'u_calm')}:")
    assert "passes[0].uniforms.u_calm: control 'clam' is produced by nothing" in message


@pytest.mark.parametrize("producer", ['[idle]\ncontrols = { glow = 0.4 }\n',
                                      '[idle]\nbreath_control = "glow"\n'])
def test_idle_controls_and_the_idle_breath_produce_controls_for_uniforms(
    tmp_path: Path, producer: str
) -> None:
    text = MINIMAL.replace('uniforms = { u_pulse = "pulse" }',
                           'uniforms = { u_pulse = "pulse", u_glow = "glow" }')
    show = load_show(write_show(tmp_path, text + "\n" + producer))
    assert show.passes[0].uniforms["u_glow"] == "glow"
