"""berth pull and berth push, as a user runs them: against berth-registry with token authentication and
against the CNCF reference registry, with skopeo as the judge of what went over the wire and what landed
in the store (an OCI layout skopeo reads as `oci:$BERTH_HOME/images:<name>`)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import pty
import secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.credentials import Credentials, save_credentials
from cli.environment import Environment
from cli.errors import ExitCode
from registry.oci.digest import Digest
from runtime.image_store import ImageStore
from tests.cli.conftest import BERTH, Berth
from tests.support.images import ImageCache, OciImage
from tests.support.registry_process import RegistryProcess, free_port
from tests.support.skopeo import copy, inspect

USER = "porter"  # the token registry's user of this module (its namespace is hers)
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class Target:
    """A registry to push to and pull from, with the credentials berth and skopeo need for it."""

    host: str
    namespace: str
    credentials: tuple[str, str] | None = None

    def name(self, repository: str, tag: str = "1") -> str:
        """A fresh full image name: a repository no other test uses."""
        return f"{self.host}/{self.namespace}/{repository}-{secrets.token_hex(3)}:{tag}"

    def login(self, berth: Berth) -> None:
        if self.credentials:
            save_credentials(Environment(environ=berth.environ), self.host, Credentials(*self.credentials))

    def creds(self, side: str = "") -> tuple[str, ...]:
        """skopeo's option for the credentials: --creds, --src-creds or --dest-creds."""
        option = f"--{side}-creds" if side else "--creds"
        return (option, ":".join(self.credentials)) if self.credentials else ()


@pytest.fixture(scope="module")
def porter(token_registry: RegistryProcess) -> str:
    return token_registry.create_user(USER)  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(params=["berth-token", "reference"])
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "reference":
        return Target(request.getfixturevalue("reference_registry").host, "pp")
    registry = request.getfixturevalue("token_registry")
    return Target(registry.host, USER, (USER, request.getfixturevalue("porter")))


@pytest.fixture
def token_target(token_registry: RegistryProcess, porter: str) -> Target:
    return Target(token_registry.host, USER, (USER, porter))


def repository_of(name: str) -> str:
    return name.rsplit(":", 1)[0]


def short(digest: str) -> str:
    return digest.split(":", 1)[1][:12]


def load(berth: Berth, image: OciImage, name: str, *options: str) -> None:
    """Put an image into berth's store under `name`, as skopeo writes any OCI layout."""
    ImageStore(berth.home / "images")  # the layout skopeo adds to
    copy(image.ref, f"oci:{berth.home / 'images'}:{name}", *options)


def push_with_skopeo(target: Target, image: OciImage, name: str, *options: str) -> None:
    copy(image.ref, f"docker://{name}", *target.creds("dest"), *options)


def raw_manifest(target: Target, ref: str) -> bytes:
    """The manifest bytes exactly as the registry serves them."""
    done = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", *target.creds(), ref],
                          capture_output=True, timeout=60, check=True)
    return done.stdout


def assert_store_is_consistent(home: Path) -> None:
    """Every blob has the digest it is named by; no partial download is left behind."""
    blobs = list((home / "images" / "blobs" / "sha256").iterdir())
    assert blobs
    for blob in blobs:
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, f"{blob} is corrupt"
    assert [p for p in (home / "images" / "ingest").iterdir() if p.stat().st_size] == []


# -- the round trip --------------------------------------------------------------------------------

