"""Choosing a render's environment: the API's env parameters, the catalog's `environment` field, view-set keys.

No rendering: the view store runs over the tiny renderer; files are a few bytes (only names and digests matter).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from render_node.env_choice import env_file_path, env_for, environment_files, resolve
from render_node.errors import BadRequest
from render_node.pool import RenderPool
from render_node.render.types import EnvFile
from render_node.routes import RenderQuery, ViewSetQuery, env_choice, query_model
from render_node.views import ViewStore
from showroom.catalog import Environment, load_catalog
from showroom.errors import CatalogInvalid
from tests.tiny_renderer import make_tiny_renderer


@pytest.fixture()
def env_dir(tmp_path: Path) -> Path:
    d = tmp_path / "assets" / "env"
    d.mkdir(parents=True)
    (d / "bank-studio.hdr").write_bytes(b"#?RADIANCE one")
    (d / "studio.npz").write_bytes(b"maps")
    (tmp_path / "secret.hdr").write_bytes(b"#?RADIANCE outside")
    return d


def _catalog_text(project_root: Path, extra: str = "", product_extra: str = "") -> str:
    text = (project_root / "assets" / "catalog.toml").read_text(encoding="utf-8")
    text = text.replace("schema_version = 1\n", f"schema_version = 1\n{extra}\n", 1)
    return text.replace('model = "bar-au9999-10g.glb"\n', f'model = "bar-au9999-10g.glb"\n{product_extra}\n', 1)


def test_only_environment_files_inside_the_folder_can_be_named(env_dir: Path) -> None:
    assert env_file_path("bank-studio.hdr", env_dir) == env_dir / "bank-studio.hdr"
    (env_dir / "escape.hdr").symlink_to(env_dir.parent.parent / "secret.hdr")
    for bad in ("../secret.hdr", "/etc/passwd", "..%2Fsecret.hdr", ".hidden.hdr", "sub/x.hdr", "studio.npz",
                "x.hdr\x00.png", "escape.hdr", "missing.hdr", "a..hdr"):
        with pytest.raises(BadRequest):
            env_file_path(bad, env_dir)
    assert environment_files(env_dir) == {"bank-studio.hdr"}, "no symlink out, no non-image file"


def test_a_built_in_studio_takes_no_rotation_or_exposure_and_files_get_theirs(env_dir: Path) -> None:
    assert resolve(Environment("counter"), env_dir) == "counter"
    with pytest.raises(BadRequest, match="apply to an environment file"):
        resolve(Environment("studio", rotation_deg=90.0), env_dir)
    assert resolve(Environment("bank-studio.hdr", 90.0, -1.0), env_dir) == EnvFile(env_dir / "bank-studio.hdr", 90.0, -1.0)
    with pytest.raises(BadRequest, match="16"):
        resolve(Environment("bank-studio.hdr", 0.0, 40.0), env_dir)


def test_the_query_parameters_are_validated_with_the_parameter_named() -> None:
    def parse(query: str) -> RenderQuery:
        return query_model(RenderQuery, make_mocked_request("GET", f"/api/render?product=p&{query}"))

    q = parse("env=bank-studio.hdr&env_rotation_deg=45&env_exposure_ev=-0.5&tonemap=aces&preset=reference")
    assert (q.env, q.env_rotation_deg, q.env_exposure_ev, q.tonemap, q.preset) == (
        "bank-studio.hdr", 45.0, -0.5, "aces", "reference")
    for bad, named in (("env_exposure_ev=17", "env_exposure_ev"), ("env_rotation_deg=nan", "env_rotation_deg"),
                       ("tonemap=filmic", "tonemap"), ("preset=cinema", "preset"), ("env=" + "x" * 200, "env")):
        with pytest.raises(BadRequest, match=named):
            parse(bad)
    with pytest.raises(BadRequest, match="need env"):
        env_choice(None, 30.0, None)
    v = query_model(ViewSetQuery, make_mocked_request("GET", "/api/products/p/views?env=studio"))
    assert env_choice(v.env, v.env_rotation_deg, v.env_exposure_ev) == Environment("studio")


def test_the_catalog_names_environments_per_hall_and_product(project_root: Path) -> None:
    text = _catalog_text(project_root, '[halls.metals]\nenvironment = { name = "bank-studio.hdr", rotation_deg = 90 }',
                         'environment = "counter"')
    catalog = load_catalog(text, {"bank-studio.hdr"})
    assert catalog.get("bar-au9999-10g").environment == Environment("counter"), "the product's own wins"
    assert catalog.get("bar-au9999-50g").environment == Environment("bank-studio.hdr", 90.0, 0.0), "its hall's"
    car = next(p for p in catalog.products if p.hall == "cars")
    assert car.environment is None


@pytest.mark.parametrize(
    ("extra", "product_extra", "message"),
    [
        ('[halls.metals]\nenvironment = "bank.hdr"', "",
         "halls.metals.environment: no environment file 'bank.hdr' in the environment folder"),
        ("", 'environment = "../../etc/passwd"', "products[0].environment: must be studio, counter, car or a file"),
        ("", 'environment = { name = "studio", exposure_ev = 1 }', "products[0].environment.exposure_ev: applies to"),
        ("", 'environment = { name = "bank-studio.hdr", exposure_ev = 99 }', "exposure_ev: must be within"),
        ("", 'environment = { name = "bank-studio.hdr", colour = 1 }', "environment.colour: unknown field"),
        ('[halls.jewellery]\nenvironment = "studio"', "", "halls.jewellery: unknown field"),
    ],
)
def test_a_bad_catalog_environment_is_refused_with_the_field_named(
    project_root: Path, extra: str, product_extra: str, message: str
) -> None:
    with pytest.raises(CatalogInvalid, match=re.escape(message)):
        load_catalog(_catalog_text(project_root, extra, product_extra), {"bank-studio.hdr"})


def test_view_set_keys_follow_the_environment_and_its_file_content(tmp_path: Path, env_dir: Path,
                                                                   project_root: Path) -> None:
    catalog = load_catalog(_catalog_text(project_root, '[halls.metals]\nenvironment = "bank-studio.hdr"'),
                           environment_files(env_dir))
    models = tmp_path / "assets" / "models"
    models.mkdir()
    for p in catalog.products:
        (models / p.model).write_bytes(p.id.encode())
    store = ViewStore(tmp_path / "views", RenderPool(make_tiny_renderer, workers=0), catalog, tmp_path / "assets")
    product = catalog.get("bar-au9999-10g")
    assert store.env_for(product) == EnvFile(env_dir / "bank-studio.hdr"), "the catalog's hall environment"
    assert env_for(catalog.get("bar-au9999-10g"), env_dir, Environment("car")) == "car", "a request's choice wins"
    key = store.set_key(store.spec(product.id))
    assert store.set_key(store.spec(product.id, env=Environment("studio"))) != key
    turned = store.set_key(store.spec(product.id, env=Environment("bank-studio.hdr", 90.0)))
    assert turned != key
    (env_dir / "bank-studio.hdr").write_bytes(b"#?RADIANCE two")
    os.utime(env_dir / "bank-studio.hdr", (1e9, 1e9))
    assert store.set_key(store.spec(product.id)) != key, "new bytes under the same name: new views"
    with pytest.raises(BadRequest, match="no environment file"):
        store.spec(product.id, env=Environment("gone.hdr"))
