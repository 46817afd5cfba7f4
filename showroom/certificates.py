"""Certificates of items bought: what is certified, how it is signed, and how anyone checks one offline.

A certificate is a flat set of named text fields (`FIELDS`: serial, product, fineness, weight, hallmark, price
paid, ...), a digest of each field, and one Ed25519 signature of the bank over the digest list:

```
{"v": 1, "fields": {...}, "digests": {"<field>": "<digest>", ...},
 "signature": {"alg": "Ed25519", "kid": "<key id>", "value": "<base64url signature>"}}
```

- canonical JSON (`canonical`): keys sorted, no whitespace (`separators=(",", ":")`), UTF-8 (no `\\u` escapes),
  no floats anywhere (amounts and weights are decimal strings);
- a field's digest: base64url (no padding) of the first 16 bytes of SHA-256 over the canonical JSON of
  `[name, value]` — 128 bits, so finding another value with the same digest is out of reach;
- the signed payload: the canonical JSON of `{"v", "kid", "digests"}`; the signature signs those bytes.

Because the signature covers every field's digest, a verifier names each altered field: the signature still
holds over the digest list, and the field whose value no longer has its digest is the one changed ("the weight
was changed: the signature does not cover 10.5 g"). A field added or removed is named too. If the digest list
itself was edited, or the certificate was signed with another key, the signature fails and no field can be
trusted. The compact form (`compact` / `from_compact`, what the QR code carries) is `SRC1.` + base64url of the
raw-DEFLATE of the canonical JSON of the whole document.

Keys: a key id is the first 16 hex digits of SHA-256 over the raw 32-byte public key. The bank publishes its
keys (current and retired) with `retired_at`; a certificate issued after its key was retired is refused.
Pure functions apart from `cryptography`'s Ed25519 (no storage, no clock: the caller passes them).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
import secrets
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from showroom.errors import InvalidInput

VERSION = 1
ALG = "Ed25519"
COMPACT_PREFIX = "SRC1."
MAX_DOCUMENT_CHARS = 16_384

FIELDS: dict[str, str] = {
    "certificate_id": "the certificate number",
    "serial": "the serial number",
    "order_id": "the order",
    "unit": "the unit",
    "product_id": "the product code",
    "product": "the product",
    "variant": "the variant",
    "fineness": "the fineness",
    "weight_g": "the weight",
    "hallmark": "the hallmark",
    "price_paid_cny": "the price paid",
    "purchased_at": "the date of purchase",
    "issued_at": "the date of issue",
    "branch": "the branch",
    "bank": "the bank",
    "owner": "the owner",
    "supersedes": "the certificate it replaces",
}
"""Every certified field and how a verifier names it; every value is text ("" when there is none)."""

_UNITS = {"weight_g": " g", "price_paid_cny": " CNY"}

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_SYMBOLS = CROCKFORD + "*~$=U"
SERIAL_RE = re.compile(r"^([A-Z0-9]{1,8})-(\d{6})-([0-9A-HJKMNP-TV-Z]{10})([0-9A-HJKMNP-TV-Z*~$=U])$")


# -- canonical JSON and digests ---------------------------------------------------------------------------------


def canonical(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8; floats are refused (money and weights are text)."""
    def check(v: Any) -> None:
        if isinstance(v, float):
            raise InvalidInput("canonical JSON takes no floats: write amounts and weights as decimal strings")
        if isinstance(v, dict):
            for x in v.values():
                check(x)
        elif isinstance(v, list | tuple):
            for x in v:
                check(x)
    check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def field_digest(name: str, value: str) -> str:
    return b64(hashlib.sha256(canonical([name, value])).digest()[:16])


def signed_payload(kid: str, digests: Mapping[str, str]) -> bytes:
    return canonical({"v": VERSION, "kid": kid, "digests": dict(digests)})


# -- serial numbers --------------------------------------------------------------------------------------------


def _check_symbol(number: int) -> str:
    return CHECK_SYMBOLS[number % 37]


