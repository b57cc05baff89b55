"""How long a polling source waits after its polls fail: the poll interval doubling per failure
in a row, up to a cap. A source that is down is not hammered (an SFTP server that refuses a login
may lock the account or ban the address after a few tries), and one that comes back is used again
within the cap."""

from __future__ import annotations


def retry_after(poll_seconds: float, failures: int, cap_seconds: float) -> float:
    """The wait before the next try after ``failures`` failed polls in a row (0: the poll
    interval). Never above ``cap_seconds``, nor below ``poll_seconds``: a cap under the interval
    would make a failing source tried more often than a healthy one is polled."""
    if failures <= 0:
        return poll_seconds
    return min(poll_seconds * 2.0 ** min(failures, 30), max(cap_seconds, poll_seconds))
