"""What an outage push says, in both languages: the time as a span or a moment, the group
or groups, and the grid operator's reason as written (labelled as theirs in English)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.i18n import Catalogues
from bot.pushes import PushRenderer
from core.model import Channel
from storage.outbox import ClaimedPush

BASE = {
    "starts_at": "2026-12-01T10:00:00+02:00",
    "ends_at": "2026-12-01T17:00:00+02:00",
    "groups": ["3.2"],
    "streets": [{"settlement": "Київ", "street": "вул. Кузьми Скрябіна", "buildings": ["39"]}],
    "reason": "Заміна опор",
}


@pytest.fixture(scope="module")
def renderer() -> PushRenderer:
    # Outage texts come from the payload alone: no database is asked.
    return PushRenderer(None, Catalogues(), ZoneInfo("Europe/Kyiv"))  # type: ignore[arg-type]


async def said(renderer: PushRenderer, locale: str, **payload: object) -> str:
    push = ClaimedPush(
        1, 1, 1, Channel.TELEGRAM, "100", None, locale, {**BASE, **payload}, "outages", "e", 0
    )
    rendered = await renderer.render(push)
    return rendered.replies[0].text


async def test_a_planned_outage(renderer: PushRenderer) -> None:
    assert await said(renderer, "uk", kind="outage.published") == (
        "⚡ Планове відключення електроенергії\n"
        "Коли: 01.12.2026 з 10:00 до 17:00\n"
        "Черга: 3.2\n"
        "Адреса: Київ, вул. Кузьми Скрябіна, буд. 39\n"
        "Причина: Заміна опор"
    )
    assert await said(renderer, "en", kind="outage.published") == (
        "⚡ Planned power outage\n"
        "When: 01.12.2026 from 10:00 to 17:00\n"
        "Group: 3.2\n"
        "Address: Київ, вул. Кузьми Скрябіна, bldg. 39\n"
        "Reason (as given by the grid operator): Заміна опор"
    )


async def test_an_emergency_across_midnight_and_one_without_an_end(renderer: PushRenderer) -> None:
    night = await said(
        renderer,
        "uk",
        kind="outage.emergency",
        starts_at="2026-12-01T22:00:00+02:00",
        ends_at="2026-12-02T06:00:00+02:00",
        groups=["3.2", "4.1"],
    )
    assert "Коли: з 01.12.2026 22:00 до 02.12.2026 06:00\nЧерги: 3.2, 4.1" in night
    open_end = await said(renderer, "en", kind="outage.emergency", ends_at=None)
    assert "When: from 01.12.2026 at 10:00 until power is restored" in open_end


async def test_a_change_says_what_changed_once(renderer: PushRenderer) -> None:
    changed = {
        "starts_at": {"old": "2026-12-01T09:00:00+02:00", "new": "2026-12-01T10:00:00+02:00"},
        "reason": {"old": "Ремонт", "new": "Заміна опор"},
    }
    uk = await said(renderer, "uk", kind="outage.changed", changed=changed)
    assert "Початок: 01.12.2026 о 09:00 → 10:00\nПричина: Ремонт → Заміна опор" in uk
    assert uk.count("Причина") == 1
    en = await said(renderer, "en", kind="outage.changed", changed=changed)
    assert "Start: 01.12.2026 at 09:00 → 10:00" in en
    assert en.count("Reason (as given by the grid operator): Ремонт → Заміна опор") == 1
    assert en.count("Reason") == 1


async def test_power_back_is_a_moment(renderer: PushRenderer) -> None:
    restored = "2026-12-01T15:40:00+02:00"
    uk = await said(renderer, "uk", kind="outage.restored", restored_at=restored)
    assert uk.startswith("💡 Електропостачання відновлено 01.12.2026 о 15:40\n")
    assert "Причина" not in uk
    en = await said(renderer, "en", kind="outage.restored", restored_at=restored)
    assert en.startswith("💡 Power was restored on 01.12.2026 at 15:40\n")
