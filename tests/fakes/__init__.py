"""Local fakes of the external services Bailanys talks to, for tests, benchmarks and trying
it by hand.

The HTTP ones (``smsgate``, ``telegram``, ``twilio``) listen on a free loopback port over a real
socket and speak the provider's documented API, built on ``base.FakeHttpService``; ``gammu``
plays gammu-smsd's FILES backend on a folder. The pytest fixtures that start them live in
``tests/conftest.py``. Standard library only.
"""
