"""Imports run one way (DESIGN.md): oci <- everything; registry never imports cli or runtime;
inside the server, api -> services -> db/storage, never back."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                # module ends with its file name (".__init__" too), so level 1 drops just that.
                base = module.split(".")[: -node.level] if node.level else []
                names.add(".".join([*base, node.module] if node.module else base))
        found[module] = names
    return found


def _violations(package: str, forbidden: dict[str, tuple[str, ...]]) -> list[str]:
    bad = []
    for module, names in _imports(package).items():
        for prefix, banned in forbidden.items():
            if module.startswith(prefix):
                bad += [f"{module} imports {n}" for n in names if n.startswith(banned)]
    return bad


def test_oci_uses_the_standard_library_only():
    allowed_roots = {"registry", "__future__", "hashlib", "re", "json", "dataclasses", "typing", "collections"}
    for module, names in _imports("registry/oci").items():
        for name in names:
            root = name.split(".")[0]
            assert root in allowed_roots and (root != "registry" or name.startswith("registry.oci")), \
                f"{module} imports {name}"


def test_registry_never_imports_cli_or_runtime():
    assert _violations("registry", {"registry": ("cli", "runtime")}) == []


def test_layers_import_downwards_only():
    assert _violations("registry", {
        "registry.services": ("registry.api", "registry.app", "aiohttp"),
        "registry.db": ("registry.api", "registry.services", "registry.storage"),
        "registry.storage": ("registry.api", "registry.services", "registry.db"),
    }) == []


def test_cli_and_runtime_use_only_the_oci_part_of_the_registry():
    for package in ("cli", "runtime"):
        for module, names in _imports(package).items():
            bad = [n for n in names if n.startswith("registry") and not n.startswith("registry.oci")]
            assert bad == [], f"{module} imports {bad}"


def test_runtime_never_imports_cli():
    assert _violations("runtime", {"runtime": ("cli",)}) == []
