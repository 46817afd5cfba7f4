"""The Kubernetes manifests (deploy/kustomization.yaml, deploy/k8s/) are valid for the Kubernetes version we state,
and say what the cluster's nginx (deploy/nginx/cluster.conf.in) says: every commerce route found in the code goes
to commerce, advisor calls meet on one pod, streams are sticky, every workload has health probes on the node's
real health endpoint and resources, no secret is written down, and each role's pod would start in the open."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from render_node.commands.serve import public_start_problem
from render_node.config import load_config
from render_node.metrics import NodeMetrics

KUBERNETES_VERSION = "1.31.0"
"""The schemas (bundled by kubernetes-validate) the manifests are checked against, strictly (unknown fields fail)."""

PROJECT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT / "deploy"

SECRET_SETTINGS = {"SHOWROOM_DATABASE_URL", "SHOWROOM_PAYMENT_WEBHOOK_SECRET", "SHOWROOM_PAYMENT_WEBHOOK_SECRET_PREVIOUS",
                   "SHOWROOM_SHARE_SECRET", "SHOWROOM_SHARE_SECRET_PREVIOUS", "SHOWROOM_SMS_API_KEY",
                   "SHOWROOM_ADVISOR_TICKET_KEY", "SHOWROOM_RECORDING_KEY"}
"""Settings whose value is a secret (README "Settings"): only ever from a Secret the operator made."""

ROUTE_ADDERS = {"add_get", "add_post", "add_put", "add_patch", "add_delete", "add_route"}
WORKLOADS = ("Deployment", "StatefulSet")

Doc = dict[str, Any]


def _load(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


@cache
def _kustomization() -> Doc:
    return _load(DEPLOY / "kustomization.yaml")[0]


@cache
def _applied() -> list[Doc]:
    """What `kubectl apply -k deploy/` creates from files (the generated ConfigMap aside)."""
    return [d for name in _kustomization()["resources"] for d in _load(DEPLOY / name)]


@cache
def _every_manifest() -> list[tuple[str, Doc]]:
    return [(p.name, d) for p in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in _load(p)]


def _named(kind: str, docs: list[Doc] | None = None) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in (docs if docs is not None else _applied()) if d["kind"] == kind}


def _workloads() -> list[Doc]:
    return [d for _, d in _every_manifest() if d["kind"] in WORKLOADS]


def _showroom_containers() -> Iterator[tuple[Doc, Doc]]:
    for workload in _workloads():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            if container["image"].startswith("registry.bank.internal/showroom:"):
                yield workload, container


# --- routes in the code -------------------------------------------------------------------------------------------

def _routes_in(paths: list[Path]) -> set[str]:
    """Every path literal passed to an aiohttp router's add_* in these modules (module-level constants resolved)."""
    found: set[str] = set()
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                     and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
                     for t in n.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ROUTE_ADDERS and node.args):
                continue
            arg = node.args[1] if node.func.attr == "add_route" else node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
            elif isinstance(arg, ast.Name) and arg.id in constants:
                found.add(constants[arg.id])
    return found


@cache
def _commerce_routes() -> set[str]:
    return _routes_in(sorted((PROJECT / "showroom" / "api").glob("*.py")))


@cache
def _edge_routes() -> set[str]:
    return _routes_in(sorted((PROJECT / "render_node").rglob("*.py")))


def _concrete(route: str) -> str:
    """A request path for an aiohttp route: each {variable} (regex or not) becomes one segment."""
    return re.sub(r"\{[^}]*\}", "x1", route)


# --- ingress-nginx's routing --------------------------------------------------------------------------------------

def _ingress_paths(docs: list[Doc]) -> list[tuple[str, str, str, Doc]]:
    """(path, pathType, service, ingress) for every rule of every Ingress."""
    return [(p["path"], p["pathType"], p["backend"]["service"]["name"], ing)
            for ing in _named("Ingress", docs).values() for rule in ing["spec"]["rules"]
            for p in rule["http"]["paths"]]


def _route(request_path: str, docs: list[Doc] | None = None) -> tuple[str, Doc]:
    """The Service (and Ingress) a request path reaches: an Exact path first, else the longest Prefix path that
    matches whole segments (Kubernetes' Ingress semantics, as ingress-nginx merges one host's Ingresses)."""
    paths = _ingress_paths(docs if docs is not None else _applied())
    for path, kind, service, ing in paths:
        if kind == "Exact" and path == request_path:
            return service, ing
    prefixes = [(path, service, ing) for path, kind, service, ing in paths if kind == "Prefix"
                and (path == "/" or request_path == path.rstrip("/") or request_path.startswith(path.rstrip("/") + "/"))]
    assert prefixes, f"no Ingress rule takes {request_path}"
    _, service, ing = max(prefixes, key=lambda p: len(p[0].rstrip("/")))
    return service, ing