def test_push_then_pull_into_a_fresh_store(target: Target, berth: Berth, multi_layer_layout: OciImage,
                                           tmp_path: Path) -> None:
    image, name = multi_layer_layout, target.name("round-trip")
    load(berth, image, name)
    target.login(berth)

    pushed = berth.ok("push", name).out.splitlines()
    assert pushed[0] == f"The push refers to repository [{repository_of(name)}]"
    assert sorted(pushed[1:-1]) == sorted(f"{short(d)}: Pushed" for d in image.layer_digests)
    assert pushed[-1] == f"1: digest: {image.digest} size: {image.descriptor['size']}"
    remote = inspect(f"docker://{name}", *target.creds())
    assert (remote["Digest"], remote["Layers"]) == (image.digest, image.layer_digests)

    fresh = Berth(tmp_path / "fresh-home")
    target.login(fresh)
    pulled = fresh.ok("pull", name).out.splitlines()
    repository = repository_of(name).split("/", 1)[1]
    assert pulled[0] == f"1: Pulling from {repository}"
    assert sorted(pulled[1:-3]) == sorted(f"{short(d)}: Pull complete" for d in image.layer_digests)
    assert pulled[-3:] == [f"Digest: {image.digest}", f"Status: Downloaded newer image for {name}", name]

    # skopeo reads what berth pulled, and it is what skopeo itself pulls from the registry.
    from_berth, from_skopeo = OciImage(tmp_path / "from-berth", "1"), OciImage(tmp_path / "from-skopeo", "1")
    copy(f"oci:{fresh.home / 'images'}:{name}", from_berth.ref)
    copy(f"docker://{name}", from_skopeo.ref, *target.creds("src"))
    assert from_berth.digest == from_skopeo.digest == image.digest
    assert from_berth.layer_digests == from_skopeo.layer_digests == image.layer_digests
    for digest in image.layer_digests:
        assert from_berth.blob(digest) == from_skopeo.blob(digest)
    assert_store_is_consistent(fresh.home)

    again = fresh.ok("pull", name).out.splitlines()
    assert sorted(again[1:-3]) == sorted(f"{short(d)}: Already exists" for d in image.layer_digests)
    assert again[-2] == f"Status: Image is up to date for {name}"
    assert sorted(berth.ok("push", name).out.splitlines()[1:-1]) == sorted(
        f"{short(d)}: Layer already exists" for d in image.layer_digests)


def test_quiet_pull_and_push_print_only_the_reference(target: Target, berth: Berth, busybox_layout: OciImage,
                                                      tmp_path: Path) -> None:
    name = target.name("quiet")
    load(berth, busybox_layout, name)
    target.login(berth)
    assert berth.ok("push", "-q", name).out == f"{repository_of(name)}@{busybox_layout.digest}\n"
    fresh = Berth(tmp_path / "fresh-home")
    target.login(fresh)
    result = fresh.ok("pull", "-q", name)
    assert (result.out, result.err) == (f"{name}\n", "")


def test_pull_by_digest(target: Target, berth: Berth, busybox_layout: OciImage) -> None:
    name = target.name("by-digest")
    push_with_skopeo(target, busybox_layout, name)
    target.login(berth)
    by_digest = f"{repository_of(name)}@{busybox_layout.digest}"

    lines = berth.ok("pull", by_digest).out.splitlines()
    assert lines[0] == f"{busybox_layout.digest}: Pulling from {repository_of(name).split('/', 1)[1]}"
    assert lines[-1] == by_digest
    stored = ImageStore(berth.home / "images").resolve(by_digest)
    assert stored is not None and str(stored.digest) == busybox_layout.digest


def test_pull_picks_the_platform_from_an_index(target: Target, berth: Berth, multi_arch_layout: OciImage,
                                               tmp_path: Path) -> None:
    index, name = multi_arch_layout, target.name("multi-arch")
    push_with_skopeo(target, index, name, "--all")
    target.login(berth)
    entries = {e["platform"]["architecture"]: e["digest"] for e in index.manifest["manifests"]}

    assert berth.ok("pull", "--platform", "linux/arm64", name).out.splitlines()[-3] == f"Digest: {index.digest}"
    store = ImageStore(berth.home / "images")
    named = store.resolve(name)
    assert named is not None  # the name holds the index, so the digest pulled is the one shown
    assert (str(named.digest), named.descriptor["mediaType"]) == (index.digest, OCI_INDEX)
    assert store.read_blob(named.digest) == index.blob(index.digest)
    arm64 = OciImage(index.layout, "arm64")
    assert store.has_blob(Digest.parse(entries["arm64"])) and not store.has_blob(Digest.parse(entries["amd64"]))
    assert json.loads(store.read_blob(Digest.parse(arm64.config_digest)))["architecture"] == "arm64"

    missing = berth.run("pull", "--platform", "linux/s390x", name)
    assert missing.code == ExitCode.NOT_FOUND
    assert missing.err == "Error: no matching manifest for linux/s390x in the manifest list entries\n"
    if platform.machine() == "x86_64":  # by default, this machine's platform
        native = Berth(tmp_path / "native-home")
        target.login(native)
        native.ok("pull", name)
        assert ImageStore(native.home / "images").has_blob(Digest.parse(entries["amd64"]))
        assert not ImageStore(native.home / "images").has_blob(Digest.parse(entries["arm64"]))


