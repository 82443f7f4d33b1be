"""The rules at the door, kept in memory: how many failed handshakes an address may make before
it is refused without a password check, and how refusals are counted instead of logged one by
one. Pure: the caller passes the clock (monotonic seconds) in.

An attacker guessed 2,000 passwords at 97/s and every refusal wrote a row. Now each
(address, charger id) pair and each address get a few failures per window; the failure that
reaches the limit locks that key out, and a key locked out again soon after is locked twice as
long (up to a cap). A charger id attacked from one address still connects from its own address.
"""

import enum
import ipaddress
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ThrottleRule:
    max_failures: int  # failures within window_s that lock the key out
    window_s: float
    lockout_s: float  # the first lockout; each following one doubles
    max_lockout_s: float  # the longest lockout; a key quiet this long after one starts afresh


# A charger with a wrong password retries every 30-60 s: five failures a minute is already an attack.
PAIR_RULE = ThrottleRule(max_failures=5, window_s=60, lockout_s=60, max_lockout_s=3600)
# Many chargers may share one address (a car park behind one router): room for a few of them
# misconfigured at once, but no id scan at line rate.
ADDRESS_RULE = ThrottleRule(max_failures=30, window_s=60, lockout_s=60, max_lockout_s=3600)
# Keys kept per kind; beyond, the least recently failed is forgotten (memory stays bounded).
MAX_KEYS = 10_000


@dataclass(frozen=True)
class Attempts:
    """Recent failures of one key (address, or address and charger id)."""

    failures: tuple[float, ...] = ()
    locked_until: float = 0.0
    lockout_s: float = 0.0  # the last lockout's length


def is_locked(attempts: Attempts, *, now: float) -> bool:
    return now < attempts.locked_until


def attempts_after_failure(attempts: Attempts, *, rule: ThrottleRule, now: float) -> Attempts:
    """One more failure; the one that reaches the limit starts a lockout."""
    recent = (*(at for at in attempts.failures if now - at < rule.window_s), now)
    if len(recent) < rule.max_failures:
        return Attempts(recent, attempts.locked_until, attempts.lockout_s)
    recently_locked = attempts.lockout_s and now - attempts.locked_until < rule.max_lockout_s
    lockout_s = min(rule.max_lockout_s, attempts.lockout_s * 2) if recently_locked else rule.lockout_s
    return Attempts((), now + lockout_s, lockout_s)


def client_address(peer: str, real_ip_header: bytes | None) -> str:
    """The charger's own address. Behind the proxy of deploy/nginx every connection comes from
    the proxy on this machine, which names the client in X-Real-IP: trusted only from a loopback
    peer (no one on the network can claim another address), or all chargers would share one
    address and one attacker's failures would lock them all out."""
    try:
        local = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        local = peer == ""  # a unix socket
    if local and real_ip_header:
        try:
            return str(ipaddress.ip_address(real_ip_header.decode("ascii").strip()))
        except (UnicodeDecodeError, ValueError):
            pass
    return peer