def new_serial(prefix: str, day: datetime) -> str:
    """`<PREFIX>-<YYMMDD>-<10 Crockford base32 symbols><check symbol>`: 50 random bits from the bank, and
    Crockford's mod-37 check symbol over them (a mistyped serial is caught before any lookup)."""
    clean = re.sub(r"[^A-Z0-9]", "", prefix.upper())[:8] or "HJB"
    number = secrets.randbits(50)
    body = "".join(CROCKFORD[(number >> (5 * i)) & 31] for i in reversed(range(10)))
    return f"{clean}-{day.strftime('%y%m%d')}-{body}{_check_symbol(number)}"


def serial_well_formed(serial: str) -> bool:
    m = SERIAL_RE.match(serial.strip().upper())
    if m is None:
        return False
    number = 0
    for ch in m.group(3):
        number = number * 32 + CROCKFORD.index(ch)
    return _check_symbol(number) == m.group(4)


# -- keys ------------------------------------------------------------------------------------------------------


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def public_raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class PublishedKey:
    """One key as the bank publishes it: retired keys stay listed so older certificates still verify."""

    kid: str
    public_key: bytes
    retired_at: datetime | None = None

    def view(self) -> dict[str, Any]:
        return {"kid": self.kid, "alg": ALG, "public_key": b64(self.public_key),
                "status": "current" if self.retired_at is None else "retired",
                "retired_at": None if self.retired_at is None else self.retired_at.isoformat()}

    @staticmethod
    def parse(doc: Mapping[str, Any]) -> PublishedKey:
        raw = unb64(str(doc["public_key"]))
        retired = doc.get("retired_at")
        return PublishedKey(key_id(raw), raw, datetime.fromisoformat(retired) if retired else None)


