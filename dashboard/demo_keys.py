"""The demo's CloudFront key pair, derived from a fixed seed: every process signs with the key the edge trusts.

The desk, the command line and the demo's CloudFront edge run in different
processes, yet a link signed by one must verify in another, and the private
key must never be written to disk.  So the demo key is not generated at
random: its two primes are found by a deterministic search over a SHA-256
stream of a fixed, public seed (it is a demo key, exactly like
`demo.SIGNER_SECRET`), and every process that needs it derives the same key
in memory.  The result is an ordinary 2048-bit RSA key (CloudFront's key
groups take 2048-bit RSA keys); `cryptography` does all signing with it.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterator

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["KEY_BITS", "private_key", "private_pem", "public_key"]

#: Public on purpose: it protects nothing but the embedded demo.
SEED = b"share-desk demo CloudFront key pair, not a real key, v1"
KEY_BITS = 2048
PUBLIC_EXPONENT = 65537
_MILLER_RABIN_ROUNDS = 24
_SIEVE_LIMIT = 1 << 14


def _small_primes(limit: int) -> tuple[int, ...]:
    flags = bytearray([1]) * limit
    flags[0:2] = b"\0\0"
    for n in range(2, math.isqrt(limit) + 1):
        if flags[n]:
            flags[n * n :: n] = bytes(len(range(n * n, limit, n)))
    return tuple(n for n in range(3, limit) if flags[n])


_SMALL_PRIMES = _small_primes(_SIEVE_LIMIT)


def _stream(label: bytes) -> Iterator[int]:
    """An endless, reproducible stream of 64-bit integers: SHA-256 in counter mode over the seed."""
    counter = 0
    while True:
        block = hashlib.sha256(SEED + b"/" + label + b"/" + counter.to_bytes(8, "big")).digest()
        counter += 1
        for at in range(0, 32, 8):
            yield int.from_bytes(block[at : at + 8], "big")


def _bits(stream: Iterator[int], count: int) -> int:
    value = 0
    for _ in range((count + 63) // 64):
        value = (value << 64) | next(stream)
    return value >> (-count % 64)


def _miller_rabin(n: int, stream: Iterator[int], rounds: int = _MILLER_RABIN_ROUNDS) -> bool:
    """Miller-Rabin with bases drawn from the stream (n is odd and has no small factor)."""
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        a = 2 + _bits(stream, n.bit_length()) % (n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _start(label: bytes, bits: int) -> tuple[int, Iterator[int]]:
    stream = _stream(label)
    return _bits(stream, bits) | (0b11 << (bits - 2)) | 1, stream


def _confirmed(candidate: int, stream: Iterator[int]) -> bool:
    """A recorded step still lands on a usable prime (the test suite proves it with the full search)."""
    if any(candidate % p == 0 for p in _SMALL_PRIMES):
        return False
    return math.gcd(candidate - 1, PUBLIC_EXPONENT) == 1 and _miller_rabin(candidate, stream, rounds=2)


def search(label: bytes, bits: int) -> int:
    """How many odd steps past its start the labelled stream's first usable prime lies (the full, slow search).

    A window of odd candidates is sieved by the small primes with slice
    assignments (no per-candidate division); only the survivors pay for
    Miller-Rabin.  Derivation is deterministic, so the answer never changes:
    `_STEPS` records it, and a test runs this search to prove it still holds.
    """
    start, stream = _start(label, bits)
    window = 4096  # odd candidates start, start + 2, …, start + 2·(window − 1)
    base = 0
    while True:
        alive = bytearray([1]) * window
        for p in _SMALL_PRIMES:
            # first i with start + 2(base + i) ≡ 0 (mod p)
            first = (-(start + 2 * base) * pow(2, -1, p)) % p
            alive[first::p] = bytes(len(range(first, window, p)))
        for index in range(window):
            candidate = start + 2 * (base + index)
            if alive[index] and math.gcd(candidate - 1, PUBLIC_EXPONENT) == 1 and _miller_rabin(candidate, stream):
                return base + index
        base += window


#: Where `search` ends for each prime, so a process derives the key with a
#: couple of Miller-Rabin runs instead of a search (about a second on a busy
#: machine).  Not secret: anyone with the seed finds them with `search`.
_STEPS = {b"p": 191, b"q": 794}


def _prime(label: bytes, bits: int) -> int:
    start, stream = _start(label, bits)
    steps = _STEPS.get(label)
    if steps is not None:
        candidate = start + 2 * steps
        if _confirmed(candidate, stream):
            return candidate
    return start + 2 * search(label, bits)


@functools.lru_cache(maxsize=1)
def private_key() -> rsa.RSAPrivateKey:
    """The demo key pair (the same in every process), made in memory on first use."""
    p = _prime(b"p", KEY_BITS // 2)
    q = _prime(b"q", KEY_BITS // 2)
    if p == q:  # cannot happen with distinct labels; a guard costs nothing
        raise RuntimeError("the demo key's primes coincide")
    d = pow(PUBLIC_EXPONENT, -1, math.lcm(p - 1, q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(PUBLIC_EXPONENT, p * q),
    )
    return numbers.private_key()


def public_key() -> rsa.RSAPublicKey:
    return private_key().public_key()


@functools.lru_cache(maxsize=1)
def private_pem() -> str:
    """The demo private key as PEM text, for `Settings.cloudfront_private_key` (kept in memory only)."""
    return private_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
