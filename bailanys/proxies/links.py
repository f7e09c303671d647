"""Proxy links as people paste them: tg://proxy, https://t.me/proxy, tg://socks.

Plain Python (no Django): what a link holds, whether it is well formed, and the one
canonical form Bailanys stores and hands out. A bad link is refused with a reason that
names what is wrong and never repeats the secret.

MTProto secrets (docs/proxies.md, "Link formats"): 16 bytes as 32 hex characters; `dd`
before them asks for random padding; `ee` before them and the hex of a domain after them is
fake TLS, the domain being the name the proxy pretends to serve (its SNI). Hex only: the
base64 form is buggy on iOS (mtprotoproxy), and hex fits one GSM-7 SMS.
"""

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

MAX_LINK = 1000
HOSTS = {"t.me", "telegram.me", "telegram.dog", "www.t.me"}
_HEX = re.compile(r"[0-9a-f]+")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_PORT = re.compile(r"[0-9]{1,5}")
_PARAMS = ("server", "port", "secret", "user", "pass")
# SOCKS user names and passwords: printable ASCII without spaces, at most 255 bytes (RFC 1929).
_CREDENTIAL = re.compile(r"[!-~]{1,255}")


class LinkError(ValueError):
    """Why a link was refused: a short reason in English; never the secret itself."""


@dataclass(frozen=True)
class ProxyLink:
    kind: str  # "mtproto" or "socks"
    server: str
    port: int
    secret: str = ""  # mtproto: lowercase hex, prefix included
    user: str = ""  # socks
    password: str = ""  # socks

    @property
    def fake_tls_domain(self) -> str:
        """The domain a fake-TLS (ee) secret names, else ""."""
        if self.mode == "tls":
            return bytes.fromhex(self.secret[34:]).decode("ascii")
        return ""

    @property
    def mode(self) -> str:
        """classic, padded (dd), tls (ee) or socks."""
        if self.kind == "socks":
            return "socks"
        # By length: a plain 32-character secret may well begin with dd or ee.
        if len(self.secret) == 34:
            return "padded"
        return "tls" if len(self.secret) > 34 else "classic"

    def _query(self) -> str:
        pairs = [("server", self.server), ("port", str(self.port))]
        if self.kind == "mtproto":
            pairs.append(("secret", self.secret))
        else:
            if self.user:
                pairs.append(("user", self.user))
            if self.password:
                pairs.append(("pass", self.password))
        return "&".join(f"{k}={quote(v, safe='')}" for k, v in pairs)

    def tg_url(self) -> str:
        """tg://proxy?… or tg://socks?…: pressing it in an SMS opens Telegram's dialog."""
        return f"tg://{'proxy' if self.kind == 'mtproto' else 'socks'}?{self._query()}"

    def tme_url(self) -> str:
        """The https://t.me form, for Telegram buttons (they take http(s) links)."""
        return f"https://t.me/{'proxy' if self.kind == 'mtproto' else 'socks'}?{self._query()}"

    def identity(self) -> str:
        """What makes two links the same proxy (for the keyed fingerprint)."""
        return f"{self.kind}|{self.server}|{self.port}|{self.secret}|{self.user}"


def _server(value: str) -> str:
    value = value.lower()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    if not value:
        raise LinkError("the server is empty")
    if "%" in value:  # an IPv6 zone (fe80::1%eth0) names an interface of the sender's machine
        raise LinkError("the server is not a host name or an IP address")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    name = value.rstrip(".")
    labels = name.split(".")
    if (
        len(name) > 253
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise LinkError("the server is not a host name or an IP address")
    return name


def _port(value: str) -> int:
    if not _PORT.fullmatch(value):
        raise LinkError("the port is not a number")
    port = int(value)
    if not 1 <= port <= 65535:
        raise LinkError("the port is not between 1 and 65535")
    return port


def _secret(value: str) -> str:
    secret = value.lower()
    if not secret:
        raise LinkError("the secret is empty")
    if not _HEX.fullmatch(secret):
        raise LinkError("the secret is not hexadecimal (base64 secrets are not taken)")
    if len(secret) == 32:
        return secret
    if len(secret) == 34 and secret.startswith("dd"):
        return secret
    if secret.startswith("ee") and len(secret) > 34 and len(secret) % 2 == 0:
        # The domain is sent as it is (the SNI): a host name exactly as _server writes it,
        # not an address, not bracketed, no trailing dot or space, lower case.
        try:
            domain = bytes.fromhex(secret[34:]).decode("ascii")
            same = _server(domain) == domain
        except (ValueError, LinkError):
            same = False
        if not same or _is_ip(domain):
            raise LinkError("the fake-TLS secret does not end in a domain name")
        return secret
    raise LinkError("the secret is not 32 hex characters, dd and 32, or ee, 32 and a domain in hex")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def parse_link(text: str) -> ProxyLink:
    """The proxy a link describes; LinkError saying why it is not one."""
    link = text.strip()
    if not link:
        raise LinkError("the line is empty")
    if len(link) > MAX_LINK:
        raise LinkError(f"the link is longer than {MAX_LINK} characters")
    if not link.isascii() or any(c.isspace() or ord(c) < 32 for c in link):
        raise LinkError("the link holds spaces or characters a link cannot hold")
    try:
        parts = urlsplit(link)
    except ValueError:
        raise LinkError("the link cannot be read") from None
    scheme = parts.scheme.lower()
    if scheme == "tg":
        what = parts.netloc.lower()
        if parts.path not in ("", "/"):
            raise LinkError("a tg:// link is tg://proxy?… or tg://socks?…")
    elif scheme in ("https", "http"):
        if parts.netloc.lower() not in HOSTS:
            raise LinkError("only t.me links are taken (https://t.me/proxy?…)")
        what = parts.path.strip("/").lower()
    else:
        raise LinkError("not a tg://proxy, tg://socks or https://t.me/proxy link")
    if what not in ("proxy", "socks"):
        raise LinkError("the link is neither a proxy nor a socks link")
    try:
        # Copied out of a web page's source, & comes as &amp; (a real & in a value is %26).
        query = parts.query.replace("&amp;", "&")
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise LinkError("the link's parameters cannot be read") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        key = key.lower()  # a link written in capitals (SERVER=…) is the same link
        if key in params:
            # Only a known name is repeated back: an unknown one may be a pasted secret.
            named = f" {key!r}" if key in _PARAMS else ""
            raise LinkError(f"the parameter{named} is given twice")
        if any(c.isspace() or ord(c) < 32 or not c.isascii() for c in value):
            # %20 or + decoded to a space, or an encoded character a link cannot hold.
            raise LinkError("the link holds spaces or characters a link cannot hold")
        params[key] = value
    for needed in ("server", "port") + (("secret",) if what == "proxy" else ()):
        if needed not in params:
            raise LinkError(f"the link has no {needed}")
    server, port = _server(params["server"]), _port(params["port"])
    if what == "proxy":
        return ProxyLink("mtproto", server, port, secret=_secret(params["secret"]))
    user, password = params.get("user", ""), params.get("pass", "")
    for value, name in ((user, "user"), (password, "password")):
        if value and not _CREDENTIAL.fullmatch(value):
            raise LinkError(f"the SOCKS {name} holds characters it cannot hold")
    if password and not user:
        raise LinkError("the SOCKS link has a password but no user")
    return ProxyLink("socks", server, port, user=user, password=password)
