"""Gateways to external systems: product verification and customer messaging.

Each has an embedded default and an HTTP form; all take their settings as constructor arguments
(tools never read the environment).

Verification (GS1 Lightweight Messaging Standard for Verification of Product Identifiers, LMS):

- :class:`RecordVerificationResponder` answers from the record's manufacturer data (the units
  commissioned in it) with the same JSON reply a manufacturer's responder gives.
- :class:`HttpVerificationGateway` sends the LMS request — an HTTP GET of the GS1 Digital Link
  ``<base>/01/<gtin>/21/<serial>?10=<lot>&17=<YYMMDD>&linkType=verificationService``
  ``&context=<ctx>&reqGLN=<our GLN>&corrUUID=<uuid4>`` — and reads the reply
  ``{"responderGLN", "corrUUID", "data": {"verified", "verificationFailureReason",
  "additionalInfo"}}`` (``verified`` at the top level is accepted too). 429, 5xx, timeouts and
  transport errors are retried with jittered exponential back-off, a bounded number of times.

Both return a :class:`VerificationReply` whose ``status`` is ``verified``, ``not_verified`` or
``could_not_verify``. An unreachable responder, an HTTP error, a body that is not JSON, a reply
without ``verified`` or one carrying another request's ``corrUUID`` is *could not verify*: never
a pass.

Messaging: :class:`OutboxMessenger` (messages stay in the outbox, marked sent locally) and
:class:`WebhookMessenger` (POST ``{message_id, to, channel, body}`` with ``Idempotency-Key`` =
message id on every attempt, so a provider never delivers one message twice).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal, Protocol
from urllib.parse import quote

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from record.clock import Clock, SystemClock
from record.store import Cursor, Store

__all__ = [
    "LMS_CONTEXTS",
    "LMS_REASONS",
    "HttpVerificationGateway",
    "Messenger",
    "OutboxMessenger",
    "OutgoingMessage",
    "RecordVerificationResponder",
    "SendOutcome",
    "VerificationGateway",
    "VerificationReply",
    "VerificationRequest",
    "WebhookMessenger",
    "check_identifier",
    "parse_lms_reply",
]

LMS_REASONS = (
    "No_match_GTIN_Serial",
    "No_match_Lot",
    "No_match_Expiry",
    "Recalled",
    "Expired",
    "Suspect",
    "Illegitimate",
)
# Our verification contexts and the LMS ``context`` value sent for each. LMS 1.0 defines only
# dscsaSaleableReturn; the others follow its naming and a responder may refuse them.
LMS_CONTEXTS = {
    "saleable_return": "dscsaSaleableReturn",
    "dispenser_verification": "dscsaDispenserVerification",
    "suspect_investigation": "dscsaSuspectInvestigation",
    "receiving": "dscsaReceiving",
    "trading_partner_request": "dscsaTradingPartnerRequest",
}
# Reason codes seen in the field (LMS 1.0 and VRS implementations) mapped to ours.
_REASON_ALIASES: dict[str, tuple[str, ...]] = {
    "no_match_gtin_serial": ("No_match_GTIN_Serial",),
    "no_match_gtin": ("No_match_GTIN_Serial",),
    "gtin_not_found": ("No_match_GTIN_Serial",),
    "gtin_not_registered": ("No_match_GTIN_Serial",),
    "no_match_lot": ("No_match_Lot",),
    "no_match_gtin_serial_lot": ("No_match_Lot",),
    "no_match_expiry": ("No_match_Expiry",),
    "no_match_gtin_serial_expiry": ("No_match_Expiry",),
    "no_match_gtin_serial_lot_expiry": ("No_match_Lot", "No_match_Expiry"),
    "recalled": ("Recalled",),
    "expired": ("Expired",),
    "suspect": ("Suspect",),
    "illegitimate": ("Illegitimate",),
    "no_reason_provided": (),
}
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
Status = Literal["verified", "not_verified", "could_not_verify"]


# --- verification ------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationRequest:
    """One product identifier to verify (DSCSA: GTIN + serial + lot + expiry)."""

    gtin: str
    serial: str
    lot: str | None = None
    expiry: date | None = None
    context: str = "dispenser_verification"
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class VerificationReply:
    """A responder's answer, or why there is none (``could_not_verify``)."""

    status: Status
    reasons: tuple[str, ...]
    responder: str
    correlation_id: str
    responder_gln: str | None = None
    requester_gln: str | None = None
    detail: str | None = None
    attempts: int = 1

    @property
    def verified(self) -> bool:
        """True only for a positive answer."""
        return self.status == "verified"

    @classmethod
    def could_not(
        cls,
        responder: str,
        correlation_id: str,
        detail: str,
        *,
        requester_gln: str | None = None,
        attempts: int = 1,
    ) -> VerificationReply:
        """No usable answer: never a pass."""
        return cls("could_not_verify", (), responder, correlation_id, requester_gln=requester_gln,
                   detail=detail, attempts=attempts)  # fmt: skip


