"""Money and tariff maths: Decimal with two places, rounded half up like a bill."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal

from core.model import TariffRate, Zone

KOPECK = Decimal("0.01")


def to_money(value: Decimal | int | str) -> Decimal:
    """Round to kopecks, half up."""
    return Decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)


def charge_for(consumption: Mapping[Zone, int], rates: Iterable[TariffRate]) -> Decimal:
    """The charge for kWh per zone at the given per-zone prices (with VAT), in UAH.

    Raises KeyError when a zone has no rate: a tariff gap must never price at zero.
    """
    by_zone = {rate.zone: rate.price for rate in rates}
    total = sum((by_zone[zone] * kwh for zone, kwh in consumption.items()), Decimal(0))
    return to_money(total)


def zone_charges(
    consumption: Mapping[Zone, int], rates: Iterable[TariffRate]
) -> dict[Zone, Decimal]:
    """Each zone's kWh × price, in kopecks, as a bill's zone lines show it.

    The total charge (`charge_for`) rounds once over all zones, so with a price of more than
    two places the lines may differ from it by a kopeck; prices of whole kopecks never do.
    """
    by_zone = {rate.zone: rate.price for rate in rates}
    return {zone: to_money(by_zone[zone] * kwh) for zone, kwh in consumption.items()}
