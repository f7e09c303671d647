"""What the relay tells other apps, without knowing them (channels listen; the core never
imports a channel)."""

from django.dispatch import Signal

# A new case was opened, after its transaction committed. Keyword arguments:
# case_id, kind (the first request's kind).
case_opened = Signal()
