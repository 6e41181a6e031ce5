"""Seeded input fuzzers shared by the tests and ``benchmarks/bench_fuzz.py``.

* XDF mutations of a real recording (the bundled demo): byte flips, truncations, duplicated
  and deleted chunks, huge lengths, wrong tags, NaN/inf/huge sample values and time stamps,
  bad clock offsets, and damaged stream headers. Each mutant goes through the real
  ``installation replay`` command (in a worker process, several mutants per process, each
  under a time limit) and must end in a result (exit 0) or one error line with exit 2.
* show.toml mutations of the default piece (extreme numbers, hostile strings, wrong types,
  repeated tables, unknown keys, huge generators, flipped or cut text), each replaying the demo
  through the real command, and CSV mutations of real ECG (bad cells and times, cut rows,
  header-only files, damaged meta lines, encodings, garbage), each replayed like the XDFs.
* OSC garbage: random datagrams, wrong types, NaN/inf, +-1e300, unknown and malformed
  addresses, in any mix.

XDF layout (the XDF 1.0 specification, github.com/sccn/xdf/wiki/Specifications): ``XDF:``,
then chunks of ``[length width: 1 byte (1, 4 or 8)] [length] [tag: uint16] [content]``.
Tags: 1 FileHeader, 2 StreamHeader, 3 Samples, 4 ClockOffset, 5 Boundary, 6 StreamFooter.
Samples: ``[stream id: uint32] [count: varlen] ([stamp width: 0|8] [double]? [values])*``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import signal
import struct
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"
SIZES = {"float32": 4, "double64": 8, "int8": 1, "int16": 2, "int32": 4, "int64": 8}
FLOAT_CODES = {"float32": "<f", "double64": "<d"}
BAD_FLOATS = (float("nan"), float("inf"), float("-inf"), 1e300, -1e300, 1e38, -1e38)


@dataclass(frozen=True)
class Chunk:
    start: int  # offset of the length-width byte
    content: int  # offset of the content (after the tag)
    end: int
    tag: int


def chunks(raw: bytes) -> list[Chunk]:
    """The chunks of a well-formed XDF file."""
    out, pos = [], 4
    while pos < len(raw):
        width = raw[pos]
        length = int.from_bytes(raw[pos + 1:pos + 1 + width], "little")
        tag = int.from_bytes(raw[pos + 1 + width:pos + 3 + width], "little")
        end = pos + 1 + width + length
        out.append(Chunk(pos, pos + 3 + width, end, tag))
        pos = end
    return out


def make_chunk(tag: int, content: bytes) -> bytes:
    return bytes([8]) + struct.pack("<QH", len(content) + 2, tag) + content


def _varlen(raw: bytes, pos: int) -> tuple[int, int]:
    width = raw[pos]
    return int.from_bytes(raw[pos + 1:pos + 1 + width], "little"), pos + 1 + width


def stream_formats(raw: bytes) -> dict[int, tuple[int, str]]:
    """Stream id -> (channel count, channel format), from the stream headers."""
    formats = {}
    for c in chunks(raw):
        if c.tag == 2:
            sid = struct.unpack_from("<I", raw, c.content)[0]
            xml = raw[c.content + 4:c.end].decode("utf-8", "replace")
            count = int(re.search(r"<channel_count>(\d+)<", xml).group(1))
            fmt = re.search(r"<channel_format>(\w+)<", xml).group(1)
            formats[sid] = (count, fmt)
    return formats


def samples_layout(raw: bytes, c: Chunk, formats: dict[int, tuple[int, str]]
                   ) -> tuple[str, list[int], list[tuple[int, int]]] | None:
    """(format, time stamp offsets, value spans) of a numeric Samples chunk."""
    sid = struct.unpack_from("<I", raw, c.content)[0]
    if sid not in formats or formats[sid][1] not in SIZES:
        return None
    count, fmt = formats[sid]
    n, pos = _varlen(raw, c.content + 4)
    stamps, values = [], []
    for _ in range(n):
        width = raw[pos]
        pos += 1
        if width == 8:
            stamps.append(pos)
            pos += 8
        values.append((pos, pos + count * SIZES[fmt]))
        pos += count * SIZES[fmt]
    return fmt, stamps, values


def mutate_xdf(raw: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One seeded mutation of ``raw``; returns its kind and the mutant."""
    kinds = ("flip", "truncate", "duplicate", "delete", "huge_length", "wrong_tag",
             "bad_values", "bad_stamps", "bad_clock_offset", "bad_header")
    kind = kinds[int(rng.integers(len(kinds)))]
    cs = chunks(raw)
    data = bytearray(raw)
    pick = cs[int(rng.integers(len(cs)))]
    if kind == "flip":
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(len(data)))
            data[i] ^= 1 << int(rng.integers(8))
    elif kind == "truncate":
        data = data[:int(rng.integers(0, len(data)))]
    elif kind == "duplicate":
        data[pick.end:pick.end] = raw[pick.start:pick.end]
    elif kind == "delete":
        del data[pick.start:pick.end]
    elif kind == "huge_length":
        length = int(rng.integers(2**31, 2**62))
        head = bytes([8]) + struct.pack("<Q", length)
        data[pick.start:pick.content - 2] = head
    elif kind == "wrong_tag":
        tag = int(rng.choice([0, 7, 255, 65535, *range(1, 7)]))
        data[pick.content - 2:pick.content] = struct.pack("<H", tag)
    elif kind in ("bad_values", "bad_stamps"):
        formats = stream_formats(raw)
        layouts = [(c, samples_layout(raw, c, formats)) for c in cs if c.tag == 3]
        layouts = [(c, lay) for c, lay in layouts if lay is not None and lay[2]]
        _, (fmt, stamps, values) = layouts[int(rng.integers(len(layouts)))]
        if kind == "bad_stamps" and stamps:
            for pos in rng.choice(stamps, size=min(len(stamps), int(rng.integers(1, 20))),
                                  replace=False):
                data[pos:pos + 8] = struct.pack("<d", float(rng.choice(BAD_FLOATS)))
        elif fmt in FLOAT_CODES:
            code, size = FLOAT_CODES[fmt], SIZES[fmt]
            for a, b in [values[int(i)] for i in rng.integers(len(values), size=50)]:
                for pos in range(a, b, size):
                    value = float(rng.choice(BAD_FLOATS))
                    if fmt == "float32" and abs(value) > 3.4e38 and np.isfinite(value):
                        value = float(np.copysign(3.4e38, value))
                    data[pos:pos + size] = struct.pack(code, value)
        else:  # integers: the extremes of the type
            a, b = values[int(rng.integers(len(values)))]
            data[a:b] = b"\xff" * (b - a)
    elif kind == "bad_clock_offset":
        offsets = [c for c in cs if c.tag == 4]
        if offsets:
            c = offsets[int(rng.integers(len(offsets)))]
            pos = c.content + 4 + 8 * int(rng.integers(2))
            data[pos:pos + 8] = struct.pack("<d", float(rng.choice(BAD_FLOATS)))
    elif kind == "bad_header":
        heads = [c for c in cs if c.tag == 2]
        c = heads[int(rng.integers(len(heads)))]
        xml = raw[c.content + 4:c.end].decode("utf-8", "replace")
        field, value = [("channel_count", "0"), ("channel_count", "-3"),
                        ("channel_count", "70000"), ("nominal_srate", "nan"),
                        ("nominal_srate", "inf"), ("nominal_srate", "-250"),
                        ("nominal_srate", "1e300"), ("channel_format", "complex128"),
                        ("type", ""), ("name", "x\"'y")][int(rng.integers(10))]
        xml = re.sub(f"<{field}>[^<]*</{field}>", f"<{field}>{value}</{field}>", xml, count=1)
        new = make_chunk(2, raw[c.content:c.content + 4] + xml.encode())
        data[c.start:c.end] = new
    return kind, bytes(data)


