"""A row sealed under a key that is gone is absent, never a server error (issue 16, item 3).

It happens when a backup made before a wipe is restored, or a key file is lost: the
rows are there, the key that opens them is not. Pages and the API answer 404 with the
reason; the rest of the app works.
"""

import pytest
from django.test import Client

from bailanys.privacy import keys
from bailanys.privacy.keys import keyring
from tests.conftest import Api, make_volunteer, status_token, submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def key_dir(tmp_path, settings, monkeypatch):
    monkeypatch.delenv("BAILANYS_MASTER_KEY", raising=False)
    monkeypatch.delenv("BAILANYS_INDEX_KEY", raising=False)
    settings.DATA_DIR = tmp_path / "data"
    keyring.forget()
    yield settings.DATA_DIR
    keyring.forget()


def lose_the_master_key(key_dir) -> None:
    """The master key file is gone (the index key stays, so links still find their row)."""
    (key_dir / keys.MASTER_FILE).unlink()
    keyring.forget()


def test_a_row_whose_key_is_gone_is_absent_not_a_server_error(key_dir):
    before = submit(Api())
    token = status_token(before)
    _name, volunteer_token = make_volunteer()
    lose_the_master_key(key_dir)

    api_page = Api().get(f"/requests/{token}")
    assert api_page.status_code == 404
    assert "can no longer be read" in api_page.json()["detail"]
    web_page = Client().get(f"/s/{token}/")
    assert web_page.status_code == 404
    assert "can no longer be read" in web_page.content.decode()
    claimed = Api(volunteer_token).post("/claims")
    assert claimed.status_code == 404, claimed.content
    # The app goes on: a new request is sealed under a new key and reads back.
    fresh = submit(Api(), phone="+77017654321")
    assert Api().get(f"/requests/{status_token(fresh)}").status_code == 200


def _reached(api_token: str) -> None:
    volunteer = Api(api_token)
    claim = volunteer.post("/claims").json()
    done = volunteer.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "reached"})
    assert done.status_code == 200, done.content


def test_a_notice_whose_key_is_gone_does_not_stop_the_others(key_dir):
    from bailanys.outbox.models import OutboxMessage
    from tests.conftest import outbox_drain

    _name, volunteer_token = make_volunteer()
    submit(Api())
    _reached(volunteer_token)  # its notice waits in the outbox, no worker has run
    [old] = OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING)
    lose_the_master_key(key_dir)
    fresh = submit(Api(), phone="+77017654321")
    _reached(volunteer_token)
    outbox_drain()
    state, error = OutboxMessage.objects.values_list("state", "last_error").get(pk=old.pk)
    assert state == OutboxMessage.State.FAILED and "unreadable" in error
    notices = Api().get(f"/requests/{status_token(fresh)}").json()["notifications"]
    assert len(notices) == 1
