"""The one Config: flags over environment over defaults, clear errors, and a README row for every setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from render_node.config import SETTINGS, load_config
from render_node.errors import BadRequest


def test_defaults_need_no_environment(tmp_path: Path) -> None:
    cfg = load_config({"data_dir": str(tmp_path)}, environ={})
    assert (cfg.host, cfg.port, cfg.role) == ("127.0.0.1", 8080, "all")
    assert cfg.commerce.database_url == f"sqlite+aiosqlite:///{tmp_path / 'showroom.db'}"
    assert cfg.commerce.payment_backend_url is None
    assert cfg.public_url == "http://127.0.0.1:8080"


def test_flags_win_over_environment() -> None:
    cfg = load_config({"port": 9001, "host": None}, environ={"SHOWROOM_PORT": "7000", "SHOWROOM_HOST": "0.0.0.0"})
    assert cfg.port == 9001
    assert cfg.host == "0.0.0.0"


def test_environment_reaches_commerce_settings() -> None:
    cfg = load_config(environ={"SHOWROOM_DATABASE_URL": "postgresql+asyncpg://127.0.0.1/test", "SHOWROOM_QUOTE_TTL_S": "120"})
    assert cfg.commerce.database_url.startswith("postgresql+asyncpg://")
    assert cfg.commerce.quote_ttl_s == 120


@pytest.mark.parametrize(
    ("env", "fragment"),
    [({"SHOWROOM_PORT": "eighty"}, "SHOWROOM_PORT"), ({"SHOWROOM_ROLE": "bank"}, "SHOWROOM_ROLE"), ({"SHOWROOM_WORKERS": "0"}, "SHOWROOM_WORKERS")],
)
def test_bad_setting_names_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(BadRequest, match=fragment):
        load_config(environ=env)


def test_every_setting_has_a_readme_row(project_root: Path) -> None:
    readme = (project_root / "README.md").read_text()
    documented = set(re.findall(r"^\| `(SHOWROOM_[A-Z0-9_]+)` \|", readme, flags=re.M))
    declared = {s.env for s in SETTINGS}
    assert declared - documented == set(), "settings missing from README's table"
    assert documented - declared == set(), "README documents settings the code does not read"


def test_only_config_reads_the_environment(project_root: Path) -> None:
    offenders = []
    for pkg in ("showroom", "render_node"):
        for path in (project_root / pkg).rglob("*.py"):
            if path.name == "config.py" and path.parent.name == "render_node":
                continue
            text = path.read_text().replace('os.environ.setdefault("EGL_PLATFORM"', "")  # a GL hint, not a setting
            text = text.replace('os.environ["OPENCV_IO_ENABLE_OPENEXR"] = "1"', "")  # OpenCV's EXR codec switch, likewise
            if re.search(r"os\.environ|os\.getenv", text):
                offenders.append(str(path.relative_to(project_root)))
    assert offenders == []


def test_the_commerce_url_comes_from_the_flag_or_the_environment_and_must_be_http() -> None:
    assert load_config(environ={}).commerce_url == ""
    env = {"SHOWROOM_COMMERCE_URL": "http://commerce.internal:8080/"}
    assert load_config(environ=env).commerce_url == "http://commerce.internal:8080"
    assert load_config({"commerce_url": "https://c.example"}, environ=env).commerce_url == "https://c.example"
    with pytest.raises(BadRequest, match="SHOWROOM_COMMERCE_URL"):
        load_config(environ={"SHOWROOM_COMMERCE_URL": "commerce:8080"})


def test_the_security_settings_come_from_the_environment_and_are_checked() -> None:
    cfg = load_config(environ={"SHOWROOM_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.5", "SHOWROOM_DEMO": "1",
                               "SHOWROOM_RATE_LIMITS": "0", "SHOWROOM_VIEW_DISK_CACHE_MB": "512",
                               "SHOWROOM_EXTRA_VIEW_SIZES": "1080x1920, 800x600"})
    assert [str(n) for n in cfg.trusted_proxies] == ["10.0.0.0/8", "192.168.1.5/32"]
    assert cfg.demo and not cfg.rate_limits and cfg.view_disk_cache_mb == 512
    assert cfg.extra_view_sizes == ((1080, 1920), (800, 600))
    default = load_config(environ={})
    assert not default.demo and default.rate_limits and default.view_disk_cache_mb == 2048
    assert not default.webhook_secret_configured and not default.share_secret_configured
    assert [str(n) for n in default.trusted_proxies] == ["127.0.0.1/32", "::1/128"]
    for env, fragment in (({"SHOWROOM_TRUSTED_PROXIES": "nginx"}, "SHOWROOM_TRUSTED_PROXIES"),
                          ({"SHOWROOM_EXTRA_VIEW_SIZES": "big"}, "SHOWROOM_EXTRA_VIEW_SIZES"),
                          ({"SHOWROOM_EXTRA_VIEW_SIZES": "9000x10"}, "SHOWROOM_EXTRA_VIEW_SIZES"),
                          ({"SHOWROOM_SHARE_SECRET": "short"}, "SHOWROOM_SHARE_SECRET"),
                          ({"SHOWROOM_SHARE_SECRET_PREVIOUS_UNTIL": "2026-12-01T00:00:00Z"}, "_PREVIOUS")):
        with pytest.raises(BadRequest, match=fragment):
            load_config(environ=env)