def test_push_an_index_with_its_images(target: Target, berth: Berth, multi_arch_layout: OciImage) -> None:
    index, name = multi_arch_layout, target.name("push-index")
    load(berth, index, name, "--all")
    target.login(berth)
    lines = berth.ok("push", name).out.splitlines()
    assert lines[-1] == f"1: digest: {index.digest} size: {index.descriptor['size']}"
    assert raw_manifest(target, f"docker://{name}") == index.blob(index.digest)
    for entry in index.manifest["manifests"]:
        child = raw_manifest(target, f"docker://{repository_of(name)}@{entry['digest']}")
        assert child == index.blob(entry["digest"])


def test_push_of_a_pulled_index_pushes_the_one_image_the_store_has(target: Target, berth: Berth,
                                                                   multi_arch_layout: OciImage) -> None:
    index, name = multi_arch_layout, target.name("one-platform")
    push_with_skopeo(target, index, name, "--all")
    target.login(berth)
    berth.ok("pull", "--platform", "linux/arm64", name)
    arm64 = OciImage(index.layout, "arm64")
    copy_name = target.name("one-platform-copy")
    store = ImageStore(berth.home / "images")
    store.set_reference(copy_name, store.resolve(name).descriptor)  # type: ignore[union-attr]  # as `berth tag`

    result = berth.ok("push", copy_name)
    assert result.out.splitlines()[-1] == f"1: digest: {arm64.digest} size: {arm64.descriptor['size']}"
    assert "pushing that image" in result.err  # the index itself cannot go: the amd64 image is missing
    assert raw_manifest(target, f"docker://{copy_name}") == index.blob(arm64.digest)


def test_push_and_pull_with_basic_auth(basic_registry: RegistryProcess, berth: Berth, busybox_layout: OciImage,
                                       tmp_path: Path) -> None:
    target = Target(basic_registry.host, "pp", ("bob", "bob-password"))
    name = target.name("basic")
    load(berth, busybox_layout, name)
    target.login(berth)
    assert berth.ok("push", "-q", name).out == f"{repository_of(name)}@{busybox_layout.digest}\n"
    fresh = Berth(tmp_path / "fresh-home")
    target.login(fresh)
    assert fresh.ok("pull", name).out.splitlines()[-3] == f"Digest: {busybox_layout.digest}"
    assert Berth(tmp_path / "no-credentials").run("pull", name).code == ExitCode.AUTH


# -- mounts ----------------------------------------------------------------------------------------

def test_push_mounts_layers_from_another_repository(token_target: Target, token_registry: RegistryProcess,
                                                    berth: Berth, multi_layer_layout: OciImage) -> None:
    source, copy_name = token_target.name("mount-source"), token_target.name("mount-target")
    load(berth, multi_layer_layout, source)
    load(berth, multi_layer_layout, copy_name)
    token_target.login(berth)
    berth.ok("push", source)
    mark = token_registry.log_size()

    lines = berth.ok("push", copy_name).out.splitlines()
    source_repository = repository_of(source).split("/", 1)[1]
    assert sorted(lines[1:-1]) == sorted(f"{short(d)}: Mounted from {source_repository}"
                                         for d in multi_layer_layout.layer_digests)
    posts = token_registry.access_lines(mark, "POST")
    mounted = [line for line in posts if f"from={source_repository} 201 " in line]
    assert len(mounted) == len(multi_layer_layout.layer_digests) + 1, posts  # and the config
    assert [line for line in posts if " 202 " in line] == []  # no upload was started
    assert token_registry.access_lines(mark, "PATCH") == []  # not one byte uploaded


# -- errors ----------------------------------------------------------------------------------------

def test_a_wrong_password_is_an_auth_error(token_target: Target, berth: Berth) -> None:
    save_credentials(Environment(environ=berth.environ), token_target.host, Credentials(USER, "not-her-password"))
    result = berth.run("pull", token_target.name("anything"))
    assert result.code == ExitCode.AUTH and result.err.startswith("Error: "), result