def address_key(address: str) -> str:
    """Whom a failure is held against: an IPv4 address, or an IPv6 address's /64 (one household
    or server gets a whole /64 and can pick any address in it)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


@dataclass(frozen=True)
class Transport:
    """How a handshake reached us: over TLS or not, and the client certificate it showed (PEM,
    as a trusted TLS-terminating proxy forwarded it; empty if none)."""

    tls: bool
    client_certificate_header: bytes = b""


def address_trusted(peer: str, trusted_proxies: list[str]) -> bool:
    """Whether the peer is one of the configured proxies (addresses or networks)."""
    try:
        ip = ipaddress.ip_address(peer)
    except ValueError:
        return False
    for proxy in trusted_proxies:
        try:
            if ip in ipaddress.ip_network(proxy.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


def transport_of(*, peer: str, direct_tls: bool, headers: dict[bytes, bytes], trusted_proxies: list[str]) -> Transport:
    """TLS is ours (the server's own endpoint) or a trusted proxy's, which says so in
    X-Forwarded-Proto and forwards the client certificate in X-SSL-Client-Cert. From anyone
    else those headers are ignored: a charger on plain ws could write them itself."""
    if not address_trusted(peer, trusted_proxies):
        return Transport(tls=direct_tls)
    forwarded_proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
    return Transport(
        tls=direct_tls or forwarded_proto in ("https", "wss"),
        client_certificate_header=headers.get(b"x-ssl-client-cert", b""),
    )


def security_refusal(
    *, tls_required: bool, certificate_required: bool, tls: bool, certificate_problem: str | None
) -> tuple["RefusalKind", str] | None:
    """Security profiles 2 and 3 (OCPP 2.0.1 part 2, A00): TLS, and for 3 a client certificate
    that passed its checks (certificate_problem None)."""
    if tls_required and not tls:
        profile = 3 if certificate_required else 2
        return RefusalKind.TLS_REQUIRED, f"security profile {profile} needs TLS (wss://): refused on plain ws"
    if certificate_required and certificate_problem is not None:
        return RefusalKind.CERTIFICATE_REFUSED, f"client certificate refused: {certificate_problem}"
    return None


class Verdict(enum.Enum):
    OPEN = "open"
    PAIR_LOCKED = "pair locked"  # this address failed too often for this charger id
    ADDRESS_LOCKED = "address locked"  # this address failed too often, whatever the ids


@dataclass(frozen=True)
class Lockout:
    """A lockout that just started: logged once, not once per guess."""

    verdict: Verdict
    address: str
    charge_point_id: str
    lockout_s: float


class Throttle:
    """Failed handshakes per (address, charger id) and per address, in one process."""

    def __init__(self, *, pair_rule: ThrottleRule = PAIR_RULE, address_rule: ThrottleRule = ADDRESS_RULE):
        self.pair_rule = pair_rule
        self.address_rule = address_rule
        self._pairs: OrderedDict[tuple[str, str], Attempts] = OrderedDict()
        self._addresses: OrderedDict[str, Attempts] = OrderedDict()

    def verdict(self, *, address: str, charge_point_id: str, now: float) -> Verdict:
        """Whether this handshake may even be checked."""
        address = address_key(address)
        if is_locked(self._addresses.get(address, Attempts()), now=now):
            return Verdict.ADDRESS_LOCKED
        if is_locked(self._pairs.get((address, charge_point_id), Attempts()), now=now):
            return Verdict.PAIR_LOCKED
        return Verdict.OPEN

    def failed(self, *, address: str, charge_point_id: str, now: float) -> list[Lockout]:
        """A checked handshake failed; returns the lockouts it started."""
        address = address_key(address)
        started = []
        for verdict, store, key, rule in (
            (Verdict.PAIR_LOCKED, self._pairs, (address, charge_point_id), self.pair_rule),
            (Verdict.ADDRESS_LOCKED, self._addresses, address, self.address_rule),
        ):
            before = store.get(key, Attempts())
            after = attempts_after_failure(before, rule=rule, now=now)
            _remember(store, key, after)
            if after.locked_until != before.locked_until:
                started.append(Lockout(verdict, address, charge_point_id, after.lockout_s))
        return started

    def succeeded(self, *, address: str, charge_point_id: str) -> None:
        """The right password from this address for this id: its earlier typos are forgiven."""
        self._pairs.pop((address_key(address), charge_point_id), None)


def _remember(store: OrderedDict, key, attempts: Attempts) -> None:
    store[key] = attempts
    store.move_to_end(key)
    while len(store) > MAX_KEYS:
        store.popitem(last=False)


# --- Counting refusals -------------------------------------------------------------------------

# A refusal row counts the refusals of one kind from one address for one charger id in a minute.
TALLY_PERIOD_S = 60
# Distinct rows per minute at most (each address and id of a scan would be one); the rest are
# counted together in one row per kind.
MAX_TALLY_KEYS_PER_PERIOD = 100
ANY_CHARGER_ID = "(any id)"
OTHER_ADDRESSES = "(other addresses)"


@dataclass
class RefusalCount:
    """Refusals of one key in one period, and how many of them the log already holds."""

    period: int
    address: str
    charge_point_id: str
    kind: str
    message: str
    charger_pk: int | None = None
    count: int = 0
    stored: int = 0
    event_pk: int | None = None

    @property
    def unstored(self) -> int:
        return self.count - self.stored


@dataclass
class RefusalTally:
    """Refusals counted per (period, address, charger id, kind); rows are written from it."""

    max_keys_per_period: int = MAX_TALLY_KEYS_PER_PERIOD
    counts: dict[tuple, RefusalCount] = field(default_factory=dict)

    def add(
        self, *, address: str, charge_point_id: str, kind: str, message: str, charger_pk: int | None, now: float
    ) -> RefusalCount:
        """Count one refusal; returns its count (a new one, count 1, needs a row)."""
        period = int(now // TALLY_PERIOD_S)
        key = (period, address, charge_point_id, kind)
        count = self.counts.get(key)
        if count is None:
            in_period = sum(1 for k in self.counts if k[0] == period)
            if in_period >= self.max_keys_per_period:
                key = (period, OTHER_ADDRESSES, ANY_CHARGER_ID, kind)
                address, charge_point_id, charger_pk = OTHER_ADDRESSES, ANY_CHARGER_ID, None
                message = f"{message} (and others: more than {self.max_keys_per_period} addresses and ids a minute)"
                count = self.counts.get(key)
            if count is None:
                count = self.counts[key] = RefusalCount(period, address, charge_point_id, kind, message, charger_pk)
        count.count += 1
        return count

    def unstored(self) -> list[RefusalCount]:
        return [count for count in self.counts.values() if count.unstored]

    def forget_stored(self, *, now: float) -> None:
        """Counts of past periods that the log holds entirely are done with."""
        period = int(now // TALLY_PERIOD_S)
        for key in [k for k, count in self.counts.items() if k[0] < period and not count.unstored]:
            del self.counts[key]


class RefusalKind(enum.StrEnum):
    """Why a handshake was refused; the first six are what a guesser gets, and count as failures."""

    USER_MISMATCH = "user differs from the id"
    UNKNOWN_ID = "unknown id"
    MISSING_CREDENTIALS = "missing credentials"
    WRONG_PASSWORD = "wrong password"
    PENDING_CAP = "too many pending"
    CERTIFICATE_REFUSED = "client certificate refused"
    TLS_REQUIRED = "TLS required"
    DISABLED = "disabled"
    UNSUPPORTED_SUBPROTOCOL = "unsupported subprotocol"
    WRONG_PATH = "wrong URL path"  # refused at the gate (chargers/routing.py), before any id is checked
    THROTTLED = "throttled"
    DATABASE_UNAVAILABLE = "database unavailable"

    @property
    def is_failure(self) -> bool:
        return self in _FAILURES


_FAILURES = frozenset(
    {
        RefusalKind.USER_MISMATCH,
        RefusalKind.UNKNOWN_ID,
        RefusalKind.MISSING_CREDENTIALS,
        RefusalKind.WRONG_PASSWORD,
        RefusalKind.PENDING_CAP,
        RefusalKind.CERTIFICATE_REFUSED,
    }
)