# --- the tests ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "doc"), _every_manifest(),
                         ids=[f"{n}:{d['kind']}/{d['metadata']['name']}" for n, d in _every_manifest()])
def test_every_manifest_is_valid_for_the_stated_kubernetes_version(name: str, doc: Doc) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_applies_every_manifest_but_the_staging_sandbox() -> None:
    kustomization = _kustomization()
    on_disk = {f"k8s/{p.name}" for p in (DEPLOY / "k8s").glob("*.yaml")}
    assert set(kustomization["resources"]) == on_disk - {"k8s/40-payments-sandbox.yaml"}
    for generator in kustomization.get("configMapGenerator", []):
        for file in generator["files"]:
            assert (DEPLOY / file).is_file(), file
    assert all(d["metadata"].get("namespace", kustomization["namespace"]) == kustomization["namespace"]
               for d in _applied() if d["kind"] != "Namespace")


def test_every_workload_has_probes_and_resources() -> None:
    assert {w["metadata"]["name"] for w in _workloads()} >= {"edge", "edge-advisor", "view-cache", "commerce", "redis"}
    for workload in _workloads():
        spec = workload["spec"]["template"]["spec"]
        for container in spec["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert "readinessProbe" in container and "livenessProbe" in container, where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container.get("resources", {}).get(bound, {})), f"{where} {bound}"
        for container in spec.get("initContainers", []):
            assert {"cpu", "memory"} <= set(container.get("resources", {}).get("limits", {})), container["name"]


def test_the_nodes_probes_ask_the_health_endpoint_the_node_serves() -> None:
    served = _edge_routes()
    for workload, container in _showroom_containers():
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if probe in container:
                path = container[probe]["httpGet"]["path"]
                assert path in served, f"{workload['metadata']['name']} {probe} asks {path}, which no node serves"


def test_no_secret_value_is_written_in_the_manifests() -> None:
    assert not [d for _, d in _every_manifest() if d["kind"] == "Secret"], "secrets come from Secrets the operator made"
    for config_map in (d for _, d in _every_manifest() if d["kind"] == "ConfigMap"):
        assert not SECRET_SETTINGS & set(config_map.get("data", {})), config_map["metadata"]["name"]
    for workload in _workloads():
        spec = workload["spec"]["template"]["spec"]
        secret_mounts = {v["name"] for v in spec.get("volumes", []) if "secret" in v}
        for container in spec["containers"] + spec.get("initContainers", []):
            for env in container.get("env", []):
                if env["name"] in SECRET_SETTINGS:
                    assert "secretKeyRef" in env.get("valueFrom", {}), f"{env['name']} written in {container['name']}"
                if env["name"] == "SHOWROOM_CERTIFICATE_KEY":  # a path to the key file, mounted from a Secret
                    mounts = [m for m in container["volumeMounts"] if env["value"].startswith(m["mountPath"] + "/")]
                    assert mounts and mounts[0]["name"] in secret_mounts, container["name"]


def _operator_secrets() -> dict[str, set[str]]:
    """The Secrets and keys k8s/00-namespace-config.yaml tells the operator to create."""
    text = (DEPLOY / "k8s" / "00-namespace-config.yaml").read_text(encoding="utf-8")
    secrets: dict[str, set[str]] = {}
    for block in re.split(r"kubectl -n showroom create secret generic ", text)[1:]:
        name = block.split()[0]
        command = block.split("\n#   (")[0].split("\n# and ")[0].split("\n# the ")[0]
        secrets[name] = set(re.findall(r"--from-literal=(\w+)=", command)) | set(
            re.findall(r"--from-file=([\w.]+)", command))
    return secrets


def test_each_role_would_start_in_the_open_with_the_settings_and_secrets_it_is_given(tmp_path: Path) -> None:
    """What `showroom serve` checks before it listens on 0.0.0.0 (a missing secret or backend refuses the start),
    run on each pod's environment: the ConfigMap, its literal env, and the operator's Secrets (placeholders)."""
    operator = _operator_secrets()
    settings = _named("ConfigMap", [d for _, d in _every_manifest()])["showroom-settings"]["data"]
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_file.chmod(0o600)
    placeholder = {"SHOWROOM_DATABASE_URL": "postgresql+asyncpg://showroom:pw@db.invalid/showroom",
                   "SHOWROOM_RECORDING_KEY": "ab" * 32}
    roles = set()
    for workload, container in _showroom_containers():
        if container["args"][0] != "serve":
            continue
        env: dict[str, str] = {"SHOWROOM_DATA_DIR": str(tmp_path / "data")}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] == "showroom-settings"
                env.update(settings)
            else:
                name = source["secretRef"]["name"]
                assert name in operator, f"{workload['metadata']['name']} reads {name}, which nobody creates"
                env.update({k: placeholder.get(k, "s" * 40) for k in operator[name]})
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
            else:
                ref = item["valueFrom"]["secretKeyRef"]
                assert ref["key"] in operator.get(ref["name"], set()), f"{ref} is in no Secret the operator makes"
                env[item["name"]] = placeholder.get(item["name"], "s" * 40)
        if "SHOWROOM_CERTIFICATE_KEY" in env:
            env["SHOWROOM_CERTIFICATE_KEY"] = str(key_file)
        role = container["args"][container["args"].index("--role") + 1]
        roles.add(role)
        config = load_config({"role": role}, environ=env)
        assert config.host == "0.0.0.0"
        assert public_start_problem(config) is None, workload["metadata"]["name"]
    assert roles == {"edge", "commerce", "payments"}