class VerificationGateway(Protocol):
    """Anything that verifies a product identifier."""

    name: str

    def verify(self, request: VerificationRequest) -> VerificationReply:
        """Answer the request; never raise for a responder's failure (could_not_verify)."""
        ...


def check_identifier(
    cur: Cursor, gtin: str, serial: str, lot: str | None, expiry: date | None, today: date
) -> tuple[list[str], str | None]:
    """Check one identifier against the record's commissioning data.

    Returns:
        The LMS reason codes (empty: verified) and a short detail for a person.
    """
    found = cur.execute(
        "SELECT u.lot, u.expiry, u.status, l.status AS lot_status FROM units u"
        " LEFT JOIN lots l ON l.gtin = u.gtin AND l.lot = u.lot"
        " WHERE u.gtin = ? AND u.serial = ? AND u.commissioned_at IS NOT NULL",
        [gtin, serial],
    ).fetchone()
    if found is None:
        return ["No_match_GTIN_Serial"], f"serial {serial} was never commissioned for GTIN {gtin}"
    c_lot, c_expiry, status, lot_status = found
    suspect = status in ("suspect", "quarantined", "decommissioned") or lot_status == "quarantined"
    checks = [
        ("No_match_Lot", lot is not None and lot != c_lot, f"lot {lot} differs from {c_lot}"),
        ("No_match_Expiry", expiry is not None and expiry != c_expiry,
         f"expiry {expiry} differs from {c_expiry}"),
        ("Recalled", lot_status == "recalled", f"lot {c_lot} is recalled"),
        ("Expired", c_expiry is not None and c_expiry < today, f"expired on {c_expiry}"),
        ("Suspect", suspect, f"unit status {status}, lot status {lot_status}"),
    ]  # fmt: skip
    hits = [(code, note) for code, failed, note in checks if failed]
    return [code for code, _ in hits], "; ".join(note for _, note in hits) or None


