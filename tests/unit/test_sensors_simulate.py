"""The simulated visitor: its signals follow the script and agree with each other."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from sensors.simulate import Body, Ecg, Eeg, Ppg, State, parse_script, state_at


def _run(gen, seconds: float, chunk: int = 37) -> np.ndarray:
    """Generate ``seconds`` of a stream in odd-sized chunks, as the live loop does."""
    n = int(seconds * gen.srate)
    parts = [gen(np.arange(i, min(i + chunk, n)) / gen.srate) for i in range(0, n, chunk)]
    return np.concatenate(parts)


def test_script_sets_state_from_each_event_time_on():
    timeline = parse_script("10:hr=90,eyes=closed;20:leave;25:arrive,arousal=0.9", State(hr=60))
    assert state_at(timeline, 5).hr == 60
    assert state_at(timeline, 10).hr == 90 and state_at(timeline, 10).eyes == "closed"
    assert not state_at(timeline, 22).present
    assert state_at(timeline, 30).present and state_at(timeline, 30).arousal == 0.9


@pytest.mark.parametrize("bad", ["x:hr=60", "5:hr=500", "5:eyes=half", "5:colour=red", "hr=60"])
def test_malformed_script_events_are_rejected_with_the_event_text(bad):
    with pytest.raises(ValueError, match="script event"):
        parse_script(bad)


def test_heart_rate_follows_the_script_and_ecg_r_peaks_sit_on_the_beat_times():
    body = Body(parse_script("0:hr=60;20:hr=110"), seed=3)
    ecg = _run(Ecg(body, 3), 40.0)[:, 0]
    peaks, _ = signal.find_peaks(ecg, height=0.6, distance=int(0.3 * 250))
    peak_t = peaks / 250.0
    beats = np.asarray(body.beats)
    beats = beats[(beats > 0.1) & (beats < 39.9)]
    assert peak_t.shape == beats.shape
    assert np.max(np.abs(peak_t - beats)) < 0.01
    rr = np.diff(peak_t)
    assert 55 < 60 / np.median(rr[peak_t[1:] < 19]) < 65
    assert 100 < 60 / np.median(rr[peak_t[1:] > 25]) < 120


def test_ppg_pulse_follows_each_heartbeat():
    body = Body(parse_script("0:hr=75"), seed=1)
    ppg = _run(Ppg(body, 1), 20.0)[:, 0]
    peaks, _ = signal.find_peaks(ppg, height=0.6, distance=40)
    beats = np.asarray(body.beats)
    assert abs(peaks.shape[0] - np.sum(beats < 19.5)) <= 1


def test_eeg_alpha_rises_over_the_back_of_the_head_when_the_eyes_close():
    body = Body(parse_script("20:eyes=closed"), seed=5)
    eeg = _run(Eeg(body, 5), 40.0)
    f, open_psd = signal.welch(eeg[512:20 * 256], fs=256, nperseg=512, axis=0)
    _, closed_psd = signal.welch(eeg[22 * 256:], fs=256, nperseg=512, axis=0)
    alpha = (f >= 8) & (f <= 12)
    o1 = 6
    assert closed_psd[alpha, o1].mean() > 10 * open_psd[alpha, o1].mean()
    # 1/f background: more power at 4 Hz than at 30 Hz.
    assert open_psd[np.argmin(abs(f - 4)), o1] > 5 * open_psd[np.argmin(abs(f - 30)), o1]


def test_eeg_blinks_show_on_frontal_channels_only_while_eyes_are_open():
    body = Body(parse_script("30:eyes=closed"), seed=2)
    eeg = _run(Eeg(body, 2), 60.0)
    fp1, o1 = eeg[:, 0], eeg[:, 6]
    open_part, closed_part = slice(0, 30 * 256), slice(31 * 256, 60 * 256)
    blinks, _ = signal.find_peaks(fp1[open_part], height=80, distance=128)
    assert len(blinks) >= 4
    assert np.max(fp1[closed_part]) < 80
    assert np.max(np.abs(o1)) < 80


def test_same_seed_gives_the_same_signals():
    a = _run(Eeg(Body(parse_script(""), seed=9), 9), 5.0, chunk=37)
    b = _run(Eeg(Body(parse_script(""), seed=9), 9), 5.0, chunk=37)
    assert np.array_equal(a, b)
