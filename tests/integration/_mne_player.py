"""A third-party LSL producer for the tests: mne-lsl's ``PlayerLSL`` streaming a real ECG.

Run as ``python tests/integration/_mne_player.py SOURCE_ID``: it streams MIT-BIH record 100
(tests/data, 360 Hz, as an MNE ``RawArray`` of channel type ``ecg``, so the LSL type is the
lower-case ``ecg`` mne-lsl sends), prints one JSON line once the outlet is up, and runs until
killed. It is a subprocess so mne-lsl's own liblsl never shares a process with pylsl's.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data" / "mitdb100_MLII_0-60s.csv"
RATE = 360.0


def ecg_mv() -> np.ndarray:
    """The samples the player streams (mV, as in the CSV)."""
    return np.loadtxt(DATA, comments="#", skiprows=3)


def main() -> None:
    import mne
    from mne_lsl.player import PlayerLSL

    mne.set_log_level("ERROR")
    info = mne.create_info(["MLII"], RATE, ch_types="ecg")
    raw = mne.io.RawArray(ecg_mv()[None, :], info)
    player = PlayerLSL(raw, chunk_size=9, source_id=sys.argv[1], name=f"mne-{sys.argv[1]}")
    player.start()
    print(json.dumps({"source_id": sys.argv[1], "type": player.info.get_channel_types()[0]}),
          flush=True)
    try:
        while True:
            time.sleep(1.0)
    finally:
        player.stop()


if __name__ == "__main__":
    main()
