"""The audit log appends with no lock and is sealed later, signed (issue 22, point 1).

An intake inserts its entry and never touches the chain's head; the worker chains what
was written and signs the new head with a key kept outside the database. Whoever can
write to the database can recompute every hash and the head, and `bailanys audit verify`
still finds the edit: the signed checkpoints no longer match.
"""

import hashlib
import io
import re
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import Api, make_volunteer, run_cli, submit

pytestmark = pytest.mark.django_db(transaction=True)


def audit(*args: str) -> str:
    out = io.StringIO()
    call_command("audit", *args, stdout=out)
    return out.getvalue()


def work(n: int = 3) -> None:
    """Requests filed, one claimed and closed: entries to seal."""
    api = Api()
    for k in range(n):
        submit(api, recipient={"name": f"R{k}", "phone": f"8 701 555 00 {10 + k}"})
    volunteer = Api(make_volunteer()[1])
    claim = volunteer.post("/claims").json()
    volunteer.post(f"/claims/{claim['claim_id']}/outcome", {"outcome": "no_answer"})


def test_an_intake_never_touches_the_chains_head():
    with CaptureQueriesContext(connection) as seen:
        submit(Api())
    statements = [q["sql"].lower() for q in seen.captured_queries]
    assert any("privacy_auditentry" in s for s in statements)  # it was audited
    assert not [s for s in statements if "privacy_audithead" in s]


def test_the_worker_seals_what_was_written_and_verify_lists_the_rest():
    work()
    shown = audit("verify")
    assert shown.startswith("Audit chain intact: 0 entries.")
    assert re.search(r"\b\d+ entries written since the last seal are not sealed yet", shown)
    run_cli("worker", "--batch")
    shown = audit("verify")
    assert re.fullmatch(r"Audit chain intact: \d+ entries.\n", shown), shown
    assert int(shown.split()[3]) >= 5
    work(1)  # a second batch, chained after the first
    run_cli("worker", "--batch")
    assert audit("verify").startswith("Audit chain intact:")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM privacy_auditcheckpoint")
        assert cursor.fetchone()[0] == 2


def _rechain_from(seq: int) -> None:
    """What an attacker with the database can do: edit an entry, then recompute every hash
    after it and the head, exactly as the code would."""
    from bailanys.privacy.audit import _digest
    from bailanys.privacy.models import AuditEntry, AuditHead

    entries = list(AuditEntry.objects.filter(seq__isnull=False).order_by("seq"))
    prev = entries[seq - 2].hash if seq > 1 else "0" * 64
    for entry in entries[seq - 1 :]:
        if entry.seq == seq:
            entry.detail = "forged"
        entry.prev_hash = prev
        entry.hash = prev = _digest(entry)
        entry.save()
    AuditHead.objects.filter(pk=1).update(hash=prev)


def test_an_entry_edited_and_the_chain_recomputed_is_still_found():
    work()
    run_cli("worker", "--batch")
    _rechain_from(2)
    with pytest.raises(CommandError, match=r"does not match its signed checkpoint"):
        audit("verify")


def test_a_checkpoint_signed_without_the_key_is_found():
    work()
    run_cli("worker", "--batch")
    _rechain_from(2)
    from bailanys.privacy.models import AuditCheckpoint, AuditHead

    head = AuditHead.objects.get(pk=1)
    AuditCheckpoint.objects.filter(seq=head.seq).update(hash=head.hash)  # the signature stays
    with pytest.raises(CommandError, match=r"signature does not verify"):
        audit("verify")


def test_a_published_checkpoint_is_checked_with_its_public_key_alone():
    work()
    run_cli("worker", "--batch")
    line = audit("checkpoint").strip()
    seq, head, at, key_id, signature, public = line.split(" ")
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public))
    assert hashlib.sha256(bytes.fromhex(public)).hexdigest()[:16] == key_id
    key.verify(
        bytes.fromhex(signature),
        f"bailanys-audit-checkpoint:{seq}:{head}:{datetime.fromisoformat(at).isoformat()}".encode(),
    )
    assert audit("verify").startswith(f"Audit chain intact: {seq} entries.")


def test_a_log_chained_before_checkpoints_gets_its_head_signed_once():
    work()
    run_cli("worker", "--batch")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM privacy_auditcheckpoint")  # as before the upgrade
    with pytest.raises(CommandError, match=r"head has no signed checkpoint"):
        audit("verify")
    assert "Signed the head" in audit("seal")
    assert audit("verify").startswith("Audit chain intact:")
    assert "Signed the head" not in audit("seal")  # once
