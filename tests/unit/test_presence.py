"""Visitor presence: which streams count as worn, and the arrival / departure debounce."""

from __future__ import annotations

from installation.messages import Status
from installation.presence import IDLE, STALE_GRACE_S, VISITOR, Presence, worn


def test_a_stream_is_worn_when_data_flows_and_its_features_are_usable_or_warming_up() -> None:
    assert worn(Status.OK, Status.OK)
    assert worn(Status.OK, Status.STALE)  # the detector is still learning: someone is there


def test_a_connected_sensor_sending_a_flat_line_is_not_a_visitor() -> None:
    assert not worn(Status.OK, Status.INVALID)  # electrode off, strap on the table
    assert not worn(Status.STALE, Status.OK)  # the stream froze
    assert not worn(Status.LOST, Status.LOST)
    assert not worn(None, None)


def test_presence_needs_every_required_stream_worn_for_the_arrive_time() -> None:
    presence = Presence(("ecg", "eeg"), arrive_s=0.5, leave_s=2.0)
    assert not presence.update({"ecg": True, "eeg": False}, 0.0)
    assert not presence.update({"ecg": True, "eeg": True}, 0.1)
    assert not presence.update({"ecg": True, "eeg": True}, 0.5)
    assert presence.update({"ecg": True, "eeg": True}, 0.61)
    assert presence.mode == VISITOR and presence.visits == 1


def test_presence_ignores_a_short_dropout_but_not_a_departure() -> None:
    presence = Presence(("ecg",), arrive_s=0.0, leave_s=2.0)
    presence.update({"ecg": True}, 0.0)
    presence.update({"ecg": True}, 0.1)
    assert presence.mode == VISITOR
    presence.update({"ecg": False}, 1.0)
    presence.update({"ecg": True}, 2.5)  # back within leave_s: still the same visitor
    assert presence.mode == VISITOR and presence.visits == 1
    presence.update({"ecg": False}, 3.0)
    assert presence.update({"ecg": False}, 5.1)
    assert presence.mode == IDLE
    presence.update({"ecg": True}, 6.0)
    presence.update({"ecg": True}, 6.1)
    assert presence.mode == VISITOR and presence.visits == 2


def test_a_strap_sending_noise_without_a_heartbeat_stops_counting_after_the_grace() -> None:
    assert worn(Status.OK, Status.STALE, stale_for=STALE_GRACE_S - 0.1)
    assert not worn(Status.OK, Status.STALE, stale_for=STALE_GRACE_S)


def test_without_required_streams_anyone_on_any_stream_is_a_visitor() -> None:
    presence = Presence((), arrive_s=0.0, leave_s=0.0)
    presence.update({}, 0.0)
    presence.update({"eeg": False}, 1.0)
    assert presence.mode == IDLE and presence.visits == 0
    presence.update({"eeg": True, "ppg": False}, 2.0)
    assert presence.mode == VISITOR and presence.visits == 1


def test_arrival_counts_from_when_the_streams_good_data_began() -> None:
    # A heart source is trusted at the end of its run of matching beats; the visitor wore the
    # strap from the run's first beat (Features.ok_since), so arrive_s has passed already.
    presence = Presence(("ecg", "eeg"), arrive_s=0.5, leave_s=2.0)
    assert not presence.update({"ecg": True, "eeg": True}, 10.0, {"ecg": 8.4})  # eeg: now
    assert presence.update({"ecg": True, "eeg": True}, 10.5, {"ecg": 8.4, "eeg": float("nan")})
    presence = Presence(("ecg",), arrive_s=0.5, leave_s=2.0)
    assert presence.update({"ecg": True}, 10.0, {"ecg": 8.4})
    # Evidence never reaches into the future, and a stream not worn forgets it.
    presence = Presence(("ecg",), arrive_s=0.5, leave_s=2.0)
    assert not presence.update({"ecg": True}, 10.0, {"ecg": 12.0})
    assert not presence.update({"ecg": False}, 10.2, {"ecg": 8.0})
    assert not presence.update({"ecg": True}, 10.3)
    assert presence.update({"ecg": True}, 10.8) and presence.visits == 1
