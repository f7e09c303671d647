"""The log filter masks phone numbers and leaves ids whole (issue 21, item 9).

A task's id is a UUID, and a UUID often holds nine digits in a row: the filter masked
them ("task 3f2504e0-4f89-11d3-9a0c-b3050***3301"), so the id in the log found nothing.
Each line goes through the handler the settings configure, as a real log line does.
"""

import io
import logging
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bailanys.privacy.logfilter import RedactingFilter


def logged(message: str, *args) -> str:
    """What the configured console handler writes for this line."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactingFilter) for f in h.filters)
    )
    # A handler like it, writing here: the configured one's own stream may be a capture
    # an earlier test closed (setStream would flush it and fail).
    stream = io.StringIO()
    copy = logging.StreamHandler(stream)
    copy.setFormatter(handler.formatter)
    for f in handler.filters:
        copy.addFilter(f)
    record = logging.LogRecord("bailanys.test", logging.INFO, __file__, 1, message, args, None)
    copy.handle(record)
    return stream.getvalue()


IDS = [
    "3f2504e0-4f89-11d3-9a0c-b30500203301",  # eleven digits in a row after a letter
    "12345678-1234-1234-1234-123456789012",  # a UUID of digits only
    "a8098c1a-f86e-11da-bd1a-00112233e4a5",
    "3F2504E0-4F89-11D3-9A0C-030500203301",
    "3f2504e04f8911d39a0c030500203301",  # a UUID without hyphens
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # a digest
]
PHONES = ["+7 701 234 56 78", "87012345678", "+7 (701) 234-56-78", "8-701-234-56-78"]


@pytest.mark.parametrize("task_id", IDS)
@pytest.mark.parametrize("phone", PHONES)
def test_an_id_survives_and_a_phone_on_the_same_line_is_masked(task_id, phone):
    line = logged("task %s: call %s failed (%s)", task_id, phone, task_id)
    assert line.count(task_id) == 2, line
    rest = line.replace(task_id, "")
    assert "234 56" not in rest and "2345678" not in rest and "***5678" in rest, line


@pytest.mark.parametrize("phone", PHONES)
def test_a_phone_written_against_letters_or_punctuation_is_still_masked(phone):
    for line in (f"phone={phone};", f"tel:{phone}", f"[{phone}]", f"номер {phone}."):
        assert "***5678" in logged(line), line


@settings(max_examples=200, deadline=None)
@given(task=st.uuids(), digits=st.text("0123456789", min_size=9, max_size=9))
def test_any_uuid_survives_beside_any_nine_digit_number(task, digits):
    phone = f"+7{digits}"
    for text in (str(task), task.hex, str(task).upper()):
        line = logged(f"Task id={text} for {phone}")
        assert text in line, line
        assert phone not in line, line
        assert f"***{digits[-4:]}" in line, line


def test_a_bare_run_of_digits_is_still_taken_for_a_phone():
    """Digits alone are no id: sixteen of them may be a number with a prefix."""
    number = "8770123456781234"
    assert number not in logged(f"outbox {uuid.UUID(int=7)} to {number}")
