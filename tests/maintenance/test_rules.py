"""The pure rules of a window (collector.domain.maintenance): parts and risky hours."""
from __future__ import annotations

from collector.domain.maintenance import reshape, risky_reason
from tests.sla.examples import PARIS, paris


def test_it_keeps_the_old_notice_inside_the_new_bounds_and_adds_the_rest() -> None:
    old = [(paris(2026, 9, 20, 2), paris(2026, 9, 20, 3))]
    kept, added = reshape(old, paris(2026, 9, 20, 1), paris(2026, 9, 20, 2, 30))
    assert kept == [(0, (paris(2026, 9, 20, 2), paris(2026, 9, 20, 2, 30)))]
    assert added == [(paris(2026, 9, 20, 1), paris(2026, 9, 20, 2))]
    moved_away, all_new = reshape(old, paris(2026, 9, 21, 2), paris(2026, 9, 21, 3))
    assert moved_away == [] and all_new == [(paris(2026, 9, 21, 2), paris(2026, 9, 21, 3))]


def test_it_names_the_risky_hours_of_the_contract() -> None:
    def why(start: tuple[int, ...], end: tuple[int, ...]) -> str | None:
        return risky_reason(paris(*start), paris(*end), PARIS)

    assert why((2026, 11, 19, 16, 30), (2026, 11, 19, 17)) == "after 16:00 on a business day"
    assert why((2026, 11, 19, 15), (2026, 11, 19, 16)) is None  # ends at 16:00 sharp
    assert why((2026, 11, 19, 2), (2026, 11, 19, 4)) is None   # the night is not named
    assert why((2026, 11, 20, 12), (2026, 11, 20, 13)) == "Friday afternoon"
    assert why((2026, 11, 21, 10), (2026, 11, 21, 11)) == "weekend"
    # Thursday 24 Dec, the afternoon before Christmas
    assert why((2026, 12, 24, 14), (2026, 12, 24, 15)) == "the afternoon before a public holiday"
    assert why((2026, 11, 11, 9), (2026, 11, 11, 10)) == "public holiday (2026-11-11)"
    # a window running from Wednesday morning into Saturday meets the first risky hour
    assert why((2026, 11, 18, 9), (2026, 11, 21, 9)) == "after 16:00 on a business day"
