"""Portal payment JSON from patient-engagement platforms -> patient payments, refunds and
payment plans. The schema is documented in docs/portal-payments.md; ``PORTAL`` is the format
object (formats/base.py) and ``check`` answers the intake route before a body is stored."""

from revbridge.formats.portal.format import PORTAL, PortalFormat, check, dedupe_key, to_events

__all__ = ["PORTAL", "PortalFormat", "check", "dedupe_key", "to_events"]