@dataclass(frozen=True)
class Signer:
    """The bank's current signing key and the retired ones still published."""

    private: Ed25519PrivateKey = field(repr=False)
    retired: tuple[PublishedKey, ...] = ()

    @staticmethod
    def from_seed(seed: bytes, retired: Sequence[PublishedKey] = ()) -> Signer:
        if len(seed) < 32:
            raise InvalidInput("an Ed25519 key seed is 32 bytes")
        return Signer(Ed25519PrivateKey.from_private_bytes(seed[:32]), tuple(retired))

    @functools.cached_property
    def kid(self) -> str:
        """The key's id (derived from its public key once: a derivation is a scalar multiplication)."""
        return key_id(public_raw(self.private))

    def published(self) -> tuple[PublishedKey, ...]:
        current = PublishedKey(self.kid, public_raw(self.private))
        return (current, *(k for k in self.retired if k.kid != current.kid))

    def keys_document(self, issuer: str) -> dict[str, Any]:
        return {"issuer": issuer, "alg": ALG, "format": "docs/commerce.md#certificates",
                "keys": [k.view() for k in self.published()]}

    def sign_fields(self, fields: Mapping[str, str]) -> dict[str, Any]:
        missing = set(FIELDS) - set(fields)
        extra = set(fields) - set(FIELDS)
        if missing or extra:
            raise InvalidInput(f"certificate fields: missing {sorted(missing)}, unknown {sorted(extra)}")
        digests = {name: field_digest(name, str(fields[name])) for name in FIELDS}
        kid = self.kid
        signature = self.private.sign(signed_payload(kid, digests))
        return {"v": VERSION, "fields": {k: str(fields[k]) for k in FIELDS}, "digests": digests,
                "signature": {"alg": ALG, "kid": kid, "value": b64(signature)}}

    def sign_document(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Any document (the revocation list): `body` plus `signature` over the canonical JSON of `body`."""
        kid = self.kid
        payload = {**body, "kid": kid}
        return {**payload, "signature": {"alg": ALG, "kid": kid, "value": b64(self.private.sign(canonical(payload)))}}


def verify_document(doc: Mapping[str, Any], keys: Sequence[PublishedKey]) -> bool:
    """Checks a document signed by `Signer.sign_document` (the revocation list)."""
    sig = doc.get("signature")
    if not isinstance(sig, Mapping):
        return False
    body = {k: v for k, v in doc.items() if k != "signature"}
    key = next((k for k in keys if k.kid == sig.get("kid")), None)
    if key is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(unb64(str(sig.get("value", ""))), canonical(body))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


# -- compact form (QR) -----------------------------------------------------------------------------------------


def compact(document: Mapping[str, Any]) -> str:
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = deflate.compress(canonical(dict(document))) + deflate.flush()
    return COMPACT_PREFIX + b64(raw)


def from_compact(text: str) -> dict[str, Any]:
    """The document in a QR text: the bare compact form, or a URL whose `c=` parameter (query or fragment)
    carries it."""
    text = text.strip()
    if not text.startswith(COMPACT_PREFIX):
        m = re.search(r"[?#&]c=(SRC1\.[A-Za-z0-9_-]+)", text)
        if m is None:
            raise InvalidInput("the QR text holds no certificate (expected SRC1.… or a /verify?c=SRC1.… link)")
        text = m.group(1)
    if len(text) > MAX_DOCUMENT_CHARS:
        raise InvalidInput("the certificate text is too long")
    try:
        inflate = zlib.decompressobj(-15)
        raw = inflate.decompress(unb64(text[len(COMPACT_PREFIX):]), MAX_DOCUMENT_CHARS * 4)
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, zlib.error, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("the certificate text is damaged (not SRC1. + base64url DEFLATE JSON)") from None
    if not isinstance(doc, dict):
        raise InvalidInput("the certificate text is not a certificate")
    return doc


# -- verification ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    field: str | None = None

    def view(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Revocation:
    certificate_id: str
    revoked_at: datetime
    reason: str
    superseded_by: str | None = None


@dataclass(frozen=True)
class Verdict:
    valid: bool
    problems: tuple[Problem, ...]
    fields: dict[str, str]
    kid: str | None
    signature_ok: bool
    revoked: Revocation | None = None

    def view(self) -> dict[str, Any]:
        summary = ("valid: signed by the bank, every field as issued" if self.valid
                   else "; ".join(p.message for p in self.problems))
        return {"valid": self.valid, "signature_ok": self.signature_ok, "kid": self.kid, "summary": summary,
                "problems": [p.view() for p in self.problems],
                "fields": {**{k: self.fields[k] for k in FIELDS if k in self.fields}, **self.fields},
                "revoked": None if self.revoked is None else {
                    "revoked_at": self.revoked.revoked_at.isoformat(), "reason": self.revoked.reason,
                    "superseded_by": self.revoked.superseded_by}}


def _shown(name: str, value: str) -> str:
    return f"{value}{_UNITS.get(name, '')}" if value else "an empty value"


def verify(document: Mapping[str, Any], keys: Sequence[PublishedKey],
           revocations: Mapping[str, Revocation] | None = None) -> Verdict:
    """Checks a certificate against published keys, offline; names every problem it finds. `revocations`
    (certificate id -> revocation) is the node's list where one is at hand."""
    problems: list[Problem] = []
    raw_fields = document.get("fields")
    fields = {str(k): str(v) for k, v in raw_fields.items()} if isinstance(raw_fields, Mapping) else {}
    raw_digests = document.get("digests")
    digests = {str(k): str(v) for k, v in raw_digests.items()} if isinstance(raw_digests, Mapping) else {}
    sig = document.get("signature")
    sig = sig if isinstance(sig, Mapping) else {}
    kid = str(sig["kid"]) if "kid" in sig else None
    if document.get("v") != VERSION:
        problems.append(Problem("version", f"unknown certificate format version {document.get('v')!r} "
                                           f"(this verifier reads version {VERSION})"))
    if not fields or not digests or not sig:
        problems.append(Problem("malformed", "not a certificate: it needs fields, digests and signature"))
        return Verdict(False, tuple(problems), fields, kid, False)
    key = next((k for k in keys if k.kid == kid), None)
    signature_ok = False
    if sig.get("alg") != ALG:
        problems.append(Problem("algorithm", f"signed with {sig.get('alg')!r}; the bank signs with {ALG}"))
    elif key is None:
        problems.append(Problem("unknown_key", f"signed with key {kid!r}, which the bank does not publish: "
                                               "not a certificate of this bank (or a forged one)"))
    else:
        try:
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(
                unb64(str(sig.get("value", ""))), signed_payload(key.kid, digests))
            signature_ok = True
        except (InvalidSignature, ValueError, binascii.Error):
            problems.append(Problem("signature", f"the signature does not verify under the bank's key {key.kid}: "
                                                 "the digest list was altered or the certificate forged; no field "
                                                 "of it can be trusted"))
    if signature_ok:
        for name in FIELDS:
            label = FIELDS[name]
            if name not in digests:
                problems.append(Problem("field_not_signed", f"{label} is not covered by the signature", name))
            elif name not in fields:
                problems.append(Problem("field_removed", f"{label} was removed from the certificate", name))
            elif field_digest(name, fields[name]) != digests[name]:
                problems.append(Problem("field_altered", f"{label} was changed: the signature does not cover "
                                                         f"{_shown(name, fields[name])}", name))
        for name in sorted(set(fields) - set(FIELDS)):
            problems.append(Problem("field_added", f"the field {name!r} was added: the signature does not cover it",
                                    name))
        if key is not None and key.retired_at is not None:
            issued = _parse_time(fields.get("issued_at", ""))
            if issued is None or issued > key.retired_at:
                problems.append(Problem("key_retired", f"signed with key {key.kid}, retired on "
                                                       f"{key.retired_at.isoformat()}, after it was retired",
                                        "issued_at"))
    revoked = None
    if signature_ok and revocations is not None:
        revoked = revocations.get(fields.get("certificate_id", ""))
        if revoked is not None:
            moved = f"; it was replaced by {revoked.superseded_by}" if revoked.superseded_by else ""
            problems.append(Problem("revoked", f"the certificate was revoked on {revoked.revoked_at.isoformat()} "
                                               f"({revoked.reason}){moved}"))
    return Verdict(not problems, tuple(problems), fields, kid, signature_ok, revoked)


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def read_document(value: Any) -> dict[str, Any]:
    """A certificate from what a verifier was given: the JSON object, JSON text, or the QR text."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                doc = json.loads(text)
            except ValueError:
                raise InvalidInput("the certificate is not valid JSON") from None
            if isinstance(doc, dict):
                return doc
            raise InvalidInput("the certificate JSON is not an object")
        return from_compact(text)
    raise InvalidInput("give the certificate JSON or the QR text")


def mask_name(name: str) -> str:
    """The owner's name as printed: the first character, the rest masked (张** / J***)."""
    name = name.strip()
    return name[:1] + "*" * max(1, min(len(name) - 1, 3)) if name else ""


def mask_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return f"***{digits[-4:]}" if len(digits) >= 4 else ""


# -- what the node stores ---------------------------------------------------------------------------------------


class CertificateStatus:
    VALID = "valid"
    REVOKED = "revoked"


@dataclass
class CertificateRecord:
    """One issued certificate as the node keeps it (the signed document and who may reach it)."""

    id: str
    serial: str
    order_id: str
    unit: int
    generation: int
    owner_name: str
    owner_phone: str
    document: dict[str, Any]
    status: str
    issued_at: datetime
    holder_token_sha256: str | None = None
    """The capability of an owner who received it as a gift (None: generation 0, reached by the order token)."""
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    superseded_by: str | None = None

    @property
    def revocation(self) -> Revocation | None:
        if self.status != CertificateStatus.REVOKED or self.revoked_at is None:
            return None
        return Revocation(self.id, self.revoked_at, self.revoke_reason or "revoked", self.superseded_by)
