"""Read a Telegram Desktop chat export (`result.json`), one message at a time.

Telegram Desktop writes a single chat as

    {"name": ..., "type": ..., "id": 1234567890, "messages": [{...}, {...}, ...]}

This reader streams the `messages` array element by element with
`json.JSONDecoder.raw_decode` over a buffered read, so a 100,000-message export
uses about as much memory as one message. Nothing here imports Django.

A file that is not such an export raises `ExportError`, which names where
(`messages[12] (id 1013)`, and the character offset in the file) and why.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 64 * 1024  # characters read at a time
# One message, with its entity list, is far below this (Telegram allows 4,096
# characters of text). A value that is still incomplete at this size is an error,
# so a broken file cannot make the reader hold the whole of it in memory.
MAX_VALUE = 4 * 1024 * 1024
_WHITESPACE = " \t\n\r"


class ExportError(ValueError):
    """The file is not a readable Telegram chat export; the message says where and why."""


@dataclass(frozen=True)
class Message:
    """One element of `messages`. `skip_reason` is "" for a post worth parsing."""

    index: int  # position in the `messages` array, from 0
    id: int
    chat_id: int
    type: str  # "message" or "service"
    date: str
    text: str  # the parts of a formatted text joined
    author: str  # `from`: the display name, "" for a deleted account
    from_id: str  # "user123456", "channel123…", or ""
    reply_to: int | None = None
    forwarded_from: str = ""
    edited: str = ""

    @property
    def skip_reason(self) -> str:
        if self.type != "message":
            return "service"
        if not self.text.strip():
            return "empty"
        return ""


def message_text(text) -> str | None:
    """The plain text of a `text` field: a string, or a list of strings and {"text"} parts.

    None when it is neither (the caller reports where).
    """
    if isinstance(text, str):
        return text
    if not isinstance(text, list):
        return None
    out = []
    for part in text:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text", ""), str):
            out.append(part.get("text", ""))
        else:
            return None
    return "".join(out)


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Reader:
    """A window over the file: `buf[pos:]` is unread, `base` is buf[0]'s offset in the file."""

    def __init__(self, stream, name: str):
        self.stream = stream
        self.name = name
        self.buf = ""
        self.pos = 0
        self.base = 0
        self.eof = False
        self.decoder = json.JSONDecoder()

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def fail(self, where: str, reason: str, offset: int | None = None) -> ExportError:
        at = self.offset if offset is None else offset
        return ExportError(f"{self.name}: {where} at character {at}: {reason}")

    def _more(self, want: int = CHUNK) -> bool:
        if self.eof:
            return False
        if self.pos > CHUNK:  # drop what has been read: memory stays flat
            self.base += self.pos
            self.buf = self.buf[self.pos :]
            self.pos = 0
        try:
            chunk = self.stream.read(want)
        except UnicodeDecodeError as exc:
            raise self.fail("the file", f"not UTF-8 text ({exc.reason})") from None
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end of the file)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def expect(self, chars: str, where: str) -> str:
        found = self.peek()
        if not found or found not in chars:
            shown = repr(found) if found else "the end of the file"
            wanted = " or ".join(repr(c) for c in chars)
            reason = f"expected {wanted}, found {shown}"
            if not found:
                reason += " (the file is cut short)"
            raise self.fail(where, reason)
        self.pos += 1
        return found

    def value(self, where: str):
        """Decode one JSON value, reading more until it is complete (or clearly broken)."""
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                at, at_end = self.base + exc.pos, exc.pos >= len(self.buf) - 1
                if len(self.buf) - self.pos < MAX_VALUE and self._more(
                    max(CHUNK, len(self.buf) - self.pos)
                ):
                    continue
                reason = exc.msg.removesuffix(" starting at")
                if self.eof and (at_end or exc.msg.startswith("Unterminated")):
                    reason = f"the file is cut short ({reason[0].lower()}{reason[1:]})"
                elif not self.eof:
                    reason += f" (or a value longer than {MAX_VALUE} characters)"
                raise self.fail(where, reason, at) from None
            # A number at the end of the buffer may go on in the next chunk.
            if end == len(self.buf) and self._more():
                continue
            self.pos = end
            return value