def _reason_codes(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    codes: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            continue
        key = item.strip().lower()
        mapped = _REASON_ALIASES.get(key)
        codes.extend(mapped if mapped is not None else [re.sub(r"\W", "", item)[:64]])
    return tuple(dict.fromkeys(c for c in codes if c))


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def parse_lms_reply(
    payload: Any, *, correlation_id: str, responder: str, requester_gln: str | None = None
) -> VerificationReply:
    """Read an LMS JSON reply; anything malformed is ``could_not_verify`` with the reason."""

    def garbage(detail: str) -> VerificationReply:
        return VerificationReply.could_not(responder, correlation_id, detail,
                                           requester_gln=requester_gln)  # fmt: skip

    if not isinstance(payload, dict):
        return garbage("responder reply is not a JSON object")
    data: dict[str, Any] = payload["data"] if isinstance(payload.get("data"), dict) else {}
    verified = _as_bool(data.get("verified", payload.get("verified")))
    if verified is None:
        return garbage("responder reply has no true/false 'verified'")
    echoed = payload.get("corrUUID", data.get("corrUUID"))
    if echoed is not None and str(echoed) != correlation_id:
        return garbage(f"responder echoed corrUUID {str(echoed)[:40]}, expected {correlation_id}")
    raw = data.get("verificationFailureReason", payload.get("verificationFailureReason"))
    reasons = list(_reason_codes(raw))
    info = data.get("additionalInfo", payload.get("additionalInfo"))
    if isinstance(info, str) and info.strip().lower() == "recalled" and "Recalled" not in reasons:
        reasons.append("Recalled")
    gln = payload.get("responderGLN")
    return VerificationReply(
        "verified" if verified and not reasons else "not_verified", tuple(reasons), responder,
        correlation_id, responder_gln=str(gln)[:20] if gln else None,
        requester_gln=requester_gln, detail=str(info)[:200] if info else None,
    )  # fmt: skip


class RecordVerificationResponder:
    """The embedded default responder: the record's manufacturer data answers.

    Args:
        store: the record (inside a tool, its open transaction is used).
        clock: today's date for the Expired check.
    """

    name = "record"

    def __init__(self, store: Store, *, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or SystemClock()

    def respond(self, request: VerificationRequest) -> dict[str, Any] | None:
        """The LMS JSON reply, or None when the record holds no data for the GTIN."""
        cur = self.store.cursor()
        known = cur.execute(
            "SELECT max(p.manufacturer_gln) FROM (SELECT gtin FROM units WHERE gtin = ?"
            " AND commissioned_at IS NOT NULL LIMIT 1) u LEFT JOIN products p USING (gtin)"
            " GROUP BY u.gtin",
            [request.gtin],
        ).fetchone()
        if known is None:
            return None
        reasons, _ = check_identifier(
            cur, request.gtin, request.serial, request.lot, request.expiry, self.clock.now().date()
        )
        data: dict[str, Any] = {"verified": not reasons}
        if reasons:
            data["verificationFailureReason"] = reasons[0] if len(reasons) == 1 else reasons
        return {"responderGLN": known[0], "corrUUID": request.correlation_id, "data": data}

    def verify(self, request: VerificationRequest) -> VerificationReply:
        """Answer from the record, through the same reply parser as the HTTP form."""
        reply = self.respond(request)
        if reply is None:
            return VerificationReply.could_not(
                self.name, request.correlation_id,
                f"the record holds no manufacturer data for GTIN {request.gtin}; configure the "
                "manufacturer's verification service (verification_url)",
            )  # fmt: skip
        return parse_lms_reply(reply, correlation_id=request.correlation_id, responder=self.name)


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class _HttpGateway:
    """Shared HTTP plumbing: an owned or injected client and a bounded, jittered retry."""

    def __init__(self, timeout_s: float, retries: int, client: httpx.Client | None,
                 backoff_s: float, max_backoff_s: float) -> None:  # fmt: skip
        self.timeout_s = timeout_s
        self.attempts = max(1, retries + 1)
        self._client = client
        self._owned: httpx.Client | None = None
        self._wait = wait_random_exponential(multiplier=backoff_s, max=max_backoff_s)

    @property
    def http(self) -> httpx.Client:
        """The HTTP client (created on first use when none was given)."""
        if self._client is not None:
            return self._client
        if self._owned is None:
            self._owned = httpx.Client(timeout=self.timeout_s)
        return self._owned

    def close(self) -> None:
        """Close the client this gateway created (an injected one is the caller's)."""
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def _call(self, send: Callable[[], httpx.Response]) -> tuple[httpx.Response, int]:
        """Send with retries on 429/5xx/timeouts/transport errors; return (response, attempts).

        Raises:
            _RetryableStatus: the last 429/5xx after every attempt.
            httpx.TransportError: the last timeout or transport error after every attempt.
        """
        tries = 0

        def once() -> httpx.Response:
            nonlocal tries
            tries += 1
            response = send()
            if response.status_code in _RETRY_STATUS:
                raise _RetryableStatus(response)
            return response

        retrying = Retrying(
            retry=retry_if_exception_type((_RetryableStatus, httpx.TransportError)),
            stop=stop_after_attempt(self.attempts), wait=self._wait, reraise=True,
        )  # fmt: skip
        return retrying(once), tries


def _failure_text(exc: Exception) -> str:
    if isinstance(exc, _RetryableStatus):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return f"unreachable ({type(exc).__name__}: {exc})"


class HttpVerificationGateway(_HttpGateway):
    """A manufacturer's (or the Verification Router Service's) LMS responder over HTTP.

    Args:
        base_url: the resolver or responder root, e.g. ``https://vrs.example.com``.
        requester_gln: our GLN, sent as ``reqGLN``.
        timeout_s: timeout of one HTTP request, seconds.
        retries: retries after the first attempt on 429/5xx/timeouts/transport errors.
        client: an httpx client to use (tests, connection pooling); default: one of its own.
        link_type: the ``linkType`` value (``verificationService`` in LMS 1.0).
        backoff_s: back-off multiplier, seconds; waits are random-exponential up to max_backoff_s.
        max_backoff_s: longest wait between attempts, seconds.
    """

    def __init__(self, base_url: str, requester_gln: str, timeout_s: float = 5.0,
                 retries: int = 2, client: httpx.Client | None = None, *,
                 link_type: str = "verificationService", backoff_s: float = 0.25,
                 max_backoff_s: float = 4.0) -> None:  # fmt: skip
        super().__init__(timeout_s, retries, client, backoff_s, max_backoff_s)
        self.base_url = base_url.rstrip("/")
        self.name = self.base_url
        self.requester_gln = requester_gln
        self.link_type = link_type

    def request_url(self, request: VerificationRequest) -> tuple[str, dict[str, str]]:
        """The Digital Link and query parameters of the LMS request."""
        url = f"{self.base_url}/01/{request.gtin}/21/{quote(request.serial, safe='')}"
        params = {"linkType": self.link_type,
                  "context": LMS_CONTEXTS.get(request.context, request.context),
                  "reqGLN": self.requester_gln, "corrUUID": request.correlation_id}  # fmt: skip
        if request.lot:
            params["10"] = request.lot
        if request.expiry:
            params["17"] = f"{request.expiry:%y%m%d}"
        return url, params

    def verify(self, request: VerificationRequest) -> VerificationReply:
        """Ask the responder; a failure to get a usable answer is ``could_not_verify``."""
        url, params = self.request_url(request)
        headers = {"Accept": "application/json"}
        try:
            response, tries = self._call(
                lambda: self.http.get(url, params=params, headers=headers, timeout=self.timeout_s)
            )
        except (_RetryableStatus, httpx.TransportError) as exc:
            why, tries = f"{_failure_text(exc)} after {self.attempts} attempt(s)", self.attempts
            return self._could_not(request, why, tries)
        if not response.is_success:
            return self._could_not(request, f"HTTP {response.status_code}", tries)
        try:
            payload = response.json()
        except ValueError:
            return self._could_not(request, "responder reply is not JSON", tries)
        reply = parse_lms_reply(payload, correlation_id=request.correlation_id,
                                responder=self.name, requester_gln=self.requester_gln)  # fmt: skip
        return replace(reply, attempts=tries)

    def _could_not(self, request: VerificationRequest, why: str, tries: int) -> VerificationReply:
        return VerificationReply.could_not(
            self.name, request.correlation_id, f"could not verify: {why}",
            requester_gln=self.requester_gln, attempts=tries,
        )  # fmt: skip


# --- messaging ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingMessage:
    """A message from the outbox on its way to a provider."""

    message_id: str
    to: str
    channel: str
    body: str


@dataclass(frozen=True)
class SendOutcome:
    """What became of one delivery."""

    status: Literal["sent", "failed"]
    provider_id: str | None = None
    error: str | None = None
    attempts: int = 1


class Messenger(Protocol):
    """Anything that delivers an outbox message."""

    name: str

    def send(self, message: OutgoingMessage) -> SendOutcome:
        """Deliver once; never raise for a provider failure (status failed)."""
        ...


class OutboxMessenger:
    """The embedded default: the message stays in the outbox and is marked sent locally."""

    name = "outbox"

    def send(self, message: OutgoingMessage) -> SendOutcome:
        """Mark as sent with a local provider id."""
        return SendOutcome("sent", provider_id=f"outbox:{message.message_id}")


class WebhookMessenger(_HttpGateway):
    """An SMS/e-mail provider behind a webhook.

    Args:
        url: the provider endpoint receiving ``POST {message_id, to, channel, body}``.
        timeout_s: timeout of one HTTP request, seconds.
        retries: retries after the first attempt on 429/5xx/timeouts/transport errors.
        client: an httpx client to use; default: one of its own.
        headers: extra headers (e.g. the provider's authorization), passed in by settings.
        backoff_s: back-off multiplier, seconds.
        max_backoff_s: longest wait between attempts, seconds.
    """

    def __init__(
        self,
        url: str,
        timeout_s: float = 5.0,
        retries: int = 2,
        client: httpx.Client | None = None,
        *,
        headers: dict[str, str] | None = None,
        backoff_s: float = 0.25,
        max_backoff_s: float = 4.0,
    ) -> None:
        super().__init__(timeout_s, retries, client, backoff_s, max_backoff_s)
        self.url = url
        self.name = url
        self.headers = dict(headers or {})

    def send(self, message: OutgoingMessage) -> SendOutcome:
        """POST the message; the same Idempotency-Key (the message id) on every attempt."""
        body = {"message_id": message.message_id, "to": message.to,
                "channel": message.channel, "body": message.body}  # fmt: skip
        headers = {**self.headers, "Idempotency-Key": message.message_id}
        try:
            response, tries = self._call(
                lambda: self.http.post(self.url, json=body, headers=headers, timeout=self.timeout_s)
            )
        except (_RetryableStatus, httpx.TransportError) as exc:
            why = f"{_failure_text(exc)} after {self.attempts} attempt(s)"
            return SendOutcome("failed", error=why, attempts=self.attempts)
        if not response.is_success:
            why = f"HTTP {response.status_code}: {response.text[:200]}"
            return SendOutcome("failed", error=why, attempts=tries)
        return SendOutcome("sent", provider_id=_provider_id(response), attempts=tries)


def _provider_id(response: httpx.Response) -> str | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    for key in ("provider_id", "id", "sid", "message_id"):
        if payload.get(key):
            return str(payload[key])[:200]
    return None
