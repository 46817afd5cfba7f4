"""Certificates, pure: canonical JSON, signing, the compact (QR) form, serials, and verification naming each
single-field alteration, a wrong key, a retired key, a revoked certificate."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from showroom.adapters.certificate_keys import load_generated, load_pem_seed, rotate_generated, write_pem
from showroom.adapters.secret_files import SecretFileUnsafe
from showroom.certificates import (
    FIELDS,
    PublishedKey,
    Revocation,
    Signer,
    canonical,
    compact,
    from_compact,
    mask_name,
    new_serial,
    read_document,
    serial_well_formed,
    verify,
    verify_document,
)
from showroom.errors import InvalidInput

SEED = bytes(range(32))
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def fields(**over: str) -> dict[str, str]:
    base = {
        "certificate_id": "crt_0123456789abcdef0123", "serial": "HJ50-261130-7KX2M9QARZ", "order_id": "ord_1",
        "unit": "1/1", "product_id": "bar-au9999-50g", "product": "华锦足金投资金条 50克（压制） · Huajin bar 50 g",
        "variant": "Au9999 50克 · Au9999 50 g", "fineness": "Au9999 (999.9‰)", "weight_g": "50",
        "hallmark": "足金 Au9999 50g HJB", "price_paid_cny": "31234.50", "purchased_at": "2026-11-30T11:59:00+00:00",
        "issued_at": "2026-11-30T12:00:00+00:00", "branch": "online", "bank": "华锦银行 Huajin Bank",
        "owner": "张* ***5678", "supersedes": ""}
    base.update(over)
    return base


@pytest.fixture
def signer() -> Signer:
    return Signer.from_seed(SEED)


def test_canonical_json_is_sorted_compact_utf8_and_refuses_floats() -> None:
    assert canonical({"b": "金", "a": [1, "x"]}) == '{"a":[1,"x"],"b":"金"}'.encode()
    with pytest.raises(InvalidInput):
        canonical({"weight": 10.5})


def test_a_signed_certificate_verifies(signer: Signer) -> None:
    doc = signer.sign_fields(fields())
    verdict = verify(doc, signer.published())
    assert verdict.valid and verdict.signature_ok and verdict.problems == ()
    assert verdict.kid == signer.kid and len(signer.kid) == 16
    assert set(doc["digests"]) == set(FIELDS)


def test_a_json_round_trip_and_the_compact_form_verify(signer: Signer) -> None:
    doc = signer.sign_fields(fields())
    assert verify(json.loads(json.dumps(doc)), signer.published()).valid
    text = compact(doc)
    assert text.startswith("SRC1.") and len(text) < 2000
    assert from_compact(text) == doc
    assert from_compact(f"https://bank.example/verify?c={text}") == doc
    assert read_document(text) == doc and read_document(json.dumps(doc)) == doc


@pytest.mark.parametrize("name", list(FIELDS))
def test_each_single_field_alteration_is_named(signer: Signer, name: str) -> None:
    doc = signer.sign_fields(fields())
    forged = copy.deepcopy(doc)
    forged["fields"][name] = "10.5" if name == "weight_g" else forged["fields"][name] + "X"
    verdict = verify(forged, signer.published())
    assert not verdict.valid and verdict.signature_ok
    assert [(p.code, p.field) for p in verdict.problems] == [("field_altered", name)]
    assert FIELDS[name] in verdict.problems[0].message
    # the same alteration survives the QR form and is still named
    assert [p.field for p in verify(from_compact(compact(forged)), signer.published()).problems] == [name]


def test_the_weight_message_says_what_the_signature_does_not_cover(signer: Signer) -> None:
    forged = signer.sign_fields(fields())
    forged["fields"]["weight_g"] = "10.5"
    problem = verify(forged, signer.published()).problems[0]
    assert problem.message == "the weight was changed: the signature does not cover 10.5 g"


def test_removed_and_added_fields_are_named(signer: Signer) -> None:
    doc = signer.sign_fields(fields())
    del doc["fields"]["hallmark"]
    doc["fields"]["karat"] = "24K"
    problems = {(p.code, p.field) for p in verify(doc, signer.published()).problems}
    assert problems == {("field_removed", "hallmark"), ("field_added", "karat")}


def test_an_altered_digest_list_breaks_the_signature(signer: Signer) -> None:
    doc = signer.sign_fields(fields())
    doc["fields"]["weight_g"] = "100"
    from showroom.certificates import field_digest
    doc["digests"]["weight_g"] = field_digest("weight_g", "100")  # the forger recomputes the digest
    verdict = verify(doc, signer.published())
    assert not verdict.valid and not verdict.signature_ok
    assert [p.code for p in verdict.problems] == ["signature"]


def test_a_certificate_signed_with_another_key_is_refused(signer: Signer) -> None:
    other = Signer.from_seed(bytes(32))
    doc = other.sign_fields(fields())
    verdict = verify(doc, signer.published())
    assert [p.code for p in verdict.problems] == ["unknown_key"]
    # a forger who puts the bank's key id on their own signature fails the signature
    doc["signature"]["kid"] = signer.kid
    doc2 = copy.deepcopy(doc)
    assert [p.code for p in verify(doc2, signer.published()).problems] == ["signature"]


def test_retired_keys_still_verify_what_they_signed_before_retirement(signer: Signer) -> None:
    doc = signer.sign_fields(fields())
    new = Signer.from_seed(bytes(31) + b"\x01", retired=(PublishedKey(signer.kid, signer.published()[0].public_key,
                                                                      NOW + timedelta(days=1)),))
    assert [k.view()["status"] for k in new.published()] == ["current", "retired"]
    assert verify(doc, new.published()).valid
    late = Signer.from_seed(bytes(31) + b"\x01", retired=(PublishedKey(signer.kid, signer.published()[0].public_key,
                                                                       NOW - timedelta(days=1)),))
    verdict = verify(doc, late.published())
    assert [p.code for p in verdict.problems] == ["key_retired"]


def test_a_revoked_certificate_is_named(signer: Signer) -> None:
    doc = signer.sign_fields(fields())
    rev = Revocation("crt_0123456789abcdef0123", NOW, "transferred to a new owner", "crt_new")
    verdict = verify(doc, signer.published(), {rev.certificate_id: rev})
    assert not verdict.valid and verdict.signature_ok and verdict.revoked == rev
    assert "replaced by crt_new" in verdict.problems[0].message


def test_garbage_is_malformed_not_a_crash(signer: Signer) -> None:
    assert "malformed" in [p.code for p in verify({}, signer.published()).problems]
    with pytest.raises(InvalidInput):
        from_compact("SRC1.!!!")
    with pytest.raises(InvalidInput):
        read_document("hello")


def test_signed_documents(signer: Signer) -> None:
    doc = signer.sign_document({"revoked": [{"certificate_id": "crt_1"}]})
    assert verify_document(doc, signer.published())
    doc["revoked"] = []
    assert not verify_document(doc, signer.published())


def test_serials_are_random_with_a_check_symbol() -> None:
    serials = {new_serial("HJ50", NOW) for _ in range(200)}
    assert len(serials) == 200
    for s in serials:
        assert s.startswith("HJ50-261130-") and serial_well_formed(s)
    s = next(iter(serials))
    typo = s[:-2] + ("0" if s[-2] != "0" else "1") + s[-1]
    assert not serial_well_formed(typo)


def test_names_are_masked() -> None:
    assert mask_name("张小明") == "张**" and mask_name("Li") == "L*"


def test_key_files(tmp_path: Path) -> None:
    pem = tmp_path / "key.pem"
    write_pem(pem, SEED)
    assert load_pem_seed(pem) == SEED
    pem.chmod(0o644)
    with pytest.raises(SecretFileUnsafe):
        load_pem_seed(pem)
    seed, retired = load_generated(tmp_path)
    assert len(seed) == 32 and retired == ()
    assert load_generated(tmp_path)[0] == seed  # kept
    new = rotate_generated(tmp_path, NOW)
    again, retired = load_generated(tmp_path)
    assert again == new != seed
    assert [PublishedKey(Signer.from_seed(seed).kid, raw, at).kid for raw, at in retired] == [Signer.from_seed(seed).kid]
    assert retired[0][1] == NOW


def test_the_key_is_configured_by_a_pem_file_and_required_for_a_public_start(tmp_path: Path) -> None:
    from render_node.commands.secrets import resolve_secrets
    from render_node.commands.serve import public_start_problem
    from render_node.config import load_config

    demo = load_config({"host": "127.0.0.1", "data_dir": str(tmp_path / "d")}, environ={})
    assert not demo.certificate_key_configured and public_start_problem(demo) is None
    resolved = resolve_secrets(demo)  # the local demo: generated once in the data folder, reused
    assert resolved.commerce.certificate_key == resolve_secrets(demo).commerce.certificate_key
    assert (tmp_path / "d" / "secrets" / "certificate").stat().st_mode & 0o077 == 0
    problem = public_start_problem(load_config({"host": "0.0.0.0"}, environ={}))
    assert problem is not None and "SHOWROOM_CERTIFICATE_KEY" in problem
    write_pem(tmp_path / "k.pem", SEED)
    configured = load_config({"host": "0.0.0.0"}, environ={"SHOWROOM_CERTIFICATE_KEY": str(tmp_path / "k.pem")})
    assert configured.certificate_key_configured and configured.commerce.certificate_key == SEED
    assert "SHOWROOM_CERTIFICATE_KEY" not in (public_start_problem(configured) or "")
    assert resolve_secrets(configured).commerce.certificate_key == SEED  # the configured key is kept


def test_the_cli_rotates_the_generated_key_and_keeps_the_old_one_published(tmp_path: Path) -> None:
    import argparse

    from render_node.commands.secrets import resolve_secrets, rotate_certificate_key
    from render_node.config import load_config
    from showroom.services.certificates import signer_from

    def signer() -> Signer:
        return signer_from(resolve_secrets(load_config({"data_dir": str(tmp_path)}, environ={})).commerce)

    before = signer()
    doc = before.sign_fields(fields(issued_at=datetime.now(UTC).replace(microsecond=0).isoformat()))
    assert rotate_certificate_key(argparse.Namespace(data_dir=str(tmp_path))) == 0
    after = signer()
    assert after.kid != before.kid
    assert [(k.kid, k.retired_at is None) for k in after.published()] == [(after.kid, True), (before.kid, False)]
    assert verify(doc, after.published()).valid  # issued before the rotation: still verifies