def test_every_commerce_route_in_the_code_goes_to_commerce() -> None:
    routes = _commerce_routes()
    assert {"/api/quotes", "/api/appointments", "/api/advisor/callbacks", "/ws/orders/{order_id}",
            "/api/reconciliation/{day}", "/api/phone/codes"} <= routes, "the route scan finds the commerce app"
    reached = {r: _route(_concrete(r))[0] for r in routes}
    wrong = {r: service for r, service in reached.items() if service != "commerce"}
    assert not wrong, f"commerce routes the Ingress sends elsewhere: {wrong}"


def test_the_edges_routes_never_go_to_commerce() -> None:
    routes = _edge_routes() - _commerce_routes()
    assert {"/ws/stream", "/views/{name}", "/api/advisor/recordings"} <= routes
    for route in routes:
        service, _ = _route(_concrete(route))
        assert service in {"view-cache", "edge", "edge-advisor"}, f"{route} -> {service}"


def test_advisor_calls_and_recordings_meet_on_one_pod() -> None:
    advisor = [r for r in _edge_routes() if r.startswith(("/ws/advisor/", "/api/advisor/recordings"))]
    assert len(advisor) >= 3
    services = {_route(_concrete(r))[0] for r in advisor}
    assert len(services) == 1
    service = _named("Service")[services.pop()]
    pods = [w for w in _applied() if w["kind"] in WORKLOADS
            and service["spec"]["selector"].items() <= w["spec"]["template"]["metadata"]["labels"].items()]
    assert [(p["kind"], p["spec"]["replicas"]) for p in pods] == [("StatefulSet", 1)]
    assert not [h for h in _named("HorizontalPodAutoscaler").values()
                if h["spec"]["scaleTargetRef"]["name"] == pods[0]["metadata"]["name"]]


def test_live_streams_are_sticky_per_session_on_the_edges() -> None:
    service, ingress = _route("/ws/stream")
    assert service == "edge"
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/session-cookie-name"] == "showroom_sticky"
    same = [s for _, _, s, ing in _ingress_paths(_applied()) if ing["metadata"]["name"] == ingress["metadata"]["name"]]
    assert set(same) == {"edge"}, "one cookie pins one backend: every path of the sticky Ingress goes to the edges"


def test_ingress_backends_and_services_lead_to_pods() -> None:
    services = _named("Service")
    pod_labels = [w["spec"]["template"]["metadata"]["labels"] for w in _applied() if w["kind"] in WORKLOADS]
    for path, _, name, _ in _ingress_paths(_applied()):
        assert name in services, f"{path} -> {name}, no such Service"
    for name, service in services.items():
        assert any(service["spec"]["selector"].items() <= labels.items() for labels in pod_labels), name


def test_the_autoscaler_scales_the_edges_on_the_nodes_own_session_gauge() -> None:
    (hpa,) = _named("HorizontalPodAutoscaler").values()
    target = hpa["spec"]["scaleTargetRef"]
    assert target["name"] in _named(target["kind"])
    exported = {m.name for m in NodeMetrics().registry.collect()}
    pods_metrics = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    assert pods_metrics == ["showroom_stream_sessions"]
    assert set(pods_metrics) <= exported, "the node exports the gauge the HPA asks for"
    edge = _named("Deployment")["edge"]
    env = {e["name"]: e.get("value") for e in edge["spec"]["template"]["spec"]["containers"][0]["env"]}
    target_sessions = float(next(m for m in hpa["spec"]["metrics"] if m["type"] == "Pods")["pods"]["target"]["averageValue"])
    assert target_sessions < int(env["SHOWROOM_MAX_SESSIONS"]), "scale out before an edge refuses streams"


def test_the_disruption_budget_selects_the_edges_and_only_them() -> None:
    (pdb,) = _named("PodDisruptionBudget").values()
    selector = pdb["spec"]["selector"]["matchLabels"]
    chosen = [w["metadata"]["name"] for w in _applied() if w["kind"] in WORKLOADS
              and selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
    assert chosen == ["edge"]
