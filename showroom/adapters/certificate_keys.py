"""The bank's certificate-signing key (Ed25519) on disk.

Production: `SHOWROOM_CERTIFICATE_KEY` names a PEM file (PKCS#8, unencrypted, mode 0600 or 0440) holding the bank's key,
e.g. made with `openssl genpkey -algorithm ed25519 -out cert-key.pem`; `SHOWROOM_CERTIFICATE_RETIRED_KEYS` may
name a JSON file `{"keys": [{"public_key": "<base64url raw 32 bytes>", "retired_at": "<ISO 8601>"}]}` of keys it
replaced, still published so their certificates verify.

Local demo: unset, the node generates a 32-byte seed once in `<data dir>/secrets/certificate` (0600, like the
other generated secrets) and keeps the retired keys in `<data dir>/secrets/certificate.retired.json`;
`rotate_generated` makes a new key and lists the old one there as retired now.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from showroom.adapters import secret_files
from showroom.adapters.secret_files import SecretFileUnsafe
from showroom.certificates import b64, public_raw, unb64

KEY_NAME = "certificate"
RETIRED_NAME = "certificate.retired.json"


class CertificateKeyInvalid(SecretFileUnsafe):
    code = "certificate_key_invalid"


def _safe(path: Path) -> None:
    """The key file (a symlink is followed: Kubernetes mounts secrets so) must be a regular file that others
    cannot read and its group cannot write: 0600, or 0440/0640 for a dedicated group (a secret volume with
    `fsGroup`)."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise CertificateKeyInvalid(f"{path} is not a regular file")
    if info.st_mode & 0o027:
        raise CertificateKeyInvalid(f"{path} can be read by others or written by its group (mode "
                                    f"{stat.S_IMODE(info.st_mode):o}); run `chmod 600 {path}`")


def load_pem_seed(path: Path) -> bytes:
    """The 32-byte seed of the Ed25519 private key in the PEM file `path` (refused unless 0600 and Ed25519)."""
    if not path.is_file():
        raise CertificateKeyInvalid(f"SHOWROOM_CERTIFICATE_KEY: no file {path}")
    _safe(path)
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateKeyInvalid(f"{path} is not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CertificateKeyInvalid(f"{path} holds a {type(key).__name__}; certificates are signed with Ed25519")
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def write_pem(path: Path, seed: bytes) -> None:
    """Writes the key of `seed` as PKCS#8 PEM, mode 0600 (tests and key ceremonies)."""
    pem = Ed25519PrivateKey.from_private_bytes(seed).private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def load_retired(path: Path) -> tuple[tuple[bytes, datetime], ...]:
    """Retired public keys and when they were retired, from a JSON file (none when it does not exist)."""
    if not path.exists():
        return ()
    doc = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for entry in doc.get("keys", []):
        raw = unb64(str(entry["public_key"]))
        if len(raw) != 32:
            raise CertificateKeyInvalid(f"{path}: a public key is 32 bytes (base64url)")
        at = datetime.fromisoformat(str(entry["retired_at"]))
        out.append((raw, at if at.tzinfo else at.replace(tzinfo=UTC)))
    return tuple(out)


def load_generated(data_dir: Path) -> tuple[bytes, tuple[tuple[bytes, datetime], ...]]:
    """The demo's generated key (created on first use) and its retired predecessors."""
    seed = secret_files.load_or_create(data_dir, KEY_NAME)[:32]
    return seed, load_retired(data_dir / "secrets" / RETIRED_NAME)


def rotate_generated(data_dir: Path, now: datetime | None = None) -> bytes:
    """A new generated key; the old one's public key is listed as retired at `now`. Returns the new seed."""
    now = now or datetime.now(UTC)
    old, retired = load_generated(data_dir)
    folder = data_dir / "secrets"
    entries = [{"public_key": b64(raw), "retired_at": at.isoformat()} for raw, at in retired]
    entries.append({"public_key": b64(public_raw(Ed25519PrivateKey.from_private_bytes(old))),
                    "retired_at": now.isoformat()})
    tmp = folder / (RETIRED_NAME + ".tmp")
    tmp.write_text(json.dumps({"keys": entries}, indent=1), encoding="utf-8")
    os.replace(tmp, folder / RETIRED_NAME)
    new_path = folder / (KEY_NAME + ".new")
    new_path.unlink(missing_ok=True)
    fd = os.open(new_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    seed = secrets.token_bytes(32)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(base64.urlsafe_b64encode(seed).decode() + "\n")
    os.replace(new_path, folder / KEY_NAME)
    return seed
