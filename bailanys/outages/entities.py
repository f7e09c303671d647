"""The entities watched: the country, its regions (as IODA names them), its networks."""

import re

from django.conf import settings
from django.db import transaction

from bailanys.outages.models import Entity
from bailanys.parsing.cities import city_named

COUNTRY = "country/KZ"
MAX_REGIONS = 60
REGION_CODE = re.compile(r"^[A-Za-z0-9-]{1,20}$")
_REGION_WORDS = re.compile(r"\b(city|oblast|region|province|obl\.?)\b", re.I)


def asns_configured() -> list[tuple[int, str, str, bool]]:
    """(number, name, carrier, mobile) from BAILANYS_OUTAGE_ASNS: "9198=Kazakhtelecom"
    (fixed) or "21299=Beeline:Beeline" (mobile, with its phonenumbers carrier name)."""
    found = []
    for part in settings.BAILANYS_OUTAGE_ASNS.split(","):
        number, _eq, rest = part.strip().partition("=")
        if not number.isdigit() or not rest.strip():
            continue
        name, colon, carrier = rest.partition(":")
        found.append((int(number), name.strip()[:80], carrier.strip()[:40], bool(colon)))
    return found


def entities_ensure() -> None:
    """The country and the configured ASNs exist (regions come from IODA)."""
    with transaction.atomic():
        Entity.objects.update_or_create(
            key=COUNTRY, defaults={"kind": Entity.Kind.COUNTRY, "name": "Kazakhstan", "order": 0}
        )
        keys = []
        for order, (number, name, carrier, mobile) in enumerate(asns_configured(), start=200):
            key = f"asn/{number}"
            keys.append(key)
            Entity.objects.update_or_create(
                key=key,
                defaults={
                    "kind": Entity.Kind.ASN,
                    "name": name,
                    "carrier": carrier,
                    "mobile": mobile,
                    "order": order,
                },
            )
        Entity.objects.filter(kind=Entity.Kind.ASN).exclude(key__in=keys).delete()


def region_city(name: str) -> str:
    """The city a region is named after ("Almaty", "Almaty City", "Karaganda Oblast"), or
    "": the region a recipient's city lies in is found by this name."""
    for candidate in (name, _REGION_WORDS.sub(" ", name)):
        place = city_named(" ".join(candidate.split()))
        if place is not None:
            return place.canonical
    return ""


def regions_store(found: list[tuple[str, str]]) -> int:
    """Regions IODA listed for the country: [(code, name)]; returns how many are kept."""
    kept = 0
    with transaction.atomic():
        for order, (code, name) in enumerate(sorted(found, key=lambda f: f[1])[:MAX_REGIONS]):
            Entity.objects.update_or_create(
                key=f"region/{code}",
                defaults={
                    "kind": Entity.Kind.REGION,
                    "name": name,
                    "city": region_city(name),
                    "order": 10 + order,
                },
            )
            kept += 1
    return kept


def entity_keys(kind: str) -> list[str]:
    return list(Entity.objects.filter(kind=kind).values_list("key", flat=True))


def region_of_city(city: str) -> Entity | None:
    """The region whose city is `city` (a recipient's city as typed), or None."""
    place = city_named(city.strip()) if city and city.strip() else None
    if place is None:
        return None
    return Entity.objects.filter(kind=Entity.Kind.REGION, city=place.canonical).first()


def carrier_entities(carrier: str) -> list[Entity]:
    return list(Entity.objects.filter(kind=Entity.Kind.ASN, carrier=carrier)) if carrier else []
