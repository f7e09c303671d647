"""The SMS channel's housekeeping, run by every worker's sweep."""

import logging

from bailanys.channels.sms.drivers import drivers
from bailanys.channels.sms.gateways import gateways_mark_stale
from bailanys.channels.sms.inbound import deliveries_expire

logger = logging.getLogger("bailanys.sms")


def sms_sweep() -> None:
    """Modems' spools are read; silent gateways become stale; SMS with no report in time
    become "unknown", or failed when a stale phone holds them unsent (inbound.py).

    A stale gateway keeps what it holds: nothing is taken from it and sent again before a
    report says it failed or the report timeout runs out, since a phone that comes back
    sends what it held (docs/sms.md, "Health").
    """
    for driver in drivers():
        driver.poll_all()  # first: what a modem sent is recorded before the silence check
    for gateway in gateways_mark_stale():
        # Coordinators watch this log (and the gateway list) for a phone that went quiet.
        logger.warning(
            "SMS gateway %s is silent: marked stale, nothing more is sent through it until "
            "it is heard from",
            gateway.pk,
        )
    deliveries_expire()
