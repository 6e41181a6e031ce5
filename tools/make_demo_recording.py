"""Build the bundled demo recording ``installation/demo/demo_session.xdf`` from real data.

The file imitates a LabRecorder session: a 60 s MIT-BIH ECG (record 100, lead MLII), 60 s of
single-channel BioSPPy EEG (30 s eyes open, then 30 s eyes closed) and a marker stream, with
LSL-like raw time stamps, clock offsets, boundary chunks and footers. Beside it go the
ground truth files ``demo_session.rpeaks.csv`` and ``demo_session.states.csv``.

Usage::

    python tools/make_demo_recording.py [--data ../shared/data] [--out installation/demo]

The output is deterministic: running it twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# A script in tools/ is run from a checkout, where the package may not be installed.
sys.path.insert(0, str(REPO))

from installation.messages import StreamInfo  # noqa: E402
from installation.record.xdf_writer import XdfWriter  # noqa: E402

T_RAW0 = 4321.5  # LSL local clock (seconds since boot) when the session starts
DURATION_S = 60.0
ECG_FS = 360.0
EEG_FS = 125.0
EEG_SPLICE_S = 241.624  # eyes-open file ends here in the spliced BioSPPy CSV
HALF_S = 30.0
CHUNK_S = 0.5  # LabRecorder pulls roughly this much per stream per write
OFFSET_EVERY_S = 5.0
BOUNDARY_EVERY_S = 10.0
# Same-machine LSL offsets are a few µs. A constant keeps pyxdf's synchronised time stamps
# (and so the ground-truth times beside the file) exact; jittered offsets would bend them
# by up to ~1e-8 s through its linear clock fit.
CLOCK_OFFSET_S = -15e-6


def _ecg(data: Path) -> np.ndarray:
    table = np.loadtxt(data / "mitdb" / "100_MLII_V5_0-300s.csv", delimiter=",", skiprows=1)
    n = round(DURATION_S * ECG_FS)
    return table[:n, 1]  # MLII, mV


def _eeg(data: Path) -> np.ndarray:
    table = np.loadtxt(data / "biosppy" / "eeg_eo_then_ec_spliced.csv", delimiter=",", skiprows=1)
    splice = round(EEG_SPLICE_S * EEG_FS)
    half = round(HALF_S * EEG_FS)
    if not (table[splice - 1, 2] == 0 and table[splice, 2] == 1):
        raise SystemExit("eeg_eo_then_ec_spliced.csv: eyes_closed does not switch at the splice")
    # The 30 s before the splice (eyes open) then the 30 s after it (eyes closed).
    return table[splice - half : splice + half, 1]


def _rpeaks(data: Path) -> list[tuple[float, str]]:
    rows = np.loadtxt(data / "mitdb" / "100.rpeaks.csv", delimiter=",", skiprows=1, dtype=str)
    n = round(DURATION_S * ECG_FS)
    return [(int(s) / ECG_FS, sym) for s, _t, sym in rows if int(s) < n]


def build(data: Path, out: Path) -> Path:
    """Write the demo files into ``out`` and return the XDF path."""
    out.mkdir(parents=True, exist_ok=True)
    ecg, eeg = _ecg(data), _eeg(data)
    xdf_path = out / "demo_session.xdf"
    markers = [(0.0, "eyes_open"), (HALF_S, "eyes_closed")]

    with XdfWriter(xdf_path) as w:
        ecg_id = w.add_stream(
            StreamInfo(
                "MITBIH-100-ECG",
                "ECG",
                1,
                ECG_FS,
                "float32",
                ("MLII",),
                source_id="mitdb-100-MLII",
                hostname="demo-recorder",
            ),
            desc={
                "channels": {"channel": [{"label": "MLII", "unit": "millivolts", "type": "ECG"}]},
                "acquisition": {"source": "PhysioNet MIT-BIH Arrhythmia Database, record 100"},
            },
        )
        eeg_id = w.add_stream(
            StreamInfo(
                "BioSPPy-EEG",
                "EEG",
                1,
                EEG_FS,
                "float32",
                ("EEG",),
                source_id="biosppy-eeg",
                hostname="demo-recorder",
            ),
            desc={
                "channels": {"channel": [{"label": "EEG", "unit": "raw", "type": "EEG"}]},
                "acquisition": {"source": "BioSPPy examples eeg_eo.txt + eeg_ec.txt"},
            },
        )
        mk_id = w.add_stream(
            StreamInfo(
                "demo-markers",
                "Markers",
                1,
                0.0,
                "string",
                source_id="demo-markers",
                hostname="demo-recorder",
            ),
        )
        ids = (ecg_id, eeg_id, mk_id)
        n_chunks = round(DURATION_S / CHUNK_S)
        per_offset = round(OFFSET_EVERY_S / CHUNK_S)
        per_boundary = round(BOUNDARY_EVERY_S / CHUNK_S)
        for k in range(n_chunks):
            t_lo = k * CHUNK_S
            if k % per_offset == 0:
                for sid in ids:
                    w.write_clock_offset(sid, T_RAW0 + t_lo, CLOCK_OFFSET_S)
            if k % per_boundary == 0 and k:
                w.write_boundary()
            for sid, signal, fs in ((ecg_id, ecg, ECG_FS), (eeg_id, eeg, EEG_FS)):
                i0, i1 = round(t_lo * fs), round((t_lo + CHUNK_S) * fs)
                w.write_samples(sid, T_RAW0 + np.arange(i0, i1) / fs, signal[i0:i1])
            for t, label in markers:
                if t_lo <= t < t_lo + CHUNK_S:
                    w.write_samples(mk_id, [T_RAW0 + t], [label])

    with open(out / "demo_session.rpeaks.csv", "w", newline="\n") as f:
        f.write("time_s,symbol\n")
        for t, sym in _rpeaks(data):
            f.write(f"{t:.6f},{sym}\n")
    with open(out / "demo_session.states.csv", "w", newline="\n") as f:
        f.write("start_s,end_s,state\n")
        f.write(f"0.0,{HALF_S:.1f},eyes_open\n{HALF_S:.1f},{DURATION_S:.1f},eyes_closed\n")
    return xdf_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "installation" / "demo")
    args = parser.parse_args()
    path = build(args.data, args.out)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