# -- OSC garbage ------------------------------------------------------------------------------

OSC_VALUES = (float("nan"), float("inf"), float("-inf"), 1e300, -1e300, 1e38, -1e38, 0.5,
              2**63 - 1, -(2**63), 0, True, False, None, "very", b"\x00\xff")


def osc_garbage(rng: np.random.Generator, names: tuple[str, ...], count: int) -> list[bytes]:
    """``count`` seeded datagrams: random bytes, valid-looking messages with wrong types,
    NaN/inf/+-1e300/int64 extremes, unknown or malformed addresses, nudges past the end,
    thousands of distinct names, and bundles of them."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    def message() -> bytes:
        name = names[int(rng.integers(len(names)))]
        address = str(rng.choice([
            f"/control/{name}", f"/control/{name}/nudge", f"/control/{name}/clear",
            "/control/clear", f"/control/{name}/nudge/extra",
            f"/control/flood{rng.integers(10**6)}",
            "/control/", "/control//nudge", "/feature/ecg/heart_rate", "/", "//", "/control/*",
            "/control/[!a-z", "/control/{calm,pulse}", f"/CONTROL/{name}"]))
        builder = OscMessageBuilder(address)
        for _ in range(int(rng.choice([0, 1, 1, 1, 2, 5]))):
            value = OSC_VALUES[int(rng.integers(len(OSC_VALUES)))]
            if isinstance(value, float):
                builder.add_arg(value, str(rng.choice(["f", "d"])) if abs(value) < 3e38
                                or not np.isfinite(value) else "d")
            elif isinstance(value, int) and not isinstance(value, bool):
                builder.add_arg(value, "h")
            else:
                builder.add_arg(value)
        return builder.build().dgram

    out = []
    for _ in range(count):
        kind = int(rng.integers(10))
        if kind == 0:  # random bytes
            out.append(rng.bytes(int(rng.integers(1, 200))))
        elif kind == 1:  # a message with random bytes after a valid address
            out.append(b"/control/calm\x00\x00\x00," + rng.bytes(int(rng.integers(1, 40))))
        elif kind == 2:  # a bundle of messages, time-tagged now or far ahead
            tag = (1, 2**63, 2**64 - 1)[int(rng.integers(3))]
            parts = [message() for _ in range(int(rng.integers(1, 6)))]
            out.append(b"#bundle\x00" + struct.pack(">Q", tag)
                       + b"".join(struct.pack(">i", len(p)) + p for p in parts))
        else:
            out.append(message())
    return out


# -- replaying mutants in a worker process ----------------------------------------------------

CASE_LIMIT_S = 60  # a replay of 1.5 s of show that takes longer than this counts as a hang


class _Hang(BaseException):
    pass


def _on_alarm(_signum: int, _frame: object) -> None:
    raise _Hang


def fuzz_show(folder: Path) -> Path:
    """The default piece at a tiny size: the fuzzers test the input path, not the generator."""
    text = (REPO / "show.toml").read_text()
    # Every size (generator, passes, output), whatever the piece's are today: replacing the
    # literal sizes of an older default piece silently left a 192x108 generator and a 320x180
    # pass in, which made each case ~10x dearer and the huge_generator mutants slow, not refused.
    text = re.sub(r"^size = \[\d+, \d+\]$", "size = [32, 18]", text, flags=re.M)
    text = text.replace('shader = "shaders/', f'shader = "{REPO}/shaders/')
    # The repo's own shaders end: no first-frame probe child per case (its own tests are in
    # tests/integration/test_endless_shader.py).
    text = text.replace("[output]\n", "[output]\nprobe_limit_s = 0\n", 1)
    path = folder / "fuzz-show.toml"
    path.write_text(text)
    return path


def replay_cases(paths: list[str], out_dir: str) -> list[dict]:
    """Run ``installation replay`` in this process on each path; one result per path."""
    show = fuzz_show(Path(out_dir))
    return run_cases([(path, _replay_argv(path, str(show), out_dir)) for path in paths],
                     out_dir)


def check_replay_result(result: dict) -> str:
    """``""`` if the case ended as a user may see it end; else what went wrong."""
    if result["hang"]:
        return f"hang (over {CASE_LIMIT_S} s)"
    if result["traceback"]:
        return "traceback: " + result["traceback"].strip().splitlines()[-1]
    if result["rc"] == 0:
        return ""
    if result["rc"] == 2 and len(result["errors"]) == 1 and result["stderr_lines"] == 1:
        return ""
    return f"exit {result['rc']} with {result['stderr_lines']} stderr line(s)"


def nan_stamp_mutants(folder: Path, source: Path = DEMO) -> list[Path]:
    """The reproduced crash (issue 14) and its relatives: the first time stamp of every
    Samples chunk NaN, every stamp of a stream NaN, and +-inf stamps."""
    raw = source.read_bytes()
    formats = stream_formats(raw)
    layouts = [(c, samples_layout(raw, c, formats)) for c in chunks(raw) if c.tag == 3]
    layouts = [lay for _, lay in layouts if lay is not None]
    out = []
    for name, value, which in (("first-nan", float("nan"), "first"),
                               ("all-nan", float("nan"), "all"),
                               ("first-inf", float("inf"), "first"),
                               ("all-minus-inf", float("-inf"), "all")):
        data = bytearray(raw)
        for _, stamps, _ in layouts:
            for pos in stamps[:1] if which == "first" else stamps:
                data[pos:pos + 8] = struct.pack("<d", value)
        path = folder / f"stamps-{name}.xdf"
        path.write_bytes(bytes(data))
        out.append(path)
    return out


def write_mutants(folder: Path, seed: int, count: int, source: Path = DEMO) -> list[Path]:
    raw = source.read_bytes()
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        kind, data = mutate_xdf(raw, rng)
        path = folder / f"mutant-{seed}-{i:04d}-{kind}.xdf"
        path.write_bytes(data)
        paths.append(path)
    return paths


# -- show.toml mutations ----------------------------------------------------------------------

BAD_NUMBERS = ("1e308", "-1e308", "nan", "inf", "-inf", "0", "-1", "1e-9", "0.0001",
               "9223372036854775807", "-9223372036854775808", "4096", "8192", "100000", "2.5")
BAD_STRINGS = ('"Bob\'s \\"strap\\""', '""', '"\\u0001"', '"' + "x" * 5000 + '"',
               '"../../nowhere/missing.frag"', '"ÉCG"', "'single quoted'", '"ecg.no_such"')
BAD_VALUES = ("[1, 2]", "[]", '"x"', "true", "{ a = 1 }", "1", "[[1]]", "[1e308, -1e308]",
              "[8192, 8192]", "[4096, 4096]", "[0, 0]", "[1, 1]", "[33, 19]")
_NUMBER = re.compile(r"(?<![\w.\"])-?\d+(?:\.\d+)?(?:e-?\d+)?(?![\w.\"])")
_STRING = re.compile(r'"[^"\n]*"')
_VALUE = re.compile(r"^(\s*[A-Za-z_][\w]*\s*=\s*)(.+)$", re.M)


def _blocks(text: str, header: str) -> list[tuple[int, int]]:
    """(start, end) of each ``[[header]]`` table in ``text``."""
    starts = [m.start() for m in re.finditer(rf"^\[\[{re.escape(header)}\]\]", text, re.M)]
    spans = []
    for start in starts:
        nxt = re.search(r"^\[", text[start + 1:], re.M)
        spans.append((start, start + 1 + nxt.start() if nxt else len(text)))
    return spans


def mutate_show(text: str, rng: np.random.Generator) -> tuple[str, str]:
    """One seeded mutation of a show's text; returns its kind and the mutant.

    Numbers become extremes (1e308, nan, inf, int64 limits, 0, 8192...), strings become
    hostile (both quote characters, control characters, 5,000 characters, missing files),
    values change type, lines vanish or repeat (duplicate keys), tables repeat 50 to 2,000
    times (passes, mappings), unknown keys appear, generator and output sizes go extreme, and
    the text itself is flipped or cut."""
    kinds = ("number", "string", "value", "delete_line", "duplicate_line", "repeat_table",
             "unknown_key", "huge_generator", "flip", "truncate")
    kind = kinds[int(rng.integers(len(kinds)))]

    def pick(pattern: re.Pattern[str]) -> re.Match[str]:
        found = list(pattern.finditer(text))
        return found[int(rng.integers(len(found)))]

    lines = text.splitlines(keepends=True)
    if kind == "number":
        m = pick(_NUMBER)
        out = text[:m.start()] + str(rng.choice(BAD_NUMBERS)) + text[m.end():]
    elif kind == "string":
        m = pick(_STRING)
        out = text[:m.start()] + str(rng.choice(BAD_STRINGS)) + text[m.end():]
    elif kind == "value":
        m = pick(_VALUE)
        out = text[:m.start(2)] + str(rng.choice(BAD_VALUES)) + text[m.end(2):]
    elif kind == "delete_line":
        i = int(rng.integers(len(lines)))
        out = "".join(lines[:i] + lines[i + 1:])
    elif kind == "duplicate_line":
        i = int(rng.integers(len(lines)))
        out = "".join(lines[:i + 1] + lines[i:])
    elif kind == "repeat_table":
        start, end = _blocks(text, str(rng.choice(["mappings", "passes"])))[0]
        times = int(rng.choice([50, 200, 2000]))
        table = "\n" + text[start:end].strip("\n") + "\n"
        out = text[:end] + table * times + text[end:]
    elif kind == "unknown_key":
        i = int(rng.integers(len(lines)))
        extra = f"surprise_{int(rng.integers(100))} = 1\n"
        out = "".join([*lines[:i + 1], extra, *lines[i + 1:]])
    elif kind == "huge_generator":
        # Past the memory of machines this size (34 to 68 GB asked for): the resource check
        # must refuse them. A heavy show that does fit is slow to replay, not hung, so it is
        # no fuzz case: `check` reports the cost of its first frame instead.
        hidden, layers = int(rng.choice([256, 512])), int(rng.choice([8, 16]))
        size = "[4096, 4096]"
        out = (text.replace("hidden = 32", f"hidden = {hidden}")
               .replace("layers = 5", f"layers = {layers}")
               .replace("size = [32, 18]", f"size = {size}", 1))
    elif kind == "flip":
        data = bytearray(text.encode())
        for _ in range(int(rng.integers(1, 6))):
            i = int(rng.integers(len(data)))
            data[i] = int(rng.choice([ord(c) for c in "[]{}=\"'#\n.,0 "] + [0, 0xff]))
        out = data.decode("utf-8", "replace")
    else:  # truncate
        out = text[:int(rng.integers(len(text)))]
    return kind, out


def write_show_mutants(folder: Path, seed: int, count: int) -> list[Path]:
    """``count`` seeded mutants of the fuzz show (the default piece at a tiny size)."""
    text = fuzz_show(folder).read_text()
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        kind, mutant = mutate_show(text, rng)
        path = folder / f"show-{seed}-{i:04d}-{kind}.toml"
        path.write_text(mutant, encoding="utf-8", errors="replace")
        paths.append(path)
    return paths


# -- CSV mutations --------------------------------------------------------------------------

BAD_CELLS = ("nan", "inf", "-inf", "1e308", "-1e308", "", "x", '"1,5"', "0x10", "1e400",
             "\x00", "１", "--1", "1.2.3")


def base_csv(seconds: float = 6.0) -> str:
    """Real ECG (MIT-BIH record 100, tests/data) as a time,ECG CSV of ``seconds``."""
    values = np.loadtxt(REPO / "tests" / "data" / "mitdb100_MLII_0-60s.csv", comments="#",
                        skiprows=3)[:int(seconds * 360)]
    rows = "".join(f"{i / 360:.6f},{v:g}\n" for i, v in enumerate(values))
    return "# type: ECG\n# srate: 360\ntime,ECG\n" + rows


def mutate_csv(text: str, rng: np.random.Generator) -> tuple[str, str]:
    """One seeded mutation of a CSV recording: bad cells, bad times (NaN, repeated, going
    back, 1e300), missing or extra cells, cut rows, header-only, no header, damaged meta
    lines, BOM and CRLF, binary garbage, huge lines."""
    kinds = ("cells", "times", "cell_count", "cut", "header_only", "no_header", "meta",
             "encoding", "garbage", "long_line")
    kind = kinds[int(rng.integers(len(kinds)))]
    lines = text.splitlines(keepends=True)
    head = 3  # two meta lines and the header
    body = list(range(head, len(lines)))
    if kind == "cells":
        for i in rng.choice(body, size=int(rng.integers(1, 30)), replace=False):
            t, _ = lines[i].rstrip("\n").split(",", 1)
            lines[i] = f"{t},{rng.choice(BAD_CELLS)}\n"
    elif kind == "times":
        i = int(rng.choice(body))
        t = str(rng.choice(["nan", "inf", "-1", "1e300", "0", lines[i - 1].split(",")[0]
                            if i > head else "0", "-1e300", ""]))
        lines[i] = t + "," + lines[i].split(",", 1)[1]
    elif kind == "cell_count":
        i = int(rng.choice(body))
        lines[i] = lines[i].rstrip("\n") + str(rng.choice([",1", ",1,2", ""])) + "\n"
        if rng.random() < 0.5:
            lines[i] = lines[i].split(",")[0] + "\n"
    elif kind == "cut":
        cut = int(rng.integers(len(text)))
        return kind, text[:cut]
    elif kind == "header_only":
        lines = lines[:head]
    elif kind == "no_header":
        lines = lines[head:]
    elif kind == "meta":
        lines[int(rng.integers(2))] = str(rng.choice([
            "# srate: nan\n", "# srate: -5\n", "# srate: 1e308\n", "# type: EMG\n",
            "# type:\n", "# srate: 0\n", "#\n"]))
    elif kind == "encoding":
        text = "\ufeff" + "".join(lines)
        return kind, text.replace("\n", "\r\n") if rng.random() < 0.5 else text
    elif kind == "garbage":
        data = bytearray("".join(lines).encode())
        for _ in range(int(rng.integers(1, 20))):
            data[int(rng.integers(len(data)))] = int(rng.integers(256))
        return kind, data.decode("latin-1")
    else:  # long_line
        i = int(rng.choice(body))
        lines[i] = lines[i].rstrip("\n") + "," * int(rng.choice([10, 10_000])) + "\n"
    return kind, "".join(lines)


def write_csv_mutants(folder: Path, seed: int, count: int) -> list[Path]:
    text = base_csv()
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        kind, mutant = mutate_csv(text, rng)
        path = folder / f"csv-{seed}-{i:04d}-{kind}.csv"
        path.write_bytes(mutant.encode("utf-8", "surrogateescape"))
        paths.append(path)
    return paths


def run_cases(cases: list[tuple[str, list[str]]], out_dir: str) -> list[dict]:
    """Run ``installation`` in this process on each ``(label, argv)``; one result per case."""
    from installation.cli import main

    results = []
    signal.signal(signal.SIGALRM, _on_alarm)
    for label, argv in cases:
        err = io.StringIO()
        result = {"path": label, "rc": None, "traceback": "", "hang": False}
        signal.alarm(CASE_LIMIT_S)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                result["rc"] = main(argv)
        except _Hang:
            result["hang"] = True
        except BaseException:  # what the user would have seen as a traceback
            result["traceback"] = traceback.format_exc(limit=-3)
        finally:
            signal.alarm(0)
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        result["errors"] = [line for line in lines if line.startswith("installation: error:")]
        result["stderr_lines"] = len(lines)
        results.append(result)
    return results


def _replay_argv(recording: str, show: str, out_dir: str) -> list[str]:
    return ["replay", recording, "-o", f"{out_dir}/out.mp4", "--fps", "4", "--duration", "1.5",
            "-q", "--no-report", "--show", show]


if __name__ == "__main__":
    # python tests/fuzz_inputs.py replay FILE...       -> one JSON line per recording
    # python tests/fuzz_inputs.py replay-show SHOW...  -> one JSON line per show (demo replay)
    with tempfile.TemporaryDirectory() as tmp:
        if sys.argv[1] == "replay":
            found = replay_cases(sys.argv[2:], tmp)
        elif sys.argv[1] == "replay-show":
            found = run_cases([(p, _replay_argv(str(DEMO), p, tmp)) for p in sys.argv[2:]], tmp)
        else:
            raise SystemExit(f"unknown fuzz command {sys.argv[1]!r}")
        for r in found:
            print(json.dumps(r), flush=True)
