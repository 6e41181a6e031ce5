"""Simulated visitor -> LSL: ECG, PPG, RR intervals, EEG, EDA and respiration, seeded.

``python -m sensors.simulate --streams ecg,rr,eeg --script "0:hr=65;20:eyes=closed;40:leave"``

One simulated body drives every stream, so the ECG's R-peaks, the PPG pulses and the RR stream
agree beat for beat. neurokit2's ``ecg_simulate`` / ``ppg_simulate`` generate a whole signal at
one heart rate and do not return their beat times, so the cardiac streams are synthesised here
beat by beat with the same sum-of-Gaussians wave model (McSharry et al. 2003, ECGSYN) that
neurokit2 uses; that lets the heart rate follow the script and the RR stream match the ECG.

Script: ``T:key=value,...`` events separated by ``;`` (T in seconds from the start). Keys:
``hr`` (beats per minute), ``eyes`` (``open`` | ``closed``: closed raises posterior alpha and
stops blinks), ``arousal`` (0..1, scales skin-conductance responses), and the bare words
``leave`` (every outlet disappears, as when a visitor takes the sensors off) and ``arrive``
(the outlets come back with the same source_ids).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pylsl
from scipy import signal

from sensors.outlet import make_outlet, ticks, unique_source_id

__all__ = ["Body", "State", "main", "parse_script"]

STREAM_KINDS = ("ecg", "ppg", "rr", "eeg", "eda", "rsp")
EEG_LABELS = ("Fp1", "Fp2", "C3", "C4", "P3", "P4", "O1", "O2")
# Alpha is strongest over the back of the head; blinks show on the frontal electrodes.
ALPHA_WEIGHT = np.array([0.1, 0.1, 0.3, 0.3, 0.7, 0.7, 1.0, 1.0])
BLINK_WEIGHT = np.array([1.0, 1.0, 0.15, 0.15, 0.05, 0.05, 0.02, 0.02])
# 1/f ("pink") noise filter, J. O. Smith, "Spectral Audio Signal Processing" (pinking filter).
PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])
# ECGSYN waves: (offset s at RR=1 s, amplitude mV, width s); offsets scale with sqrt(RR).
ECG_WAVES = ((-0.2, 0.12, 0.025), (-0.03, -0.12, 0.01), (0.0, 1.1, 0.012),
             (0.03, -0.22, 0.012), (0.27, 0.28, 0.05))


@dataclass(frozen=True)
class State:
    """What the script controls at one instant."""

    hr: float = 70.0
    eyes: str = "open"
    arousal: float = 0.2
    present: bool = True


def parse_script(text: str, start: State | None = None) -> list[tuple[float, State]]:
    """Parse ``T:key=value,...;...`` into ``[(t, state from t on), ...]``, sorted by time.

    Raises
    ------
    ValueError
        A malformed event, with the offending text.
    """
    state = start or State()
    timeline = [(0.0, state)]
    events = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        when, sep, what = part.partition(":")
        try:
            events.append((float(when), what))
        except ValueError:
            raise ValueError(f"script event {part!r}: expected T:key=value") from None
        if not sep:
            raise ValueError(f"script event {part!r}: expected T:key=value")
    for when, what in sorted(events, key=lambda e: e[0]):
        for item in filter(None, (i.strip() for i in what.split(","))):
            key, _, value = item.partition("=")
            if key == "leave":
                state = replace(state, present=False)
            elif key == "arrive":
                state = replace(state, present=True)
            elif key == "hr" and 20 <= float(value) <= 220:
                state = replace(state, hr=float(value))
            elif key == "eyes" and value in ("open", "closed"):
                state = replace(state, eyes=value)
            elif key == "arousal" and 0 <= float(value) <= 1:
                state = replace(state, arousal=float(value))
            else:
                raise ValueError(f"script event {item!r} at {when:g} s: unknown or out of range")
        timeline.append((when, state))
    return timeline


def state_at(timeline: Sequence[tuple[float, State]], t: float) -> State:
    """The scripted state at time ``t`` (seconds from the start)."""
    current = timeline[0][1]
    for when, state in timeline:
        if when > t:
            break
        current = state
    return current


@dataclass
class Body:
    """The simulated visitor: beat times and the slow rhythms every stream shares."""

    timeline: Sequence[tuple[float, State]]
    seed: int = 0
    beats: list[float] = field(default_factory=list)
    rr: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng([self.seed, 1])
        self.beats.append(0.3)
        self.rr.append(60.0 / self.state(0.0).hr)

    def state(self, t: float) -> State:
        return state_at(self.timeline, t)

    def beats_until(self, t: float) -> None:
        """Extend the beat list past ``t``; RR follows the heart rate, breathing (RSA) and noise."""
        while self.beats[-1] <= t:
            last = self.beats[-1]
            base = 60.0 / self.state(last).hr
            rsa = 0.04 * np.sin(2 * np.pi * 0.25 * last)
            interval = base * (1.0 + rsa + 0.015 * self.rng.standard_normal())
            self.beats.append(last + interval)
            self.rr.append(interval)

    def beat_window(self, t0: float, t1: float, before: float, after: float) -> np.ndarray:
        """Indices of beats that influence samples in ``[t0, t1]``."""
        self.beats_until(t1 + before)
        beats = np.asarray(self.beats)
        return np.nonzero((beats >= t0 - after) & (beats <= t1 + before))[0]


class Generator:
    """One stream's signal; ``__call__(times)`` returns ``(n, channels)`` for those times."""

    kind = ""
    type = ""
    labels: tuple[str, ...] = ()
    srate = 0.0
    unit = ""

    def __init__(self, body: Body, seed: int) -> None:
        self.body = body
        self.rng = np.random.default_rng([seed, STREAM_KINDS.index(self.kind) + 10])

    def __call__(self, times: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Ecg(Generator):
    kind, type, labels, srate, unit = "ecg", "ECG", ("ECG",), 250.0, "millivolts"

    def __call__(self, times: np.ndarray) -> np.ndarray:
        out = 0.05 * np.sin(2 * np.pi * 0.25 * times)  # baseline wander with breathing
        out += 0.015 * self.rng.standard_normal(times.shape[0])
        for i in self.body.beat_window(times[0], times[-1], 0.4, 0.6):
            beat, scale = self.body.beats[i], np.sqrt(self.body.rr[i])
            for offset, amp, width in ECG_WAVES:
                centre = beat + (offset * scale if offset > 0.1 else offset)
                out += amp * np.exp(-0.5 * ((times - centre) / width) ** 2)
        return out[:, None]


class Ppg(Generator):
    kind, type, labels, srate, unit = "ppg", "PPG", ("PPG",), 100.0, "normalized"

    def __call__(self, times: np.ndarray) -> np.ndarray:
        out = 0.02 * self.rng.standard_normal(times.shape[0])
        for i in self.body.beat_window(times[0], times[-1], 0.2, 1.0):
            # Pulse arrives ~0.25 s after the R-peak: systolic peak, then the dicrotic wave.
            arrival = self.body.beats[i] + 0.25
            out += np.exp(-0.5 * ((times - arrival - 0.12) / 0.07) ** 2)
            out += 0.35 * np.exp(-0.5 * ((times - arrival - 0.38) / 0.09) ** 2)
        return out[:, None]


class Eeg(Generator):
    kind, type, labels, srate, unit = "eeg", "EEG", EEG_LABELS, 256.0, "microvolts"

    def __init__(self, body: Body, seed: int) -> None:
        super().__init__(body, seed)
        n = len(EEG_LABELS)
        self.zi = np.zeros((len(PINK_A) - 1, n))
        self.alpha_f = 9.5 + self.rng.random()
        self.amp = 2.0
        self.env_zi = np.zeros(1)
        self.next_blink = self.rng.exponential(4.0)

    def __call__(self, times: np.ndarray) -> np.ndarray:
        n, ch = times.shape[0], len(EEG_LABELS)
        white = self.rng.standard_normal((n, ch))
        pink, self.zi = signal.lfilter(PINK_B, PINK_A, white, axis=0, zi=self.zi)
        out = 15.0 * pink
        # Alpha amplitude glides towards its target (~1 s) and waxes and wanes at random.
        target = 20.0 if self.body.state(times[0]).eyes == "closed" else 3.0
        k = 1.0 - np.exp(-1.0 / self.srate)
        amp = np.empty(n)
        for i in range(n):
            self.amp += k * (target - self.amp)
            amp[i] = self.amp
        wobble = 1.0 + 0.3 * np.sin(2 * np.pi * 0.3 * times + self.rng.random())
        alpha = amp * wobble * np.sin(2 * np.pi * self.alpha_f * times)
        out += alpha[:, None] * ALPHA_WEIGHT
        if self.body.state(times[0]).eyes == "open":
            while self.next_blink < times[-1] + 0.5:
                bump = 120.0 * np.exp(-0.5 * ((times - self.next_blink) / 0.07) ** 2)
                out += bump[:, None] * BLINK_WEIGHT
                if self.next_blink > times[-1] - 0.5:
                    break  # finish this blink in the next chunk too
                self.next_blink += 1.0 + self.rng.exponential(3.0)
        else:
            self.next_blink = max(self.next_blink, times[-1] + 1.0)
        return out


class Eda(Generator):
    kind, type, labels, srate, unit = "eda", "EDA", ("EDA",), 32.0, "microsiemens"

    def __init__(self, body: Body, seed: int) -> None:
        super().__init__(body, seed)
        self.tonic = 4.0 + 2.0 * self.rng.random()
        self.responses: list[tuple[float, float]] = []

    def __call__(self, times: np.ndarray) -> np.ndarray:
        arousal = self.body.state(times[0]).arousal
        span = times[-1] - times[0] + 1.0 / self.srate
        for _ in range(self.rng.poisson(span * (0.02 + 0.2 * arousal))):
            onset = times[0] + self.rng.random() * span
            self.responses.append((onset, 0.2 + 0.6 * arousal * self.rng.random()))
        self.tonic += 0.002 * self.rng.standard_normal() * np.sqrt(span)
        out = np.full(times.shape[0], self.tonic) + 0.003 * self.rng.standard_normal(times.shape)
        keep = []
        for onset, amp in self.responses:
            dt = times - onset
            # Bateman function: fast rise (~1 s), slow recovery (~4 s).
            shape = np.where(dt > 0, np.exp(-dt / 4.0) - np.exp(-dt / 0.75), 0.0)
            out += amp * shape / 0.6
            if times[-1] - onset < 30.0:
                keep.append((onset, amp))
        self.responses = keep
        return out[:, None]


class Rsp(Generator):
    kind, type, labels, srate, unit = "rsp", "RSP", ("RSP",), 50.0, "normalized"

    def __init__(self, body: Body, seed: int) -> None:
        super().__init__(body, seed)
        self.phase = 0.0

    def __call__(self, times: np.ndarray) -> np.ndarray:
        rate_hz = 0.25 * (1.0 + 0.1 * np.sin(2 * np.pi * 0.01 * times))
        phases = self.phase + np.cumsum(2 * np.pi * rate_hz / self.srate)
        self.phase = float(phases[-1])
        out = np.sin(phases) + 0.03 * self.rng.standard_normal(times.shape[0])
        return out[:, None]


GENERATORS = {g.kind: g for g in (Ecg, Ppg, Eeg, Eda, Rsp)}


@dataclass
class _Live:
    """One stream being produced: its generator, outlet (None while absent) and counters."""

    kind: str
    labels: tuple[str, ...]
    srate: float
    type: str
    unit: str
    source_id: str
    generator: Generator | None = None
    outlet: pylsl.StreamOutlet | None = None
    sent: int = 0  # samples (or beats, for RR) produced so far


def _build(args: argparse.Namespace, body: Body, t0: float) -> list[_Live]:
    lives = []
    for kind in args.streams:
        if kind == "rr":
            labels: tuple[str, ...] = ("RR",)
            live = _Live(kind, labels, 0.0, "RR", "milliseconds", "")
        else:
            gen = GENERATORS[kind](body, args.seed)
            live = _Live(kind, gen.labels, gen.srate, gen.type, gen.unit, "", gen)
        if args.index:
            live.labels = (*live.labels, "sample_index")
        live.source_id = f"{args.source_id}-{kind}"
        lives.append(live)
    return lives


def _open(live: _Live, args: argparse.Namespace, t0: float) -> None:
    live.outlet = make_outlet(
        f"{args.name}-{live.kind}", live.type, live.labels, live.srate, live.source_id,
        unit=live.unit, extra={"t0": repr(t0), "simulator": "sensors.simulate"},
    )


def _step(live: _Live, body: Body, now_s: float, t0: float, push: bool) -> None:
    """Produce everything due by ``now_s`` (seconds since t0)."""
    if live.kind == "rr":
        body.beats_until(now_s)
        # beat k (k >= 1) ends the interval rr[k]; report it when the beat happens.
        due = int(np.searchsorted(body.beats, now_s, side="right"))
        for k in range(max(live.sent, 1), due):
            row = [body.rr[k] * 1000.0] + ([float(k)] if len(live.labels) > 1 else [])
            if push and live.outlet is not None:
                live.outlet.push_sample(row, t0 + body.beats[k])
        live.sent = max(live.sent, due)
        return
    due = int(np.floor(now_s * live.srate)) + 1
    if due <= live.sent:
        return
    index = np.arange(live.sent, due)
    times = index / live.srate
    assert live.generator is not None
    data = live.generator(times)
    if len(live.labels) > data.shape[1]:
        data = np.column_stack([data, index.astype(np.float64)])
    if push and live.outlet is not None:
        # One stamp for the last sample; liblsl derives the others from the nominal rate,
        # which is exactly t0 + i / srate here.
        live.outlet.push_chunk(np.ascontiguousarray(data, dtype=np.float32),
                               t0 + times[-1])
    live.sent = due


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sensors.simulate", description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="ecg,rr,eeg",
                        type=lambda s: [k.strip().lower() for k in s.split(",") if k.strip()],
                        help=f"comma-separated, from {','.join(STREAM_KINDS)} (default ecg,rr,eeg)")
    parser.add_argument("--script", default="", help="state changes, e.g. '0:hr=60;30:eyes=closed'")
    parser.add_argument("--hr", type=float, default=70.0, help="starting heart rate (bpm)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--name", default="sim", help="stream name prefix (default sim)")
    parser.add_argument("--source-id", default="", help="source_id prefix (default: unique)")
    parser.add_argument("--index", action="store_true",
                        help="append a sample_index channel (tests: proves no sample lost)")
    parser.add_argument("--chunk-ms", type=float, default=20.0, help="push period (ms)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    bad = [k for k in args.streams if k not in STREAM_KINDS]
    if bad or not args.streams:
        parser.error(f"unknown stream kind(s) {bad}; choose from {', '.join(STREAM_KINDS)}")
    try:
        timeline = parse_script(args.script, State(hr=args.hr))
    except ValueError as e:
        parser.error(str(e))
    args.source_id = args.source_id or unique_source_id("sim")
    body = Body(timeline, seed=args.seed)
    t0 = pylsl.local_clock()
    lives = _build(args, body, t0)
    # The first line on stdout tells a supervising process (a test) what to listen for.
    print(json.dumps({"t0": t0, "source_ids": {lv.kind: lv.source_id for lv in lives}}),
          flush=True)
    try:
        for now in ticks(args.chunk_ms / 1000.0, t0):
            now_s = now - t0
            present = body.state(now_s).present
            for live in lives:
                if present and live.outlet is None:
                    _open(live, args, t0)
                elif not present and live.outlet is not None:
                    live.outlet = None  # dropping the last reference destroys the outlet
                _step(live, body, now_s, t0, push=present)
            if args.duration is not None and now_s >= args.duration:
                break
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
