"""Keep personal data and secrets out of every log line.

Phone-number-like runs of digits are masked (`+7701***5678`) and status-link
tokens are cut, whatever logger the line comes from. Ids are left whole: a UUID
(a task's id) or a long hex id often holds nine digits in a row, and masking them
made the id useless for finding the task.
"""

import logging
import re

_STATUS_LINK = re.compile(r"/s/[A-Za-z0-9_\-]{8,}")
_TOKEN = re.compile(r"bly_[A-Za-z0-9_\-]{8,}")
# Digits with the separators people type inside numbers; 9+ digits are masked.
_PHONE = re.compile(r"(?<![\d\-])(?!\d{4}-\d\d-\d\d)\+?\d[\d\s\-()]{5,}\d")
# Ids, left as they are: a UUID (with or without its hyphens, any case), and a run of
# 16 or more hex digits with at least one letter in it (a digest, a hex token). A run of
# digits alone is no id here: it may be a phone number.
_ID = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|(?=[0-9]*[A-Fa-f])[0-9A-Fa-f]{16,}"
    r")(?![0-9A-Za-z])"
)


def _mask_phone(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    if len(digits) < 9:
        return match.group()
    plus = "+" if match.group().startswith("+") else ""
    return f"{plus}{digits[:4]}***{digits[-4:]}"


def _mask_phones(text: str) -> str:
    """Mask the phone numbers in `text`, outside the ids in it."""
    out, end = [], 0
    for match in _ID.finditer(text):
        out.append(_PHONE.sub(_mask_phone, text[end : match.start()]))
        out.append(match.group())
        end = match.end()
    out.append(_PHONE.sub(_mask_phone, text[end:]))
    return "".join(out)


def redact(text: str) -> str:
    text = _STATUS_LINK.sub("/s/…", text)
    text = _TOKEN.sub("bly_…", text)
    return _mask_phones(text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
