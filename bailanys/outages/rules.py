"""The rules that turn readings into states (docs/status.md), as plain functions.

No Django here: each rule takes figures and returns a verdict, so the thresholds can be
read and tested in one place.
"""

import math
from dataclasses import dataclass, field

DAY = 86400
DOWN_RATIO = 0.5  # below half of the same hour's baseline ...
DOWN_STEPS = 2  # ... for two steps running: down
DEGRADED_RATIO = 0.8
MIN_MEASUREMENTS = 3  # OONI measurements (or our own reports) before any verdict
BLOCKED_SHARE = 0.5  # of OONI measurements anomalous: blocked
FAIL_DOWN = 0.5  # of our own reports failed: down
FAIL_DEGRADED = 0.2


@dataclass
class Verdict:
    state: str  # up, degraded, down, blocked, unknown
    confidence: int = 0
    evidence: list[dict] = field(default_factory=list)


def number(value) -> float | None:
    """A finite number from a feed's value, or None (null, text, NaN, a nested object)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else None


def signal_points(start: int, step: int, values: list) -> list[tuple[int, float | None]]:
    return [(start + i * step, number(v)) for i, v in enumerate(values)]


def baseline(points: list[tuple[int, float | None]], at: int, step: int) -> float | None:
    """The usual value at this time of day: the upper quartile of the values at the same
    time (within half a step) on the previous days of the series; None when the series
    holds no earlier day. Not the median: after four days of a shutdown the median of
    seven days is the shutdown's own level, and a network still cut would read "up"."""
    earlier = []
    for t, value in points:
        if value is None or t > at - DAY + step // 2:
            continue
        offset = (at - t) % DAY
        if min(offset, DAY - offset) <= step // 2:
            earlier.append(value)
    if not earlier:
        return None
    earlier.sort()
    return earlier[(3 * len(earlier)) // 4]


def signal_verdict(start: int, step: int, values: list) -> dict | None:
    """What one IODA series says now: {"state", "value", "baseline", "ratio", "at"}, or
    None when it says nothing (too short, no recent data, no baseline)."""
    if step <= 0 or not isinstance(values, list):
        return None
    points = signal_points(start, step, values)
    recent = [(t, v) for t, v in points if v is not None][-DOWN_STEPS:]
    if len(recent) < DOWN_STEPS:
        return None
    ratios = []
    for t, value in recent:
        base = baseline(points, t, step)
        if not base:
            return None
        ratios.append((value / base, value, base, t))
    last_ratio, value, base, at = ratios[-1]
    if all(r < DOWN_RATIO for r, *_ in ratios):
        state = "down"
    elif last_ratio < DEGRADED_RATIO:
        state = "degraded"
    else:
        state = "up"
    return {
        "state": state,
        "value": value,
        "baseline": round(base, 1),
        "ratio": round(last_ratio, 3),
        "at": at,
    }


def share_verdict(
    total: int, bad: int, *, down: float, degraded: float | None, bad_state: str = "down"
) -> tuple[str, int]:
    """(state, confidence) from `bad` of `total` observations."""
    if total < MIN_MEASUREMENTS:
        return "unknown", 0
    confidence = min(100, 40 + 10 * total)
    share = bad / total
    if share >= down:
        return bad_state, confidence
    if degraded is not None and share >= degraded:
        return "degraded", confidence
    return "up", confidence


def ooni_verdict(total: int, anomalies: int) -> tuple[str, int]:
    """A messenger on a network whose internet works: blocked when most recent OONI
    measurements of it are anomalies."""
    return share_verdict(total, anomalies, down=BLOCKED_SHARE, degraded=None, bad_state="blocked")


def sensor_verdict(total: int, failed: int) -> tuple[str, int]:
    """SMS or calls from our own reports."""
    return share_verdict(total, failed, down=FAIL_DOWN, degraded=FAIL_DEGRADED)
