"""Keep personal data and secrets out of every log line.

Phone-number-like runs of digits are masked (`+7701***5678`) and status-link
tokens are cut, whatever logger the line comes from.
"""

import logging
import re

_STATUS_LINK = re.compile(r"/s/[A-Za-z0-9_\-]{8,}")
_TOKEN = re.compile(r"bly_[A-Za-z0-9_\-]{8,}")
# Digits with the separators people type inside numbers; 9+ digits are masked.
_PHONE = re.compile(r"(?<![\d\-])(?!\d{4}-\d\d-\d\d)\+?\d[\d\s\-()]{5,}\d")


def _mask_phone(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    if len(digits) < 9:
        return match.group()
    plus = "+" if match.group().startswith("+") else ""
    return f"{plus}{digits[:4]}***{digits[-4:]}"


def redact(text: str) -> str:
    text = _STATUS_LINK.sub("/s/…", text)
    text = _TOKEN.sub("bly_…", text)
    return _PHONE.sub(_mask_phone, text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