def test_an_unknown_image_is_not_found(target: Target, berth: Berth) -> None:
    target.login(berth)
    name = target.name("never-pushed")
    result = berth.run("pull", name)
    assert result.code == ExitCode.NOT_FOUND, result
    assert result.err.startswith(f"Error: manifest for {name} not found"), result.err


def test_pushing_what_the_store_lacks_is_not_found(berth: Berth) -> None:
    result = berth.run("push", "127.0.0.1:5999/pp/nothing:1")
    assert (result.code, result.err) == (
        ExitCode.NOT_FOUND, "Error: An image does not exist locally with the tag: 127.0.0.1:5999/pp/nothing\n")


@pytest.mark.parametrize("command", ["pull", "push"])
def test_a_bad_reference_is_a_reference_error(berth: Berth, command: str) -> None:
    for text in ("127.0.0.1:5000/Upper/case:1", "127.0.0.1:5000/pp/app:bad tag", "127.0.0.1:5000/pp/app@sha256:12"):
        result = berth.run(command, text)
        assert result.code == ExitCode.REFERENCE and result.err.startswith("Error: invalid"), (text, result)


def test_a_bad_platform_is_a_usage_error(berth: Berth) -> None:
    result = berth.run_process("pull", "--platform", "linux", "127.0.0.1:5000/pp/app:1")
    assert result.code == ExitCode.USAGE and "OS/ARCH[/VARIANT]" in result.err


@pytest.mark.parametrize("command", ["pull", "push"])
def test_a_registry_that_is_down_is_a_network_error(berth: Berth, busybox_layout: OciImage, command: str) -> None:
    name = f"127.0.0.1:{free_port()}/pp/app:1"
    load(berth, busybox_layout, name)
    result = berth.run(command, name)
    assert result.code == ExitCode.NETWORK and result.err.startswith("Error: 127.0.0.1:"), result


# -- two pulls at once, and what a pipe or a terminal gets --------------------------------------

def test_two_pulls_of_one_image_into_one_store(open_registry: RegistryProcess, berth: Berth,
                                               images: ImageCache) -> None:
    image = images.random_layers(3, 30_000_000)
    name = Target(open_registry.host, "pp").name("concurrent")
    push_with_skopeo(Target(open_registry.host, "pp"), image, name)
    mark = open_registry.log_size()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: berth.run_process("pull", name), range(2)))
    for result in results:
        assert result.code == 0 and result.out.splitlines()[-1] == name, result
    store = ImageStore(berth.home / "images")
    assert [r.name for r in store.references()] == [name]
    assert_store_is_consistent(berth.home)
    gets = open_registry.access_lines(mark, "GET")
    for layer in image.layer_digests:  # one process downloads, the other waits for it
        assert len([line for line in gets if f"/blobs/{layer} " in line]) == 1, gets


def test_no_escape_codes_into_a_pipe(open_registry: RegistryProcess, berth: Berth, busybox_layout: OciImage) -> None:
    target = Target(open_registry.host, "pp")
    name = target.name("pipe")
    push_with_skopeo(target, busybox_layout, name)
    for args in (("pull", name), ("push", name)):
        result = berth.run_process(*args)
        assert result.code == 0, result
        assert "\x1b" not in result.out + result.err
    assert f"{short(busybox_layout.layer_digests[0])}: Layer already exists" in result.out


def test_progress_bars_on_a_terminal(open_registry: RegistryProcess, berth: Berth, images: ImageCache) -> None:
    image = images.random_layers(3, 30_000_000)
    target = Target(open_registry.host, "pp")
    name = target.name("terminal")
    push_with_skopeo(target, image, name)
    controller, terminal = pty.openpty()
    process = subprocess.Popen([str(BERTH), "pull", name], stdout=subprocess.PIPE, stderr=terminal,
                               env={**berth.environ, "TERM": "xterm", "COLUMNS": "120"})
    os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    out = process.stdout.read().decode()  # type: ignore[union-attr]
    assert process.wait(60) == 0
    os.close(controller)
    screen = drawn.decode(errors="replace")
    assert "\x1b[" in screen and "Pull complete" in screen
    assert all(f"{short(d)}: Pull complete" in screen for d in image.layer_digests)
    assert "\x1b" not in out and out.splitlines()[-1] == name