def _message(raw, index: int, chat_id: int, reader: _Reader, start: int) -> Message:
    where = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise reader.fail(where, f"a message must be an object, not {_kind(raw)}", start)
    if not _int(raw.get("id")):
        raise reader.fail(where, f"'id' must be an integer, not {_kind(raw.get('id'))}", start)
    where = f"messages[{index}] (id {raw['id']})"

    def field(key: str, default, kinds: tuple, expected: str):
        value = raw.get(key, default)
        if value is None and None in kinds:
            return default
        if not isinstance(value, tuple(k for k in kinds if k is not None)) or isinstance(
            value, bool
        ):
            raise reader.fail(where, f"'{key}' must be {expected}, not {_kind(value)}", start)
        return value

    kind = field("type", "message", (str,), "a string")
    text = message_text(raw.get("text", ""))
    if text is None:
        raise reader.fail(
            where,
            f"'text' must be a string or a list of parts, not {_kind(raw.get('text'))}"
            if not isinstance(raw.get("text"), list)
            else "'text' has a part that is neither a string nor an object with a string 'text'",
            start,
        )
    reply_to = raw.get("reply_to_message_id")
    if reply_to is not None and not _int(reply_to):
        raise reader.fail(where, f"'reply_to_message_id' must be an integer, not {_kind(reply_to)}")
    return Message(
        index=index,
        id=raw["id"],
        chat_id=chat_id,
        type=kind,
        date=field("date", "", (str,), "a string"),
        text=text,
        author=field("from", "", (str, None), "a string"),
        from_id=field("from_id", "", (str, None), "a string"),
        reply_to=reply_to,
        forwarded_from=field("forwarded_from", "", (str, None), "a string"),
        edited=field("edited", "", (str, None), "a string"),
    )


def read_messages(path: str | Path) -> Iterator[Message]:
    """Every element of the export's `messages` array, in order, as a `Message`.

    Raises FileNotFoundError for a missing file and ExportError for anything
    else wrong with it, when the reader reaches it (messages before it have
    been yielded already: read the file through once to validate it first).
    """
    path = Path(path)
    with path.open(encoding="utf-8-sig", newline="") as stream:
        yield from _read(_Reader(stream, path.name))


def _read(reader: _Reader) -> Iterator[Message]:
    found = reader.peek()
    if found != "{":
        if not found:
            raise reader.fail("the top level", "the file is empty")
        try:
            shown = _kind(reader.value("the top level"))
        except ExportError:
            shown = repr(found)
        raise reader.fail(
            "the top level",
            f"expected an object (a single chat exported as JSON), found {shown}",
            0,
        )
    reader.pos += 1
    chat_id = None
    seen_messages = False
    if reader.peek() == "}":
        reader.pos += 1
    else:
        while True:
            start = reader.offset
            key = reader.value("the top level")
            if not isinstance(key, str):
                raise reader.fail("the top level", "expected a key (a string)", start)
            reader.expect(":", f"the top-level key {key!r}")
            if key == "messages":
                if chat_id is None:
                    raise reader.fail(
                        "the top level",
                        "no integer chat 'id' before 'messages' (is this a single chat export?)",
                    )
                seen_messages = True
                yield from _messages(reader, chat_id)
            else:
                value = reader.value(f"the top-level key {key!r}")
                if key == "id":
                    if not _int(value):
                        raise reader.fail(
                            "the top level", f"the chat 'id' must be an integer, not {_kind(value)}"
                        )
                    chat_id = value
            if reader.expect(",}", "the top level") == "}":
                break
    if not seen_messages:
        raise reader.fail(
            "the top level",
            "no 'messages' array: export a single chat as JSON (not the whole account's data)",
        )
    if reader.peek():
        raise reader.fail("after the top-level object", "unexpected data")


def _messages(reader: _Reader, chat_id: int) -> Iterator[Message]:
    if reader.peek() != "[":
        start = reader.offset
        value = reader.value("'messages'")
        raise reader.fail("'messages'", f"must be an array, not {_kind(value)}", start)
    reader.pos += 1
    if reader.peek() == "]":
        reader.pos += 1
        return
    index = 0
    while True:
        start = reader.offset
        raw = reader.value(f"messages[{index}]")
        yield _message(raw, index, chat_id, reader, start)
        if reader.expect(",]", f"after messages[{index}]") == "]":
            return
        index += 1
