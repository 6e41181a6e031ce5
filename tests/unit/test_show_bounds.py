"""Shows that load must run: every number bounded, counts capped, memory estimated (issue 17)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_show import MINIMAL, write_show

from installation.errors import ShowError
from installation.resources import check_resources, estimate_resources
from installation.show import load_show

MAPPING = '[[mappings]]\ncontrol = "c{i}"\nfeature = "ecg.heart_rate"\n'
PASS = '[[passes]]\nshader = "shaders/a.frag"\n'


def _error(tmp_path: Path, text: str) -> str:
    path = write_show(tmp_path, text)
    with pytest.raises(ShowError) as caught:
        load_show(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}:")
    return message


def _line_of(message: str, path: Path) -> int:
    return int(re.match(rf"{re.escape(str(path))}:(\d+):", message).group(1))


@pytest.mark.parametrize(
    ("snippet", "key", "words"),
    [
        ("[output]\nfps = 1e-9\n", "output.fps", "must be >= 1.0"),
        ("[output]\nsize = [8192, 8192]\n", "output.size", "must be <= 4096"),
        ("[output]\nfps = nan\n", "output.fps", "finite"),
        ("[generator]\nrate = 1e-9\n", "generator.rate", "must be >= 0.1"),
        ("[generator]\nseed = 9223372036854775807\n", "generator.seed", "must be <="),
        ("[generator]\nhidden = 100000\n", "generator.hidden", "must be <= 512"),
        ("[generator]\nlayers = 1000\n", "generator.layers", "must be <= 16"),
        ("[idle]\ncontrols = { calm = inf }\n", "idle.controls", "finite"),
        ("[idle]\ncontrols = { calm = 1e300 }\n", "idle.controls", "must be <="),
    ],
)
def test_out_of_range_numbers_name_the_file_line_and_key(
    tmp_path: Path, snippet: str, key: str, words: str
) -> None:
    message = _error(tmp_path, MINIMAL + snippet)
    assert key in message and words in message, message
    assert _line_of(message, tmp_path / "show.toml") > 0


@pytest.mark.parametrize(
    ("mapping_keys", "words"),
    [
        ("idle = 1e308", "must be <= 1000000.0"),
        ("idle = -inf", "finite"),
        ("in_range = [0.0, 1e30]", "must be <="),
        ("out_range = [nan, 1.0]", "finite"),
    ],
)
def test_mapping_values_are_bounded(tmp_path: Path, mapping_keys: str, words: str) -> None:
    text = MINIMAL.replace('feature = "ecg.beat_pulse"\n',
                           f'feature = "ecg.beat_pulse"\n{mapping_keys}\n')
    message = _error(tmp_path, text)
    assert "mappings[0]." in message and words in message, message


def test_a_stream_name_with_both_quote_characters_is_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace('type = "ECG"\n', 'type = "ECG"\nname = "Bob\'s \\"strap\\""\n')
    message = _error(tmp_path, text)
    assert "streams.ecg" in message and "both quote characters" in message


@pytest.mark.parametrize(("table", "count", "limit"), [("passes", 200, 32),
                                                       ("mappings", 2000, 256)])
def test_too_many_passes_or_mappings_are_refused(
    tmp_path: Path, table: str, count: int, limit: int
) -> None:
    extra = "".join((PASS if table == "passes" else MAPPING.format(i=i)) for i in range(count))
    message = _error(tmp_path, MINIMAL + extra)
    assert f"{table}: {count + 1} entries, at most {limit}" in message, message


def test_a_cppn_too_big_for_the_machine_is_refused_naming_generator_size(tmp_path: Path) -> None:
    path = write_show(tmp_path, MINIMAL + "[generator]\nsize = [4096, 4096]\nhidden = 512\n"
                      "layers = 16\n")
    show = load_show(path)
    assert estimate_resources(show).generator_bytes > 30 * 2**30  # the 34 GB
    with pytest.raises(ShowError) as caught:
        check_resources(show, memory=24 * 2**30)
    message = str(caught.value)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1)
                if text.startswith("size = [4096"))
    assert message.startswith(f"{path}:{line}: generator.size: the cppn generator")
    assert "GB" in message and "\n" not in message


def test_the_default_show_fits_a_small_machine() -> None:
    show = load_show(Path(__file__).resolve().parents[2] / "show.toml")
    assert check_resources(show, memory=4 * 2**30).total_bytes < 100 * 2**20


def test_many_big_passes_are_blamed_on_the_output_size(tmp_path: Path) -> None:
    path = write_show(tmp_path, MINIMAL + PASS * 30 + "[output]\nsize = [4096, 4096]\n")
    with pytest.raises(ShowError, match=r"output\.size: 31 passes"):
        check_resources(load_show(path), memory=8 * 2**30)
