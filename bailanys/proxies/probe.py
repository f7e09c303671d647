"""Does a proxy answer? A TCP connect and, for fake-TLS secrets, a TLS handshake.

Plain Python, no Django: the worker's health check (docs/proxies.md) calls it with
addresses from the database. The answer is None, or a short reason that is safe to store
and to log: it never holds the host, the port or the secret, because a proxy address is
as secret as the proxy (a leaked list is a list to block).

The handshake does not verify the certificate or the name. A fake-TLS MTProto proxy
(mtprotoproxy with MASK on, its default; mtg's domain fronting) passes a client without
the secret through to the real site of the secret's domain, so what answers may hold
that site's certificate or none we would trust; the check is only that something at the
address completes a TLS handshake for that name, as a Telegram client's does.
"""

import errno
import re
import socket
import ssl
import time
from collections.abc import Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

# OpenSSL's reason codes are fixed upper-case names (WRONG_VERSION_NUMBER, ...); anything
# else (a message with an address in it) is left out of the reason.
_OPENSSL_REASON = re.compile(r"[A-Z0-9_]{1,60}")

K = TypeVar("K", bound=Hashable)


def probe(host: str, port: int, *, sni: str | None = None, timeout: float = 5.0) -> str | None:
    """None when the proxy answered, else why not: "refused", "timeout", "dns", "tls: …".

    `timeout` bounds the connect and the handshake together; resolving a host name is
    up to the system resolver (give addresses, or a resolver that answers quickly).
    """
    if not 0 < port < 65536:  # the resolver would wrap 70000 round to 4464
        return "invalid address"
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror:
        return "dns"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return _os_reason(exc)
    except ValueError:  # a host that cannot be a name (a label over 63 letters)
        return "invalid address"
    with sock:
        if sni is None:
            return None
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            with _client_context().wrap_socket(sock, server_hostname=sni):
                return None
        except ssl.SSLError as exc:
            return _tls_reason(exc)
        except TimeoutError:
            return "tls: timeout"
        except OSError as exc:
            return f"tls: {type(exc).__name__}"
        except ValueError:  # an empty or malformed name
            return "tls: invalid sni"


def probe_many(
    targets: Iterable[tuple[K, str, int, str | None]],
    *,
    timeout: float = 5.0,
    workers: int = 16,
) -> dict[K, str | None]:
    """probe() each (key, host, port, sni) at once, `workers` at a time; key -> result.

    A proxy that answers costs milliseconds and one that does not costs `timeout`, so
    n dead proxies take about ceil(n / workers) x timeout.
    """
    targets = list(targets)
    if not targets:
        return {}

    def one(target: tuple[K, str, int, str | None]) -> tuple[K, str | None]:
        key, host, port, sni = target
        return key, probe(host, port, sni=sni, timeout=timeout)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(targets)))) as pool:
        return dict(pool.map(one, targets))


def _client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Not a secure channel: see the module docstring for why nothing is verified.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _tls_reason(exc: ssl.SSLError) -> str:
    reason = getattr(exc, "reason", None)
    name = type(exc).__name__
    if isinstance(reason, str) and _OPENSSL_REASON.fullmatch(reason):
        return f"tls: {name} {reason}"
    return f"tls: {name}"


def _os_reason(exc: OSError) -> str:
    if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "unreachable"
    if exc.errno in (errno.ECONNRESET, errno.ECONNABORTED):
        return "reset"
    code = errno.errorcode.get(exc.errno or 0)
    return f"error: {code}" if code else f"error: {type(exc).__name__}"
