"""Local fakes of the external services Bailanys talks to, for tests, benchmarks and trying
it by hand.

The HTTP ones (``smsgate``, ``telegram``, ``twilio``) listen on a free loopback port over a real
socket and speak the provider's documented API, built on ``base.FakeHttpService``; ``gammu``
plays gammu-smsd's FILES backend on a folder. ``outages`` runs IODA, OONI and Cloudflare Radar
on three ports, answering from one made-up ``outage_scenario.Scenario``; ``jan2022`` is that
scenario for January 2022 and writes it as a ``bailanys outages replay`` file. The pytest
fixtures that start them live in ``tests/conftest.py``. Standard library only.
"""
