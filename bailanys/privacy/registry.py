"""What the wipe and the retention purge walk, filled in by each app at start-up.

Privacy is a foundation: it knows no domain app. An app whose tables hold personal
data registers them in its ``AppConfig.ready``: the wipe deletes every row of each
registered model (cascades take what hangs off them), and the purge calls each
registered purger, which deletes what is past its limits and returns counts.
"""

from collections.abc import Callable
from datetime import datetime

from django.db import models

# A purger gets (now, closed_before, hard_before) and returns {"what": how many}.
Purger = Callable[[datetime, datetime, datetime], dict[str, int]]

_PERSONAL: list[type[models.Model]] = []
_PURGERS: list[Purger] = []


def personal_models_register(model: type[models.Model]) -> None:
    if model not in _PERSONAL:
        _PERSONAL.append(model)


def personal_models() -> list[type[models.Model]]:
    return list(_PERSONAL)


def purger_register(purger: Purger) -> None:
    if purger not in _PURGERS:
        _PURGERS.append(purger)


def purgers() -> list[Purger]:
    return list(_PURGERS)
