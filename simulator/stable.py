"""Where every simulated number and id comes from: a hash of its coordinates.

The same coordinates give the same value in every process (Python's hash() does not), so tests
can recompute any value without running the server.
"""

from __future__ import annotations

import hashlib
import zlib


def stable_int(*parts: object) -> int:
    """A reproducible pseudo-random int (Python's hash() changes per process)."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def stable_id(*parts: object) -> str:
    """A 64-hex response id, like Datadog's."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
