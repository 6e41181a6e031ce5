"""Write a recording of the simulated visitor (``sensors.simulate``) to XDF, no LSL needed.

    .venv/bin/python tools/make_sim_recording.py -o heart200.xdf --script "0:hr=200" --seconds 40

The simulator's own body and signal generators (ECG, 8-channel EEG; ECGSYN waves beat by beat)
produce the samples, which go straight into an XDF file with ``installation.record.XdfWriter``
instead of through LSL outlets: the same signals ``sensors.simulate`` would stream, in a file a
replay (and ``check-flashes``) can use. Beside it, ``NAME.rpeaks.csv`` lists the true beat
times. Deterministic: the same arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # a script in tools/ is run from a checkout

from installation.messages import StreamInfo  # noqa: E402
from installation.record.xdf_writer import XdfWriter  # noqa: E402
from sensors.simulate import GENERATORS, Body, State, parse_script  # noqa: E402

T_RAW0 = 1000.0  # LSL-like clock at the start of the file
CHUNK_S = 0.25


def build(path: Path, script: str = "0:hr=200", seconds: float = 40.0, seed: int = 0,
          kinds: tuple[str, ...] = ("ecg", "eeg")) -> Path:
    """Write the recording and its R-peak truth; return the XDF path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = Body(parse_script(script, State()), seed=seed)
    generators = {kind: GENERATORS[kind](body, seed) for kind in kinds}
    with XdfWriter(path) as writer:
        ids = {}
        for kind, gen in generators.items():
            info = StreamInfo(f"sim-{kind}", gen.type, len(gen.labels), gen.srate, "float32",
                              gen.labels, source_id=f"sim-{kind}-{seed}", hostname="simulator")
            channels = [{"label": label, "unit": gen.unit, "type": gen.type}
                        for label in gen.labels]
            ids[kind] = writer.add_stream(info, desc={
                "channels": {"channel": channels},
                "acquisition": {"source": f"sensors.simulate, script {script!r}, seed {seed}"},
            })
        for sid in ids.values():
            writer.write_clock_offset(sid, T_RAW0, 0.0)
        for k in range(round(seconds / CHUNK_S)):
            t0, t1 = k * CHUNK_S, (k + 1) * CHUNK_S
            for kind, gen in generators.items():
                i0, i1 = round(t0 * gen.srate), round(t1 * gen.srate)
                times = np.arange(i0, i1) / gen.srate
                writer.write_samples(ids[kind], T_RAW0 + times, gen(times).astype(np.float32))
    body.beats_until(seconds)
    beats = [b for b in body.beats if b < seconds]
    with open(path.with_suffix(".rpeaks.csv"), "w", newline="\n") as f:
        f.write("time_s,symbol\n")
        for t in beats:
            f.write(f"{t:.6f},N\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--script", default="0:hr=200", help="sensors.simulate script")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = build(args.output, args.script, args.seconds, args.seed)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
