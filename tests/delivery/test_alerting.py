"""The failure-rate alarm: one error line when a recipient's failures cross the threshold, one when it
recovers; ids and counts only."""

from __future__ import annotations

import structlog

from gateway.delivery.metrics import FailureRateAlarm


def test_crossing_and_recovering_are_each_logged_once() -> None:
    alarm = FailureRateAlarm(threshold=0.5, window=10, min_attempts=4)
    with structlog.testing.capture_logs() as logs:
        for ok in (True, False, False):
            alarm.record("webhook", "school.999101.school_dsl", ok)
        assert logs == []  # too few attempts to judge
        alarm.record("webhook", "school.999101.school_dsl", False)  # 3 of 4 failed
        for _ in range(3):
            alarm.record("webhook", "school.999101.school_dsl", False)
        alarm.record("email", "school.999101.school_dsl", True)  # another channel: its own window
        for _ in range(10):
            alarm.record("webhook", "school.999101.school_dsl", True)
    events = [(e["event"], e["log_level"]) for e in logs]
    assert events == [("delivery.failure_rate_high", "error"), ("delivery.failure_rate_recovered", "info")]
    high = logs[0]
    assert (high["channel"], high["recipient"], high["failures"], high["attempts"]) == (
        "webhook",
        "school.999101.school_dsl",
        3,
        4,
    )
    assert alarm.alarmed() == set()
