"""chargers/admission.py: when failed handshakes lock a key out, and how refusals are counted."""

import pytest

from chargers.admission import (
    ANY_CHARGER_ID,
    OTHER_ADDRESSES,
    Attempts,
    RefusalKind,
    RefusalTally,
    Throttle,
    ThrottleRule,
    Verdict,
    address_key,
    attempts_after_failure,
    client_address,
    is_locked,
)

RULE = ThrottleRule(max_failures=3, window_s=60, lockout_s=60, max_lockout_s=3600)

CASES = [
    # (case, failure times, locked at, not locked at)
    ("two failures lock nothing", [0, 1], None, 2),
    ("the third failure within the window locks for a minute", [0, 1, 2], 61, 62.5),
    ("failures spread wider than the window lock nothing", [0, 40, 80], None, 81),
    ("a second lockout right after the first lasts twice as long", [0, 1, 2, 62, 63, 64], 183, 184.5),
    ("a third one four times as long", [0, 1, 2, 62, 63, 64, 185, 186, 187], 426, 427.5),
    ("after a quiet hour the lockout is short again", [0, 1, 2, 5000, 5001, 5002], 5061, 5062.5),
]


@pytest.mark.parametrize(("case", "failures", "locked_at", "open_at"), CASES, ids=[c[0] for c in CASES])
def test_failures_lock_a_key_out_for_longer_each_time(case, failures, locked_at, open_at):
    attempts = Attempts()
    for at in failures:
        attempts = attempts_after_failure(attempts, rule=RULE, now=at)
    if locked_at is not None:
        assert is_locked(attempts, now=locked_at)
    assert not is_locked(attempts, now=open_at)


def test_the_lockout_never_exceeds_its_cap():
    attempts = Attempts()
    now = 0.0
    for _ in range(30):
        for _ in range(3):
            attempts = attempts_after_failure(attempts, rule=RULE, now=now)
            now += 0.1
        now = attempts.locked_until
    assert attempts.lockout_s == 3600


def test_a_pair_locks_before_its_address_and_other_addresses_stay_open():
    throttle = Throttle(pair_rule=RULE, address_rule=ThrottleRule(5, 60, 60, 3600))
    started = []
    for second in range(3):
        started += throttle.failed(address="10.0.0.9", charge_point_id="garage", now=second)
    assert [lockout.verdict for lockout in started] == [Verdict.PAIR_LOCKED]
    assert throttle.verdict(address="10.0.0.9", charge_point_id="garage", now=3) is Verdict.PAIR_LOCKED
    assert throttle.verdict(address="10.0.0.9", charge_point_id="driveway", now=3) is Verdict.OPEN
    # The real charger, from its own address, is not locked out by the attacker's guesses.
    assert throttle.verdict(address="10.0.0.2", charge_point_id="garage", now=3) is Verdict.OPEN

    for second in range(2):
        started = throttle.failed(address="10.0.0.9", charge_point_id=f"scan-{second}", now=4 + second)
    assert [lockout.verdict for lockout in started] == [Verdict.ADDRESS_LOCKED]
    assert throttle.verdict(address="10.0.0.9", charge_point_id="driveway", now=6) is Verdict.ADDRESS_LOCKED
    assert throttle.verdict(address="10.0.0.2", charge_point_id="driveway", now=6) is Verdict.OPEN


def test_the_right_password_forgives_the_pairs_typos_but_not_the_addresss():
    throttle = Throttle(pair_rule=RULE, address_rule=ThrottleRule(4, 60, 60, 3600))
    for second in range(2):
        throttle.failed(address="10.0.0.9", charge_point_id="garage", now=second)
    throttle.succeeded(address="10.0.0.9", charge_point_id="garage")
    throttle.failed(address="10.0.0.9", charge_point_id="garage", now=2)
    assert throttle.verdict(address="10.0.0.9", charge_point_id="garage", now=3) is Verdict.OPEN
    started = throttle.failed(address="10.0.0.9", charge_point_id="garage", now=3)
    assert [lockout.verdict for lockout in started] == [Verdict.ADDRESS_LOCKED]


def count(tally, *, address="10.0.0.9", charge_point_id="garage", kind=RefusalKind.WRONG_PASSWORD, now=0.0):
    return tally.add(
        address=address, charge_point_id=charge_point_id, kind=kind, message=str(kind), charger_pk=None, now=now
    )


def test_refusals_of_one_key_in_one_minute_share_one_count():
    tally = RefusalTally()
    counts = [count(tally, now=second / 10) for second in range(300)]
    assert all(c is counts[0] for c in counts)
    assert counts[0].count == 300
    later = count(tally, now=61)  # the next minute: a row of its own
    assert later is not counts[0] and later.count == 1
    assert count(tally, kind=RefusalKind.THROTTLED, now=61) is not later


def test_a_minute_holds_a_bounded_number_of_counts_and_the_rest_are_counted_together():
    tally = RefusalTally(max_keys_per_period=10)
    for n in range(500):
        count(tally, address=f"10.0.{n // 250}.{n % 250}", charge_point_id=f"scan-{n}")
    assert len(tally.counts) == 11
    overflow = [c for c in tally.counts.values() if c.address == OTHER_ADDRESSES]
    assert overflow[0].charge_point_id == ANY_CHARGER_ID and overflow[0].count == 490
    assert sum(c.count for c in tally.counts.values()) == 500


def test_stored_counts_of_past_minutes_are_forgotten_and_unstored_ones_kept():
    tally = RefusalTally()
    stored, unstored = count(tally, charge_point_id="a"), count(tally, charge_point_id="b")
    stored.stored = 1
    tally.forget_stored(now=30)  # still this minute: nothing goes
    assert len(tally.counts) == 2
    tally.forget_stored(now=61)
    assert list(tally.counts.values()) == [unstored]
    assert tally.unstored() == [unstored]


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),  # the same /64: the same guesser
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("", ""),  # no address (a unix socket): one key for all such
    ],
)
def test_an_ipv6_guesser_is_held_to_its_64_and_an_ipv4_one_to_its_address(address, key):
    assert address_key(address) == key


def test_guesses_spread_over_a_64_lock_the_whole_64():
    throttle = Throttle(pair_rule=RULE, address_rule=RULE)
    for n in range(3):
        throttle.failed(address=f"2001:db8:1:2::{n + 1}", charge_point_id=f"scan-{n}", now=n)
    assert throttle.verdict(address="2001:db8:1:2::99", charge_point_id="x", now=3) is Verdict.ADDRESS_LOCKED
    assert throttle.verdict(address="2001:db8:1:3::1", charge_point_id="x", now=3) is Verdict.OPEN


@pytest.mark.parametrize(
    ("case", "peer", "header", "address"),
    [
        ("a charger straight from the network", "192.0.2.7", None, "192.0.2.7"),
        ("through the proxy on this machine", "127.0.0.1", b"192.0.2.7", "192.0.2.7"),
        ("through the proxy, over IPv6 loopback", "::1", b"2001:db8::5", "2001:db8::5"),
        ("a peer on the network claiming another address", "192.0.2.7", b"198.51.100.1", "192.0.2.7"),
        ("the proxy passing something that is no address", "127.0.0.1", b"evil\x00", "127.0.0.1"),
        ("a local peer without the header", "127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_the_client_address_comes_from_the_proxy_only_when_the_proxy_is_local(case, peer, header, address):
    assert client_address(peer, header) == address
