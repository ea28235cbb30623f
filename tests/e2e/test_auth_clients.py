"""podman, skopeo and oras-py against a server with token authentication, and tokens across a rotation of
the signing key (done with the admin command while the server runs)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path

import oras.provider
import pytest

from tests.support.accounts import TokenRegistry, basic, bearer, http, jwt_header, podman_login, registry_token
from tests.support.commands import CommandFailed
from tests.support.images import OciImage
from tests.support.podman import Podman
from tests.support.skopeo import copy, inspect, skopeo

DATA_TYPE = "application/vnd.berth.test.data.v1"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def test_podman_login_push_pull_logout(podman: Podman, server: TokenRegistry, alice: str,
                                       busybox_layout: OciImage, tmp_path: Path) -> None:
    authfile = tmp_path / "auth.json"
    assert "Login Succeeded!" in podman_login(podman, authfile, server.host, "alice", alice).stdout
    stored = json.loads(authfile.read_text())["auths"][server.host]
    assert base64.b64decode(stored["auth"]).decode() == f"alice:{alice}"  # podman keeps the password itself

    image = f"{server.host}/alice/podman:1"
    image_id = podman("pull", "--quiet", busybox_layout.ref).stdout.strip()
    podman("tag", image_id, image)
    digest_file = tmp_path / "digest"
    podman("push", "--tls-verify=false", "--authfile", str(authfile), "--digestfile", str(digest_file), image)
    server.admin("repo", "visibility", "alice/podman", "private")
    podman("rmi", "--force", image_id)
    podman("pull", "--tls-verify=false", "--authfile", str(authfile), image)
    repo_digests = podman("image", "inspect", "--format", "{{json .RepoDigests}}", image).stdout
    assert f"{server.host}/alice/podman@{digest_file.read_text()}" in json.loads(repo_digests)

    podman("logout", "--authfile", str(authfile), server.host)
    assert server.host not in json.loads(authfile.read_text())["auths"]
    podman("rmi", "--force", image)
    denied = podman("pull", "--tls-verify=false", "--authfile", str(authfile), image, check=False)
    assert denied.returncode != 0
    assert re.search(r"unauthorized|denied|authentication required", denied.stderr), denied.stderr


@pytest.fixture(scope="module")
def private_image(server: TokenRegistry, alice: str, busybox_layout: OciImage) -> str:
    """busybox pushed by skopeo with alice's credentials to alice/skopeo:1, then made private."""
    ref = f"docker://{server.host}/alice/skopeo:1"
    copy(busybox_layout.ref, ref, "--dest-creds", f"alice:{alice}")
    server.admin("repo", "visibility", "alice/skopeo", "private")
    return ref


def test_skopeo_with_credentials(server: TokenRegistry, alice: str, busybox_layout: OciImage,
                                 private_image: str) -> None:
    ref, creds = private_image, f"alice:{alice}"
    assert inspect(ref, "--creds", creds)["Digest"] == busybox_layout.digest
    listed = skopeo("list-tags", "--tls-verify=false", "--creds", creds, f"docker://{server.host}/alice/skopeo")
    assert json.loads(listed.stdout)["Tags"] == ["1"]

    for wrong in ("alice:not-her-password", "nobody:whatever-password"):
        with pytest.raises(CommandFailed) as refused:
            inspect(ref, "--creds", wrong)
        assert re.search(r"unauthorized|authentication required", refused.value.stderr), refused.value.stderr
    with pytest.raises(CommandFailed):  # nor anonymously: it is private
        inspect(ref, "--no-creds")


def test_oras_push_and_pull_as_a_user(server: TokenRegistry, alice: str, tmp_path: Path) -> None:
    # oras-py's token backend keeps its first token and asks for a new one only after a 403, but a push
    # starts with a HEAD (a pull-scoped token) and the spec answers the POST that follows 401
    # insufficient_scope: so pushes go with Basic credentials, which berth takes on /v2 directly.
    pusher = oras.provider.Registry(server.host, insecure=True, auth_backend="basic")
    pusher.auth.set_basic_auth("alice", alice)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(100_000))
    target = f"{server.host}/alice/oras:v1"
    pushed = pusher.push(target=target, files=[f"{payload}:{DATA_TYPE}"], disable_path_validation=True)
    assert pushed.status_code == 201
    server.admin("repo", "visibility", "alice/oras", "private")

    puller = oras.provider.Registry(server.host, insecure=True)  # the token backend: GET /token with Basic
    puller.login("alice", alice, hostname=server.host, config_path=str(tmp_path / "config.json"))
    mark = server.log_size()
    files = puller.pull(target=target, outdir=str(tmp_path / "out"))
    assert [Path(f).read_bytes() for f in files] == [payload.read_bytes()]
    assert puller.get_tags(f"{server.host}/alice/oras") == ["v1"]
    assert any(line.startswith("GET /token?") and " 200 " in line for line in server.access_lines(mark))

    anonymous = oras.provider.Registry(server.host, insecure=True)
    with pytest.raises(ValueError):
        anonymous.pull(target=target, outdir=str(tmp_path / "anonymous"))
    with pytest.raises(ValueError):
        anonymous.push(target=f"{server.host}/alice/oras:v2", files=[f"{payload}:{DATA_TYPE}"],
                       disable_path_validation=True)


def _manifest(server: TokenRegistry, token: str) -> int:
    return http("GET", f"{server.url}/v2/alice/skopeo/manifests/1", {**bearer(token), "Accept": OCI_MANIFEST}).status


def _forged(kid: str) -> str:
    """A token that names `kid` but that no key signed: it makes the worker that gets it reload its keys."""
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'ES256', 'typ': 'JWT', 'kid': kid})}.{part({'sub': 'alice'})}.{'A' * 86}"


def test_tokens_survive_a_key_rotation(server: TokenRegistry, alice: str, private_image: str) -> None:
    scope = "repository:alice/skopeo:pull"
    old = server.remember(registry_token(server, scope, credentials=("alice", alice)))
    assert _manifest(server, old) == 200

    rotated = server.admin("key", "rotate").stdout
    found = re.fullmatch(r"tokens are now signed with key ([A-Z2-7]+)\n", rotated)
    assert found, rotated
    new_kid = found.group(1)
    assert jwt_header(old)["kid"] != new_kid
    for _ in range(8):  # new connections, so both workers answer some
        assert _manifest(server, old) == 200

    # A token naming the new key that the worker does not know yet makes it reload (it is refused: forged).
    for _ in range(24):  # new connections, spread by SO_REUSEPORT over both workers
        forged = http("GET", f"{server.url}/v2/", bearer(_forged(new_kid)))
        assert forged.status == 401 and 'error="invalid_token"' in forged.headers["WWW-Authenticate"]
    fresh = [server.remember(registry_token(server, scope, credentials=("alice", alice))) for _ in range(6)]
    assert {jwt_header(token)["kid"] for token in fresh} == {new_kid}
    for token in fresh:
        assert _manifest(server, token) == 200
    assert _manifest(server, old) == 200
    assert http("GET", f"{server.url}/v2/", basic("alice", alice)).status == 200


def test_pull_by_digest_with_basic_credentials(server: TokenRegistry, alice: str, busybox_layout: OciImage,
                                               private_image: str) -> None:
    digest = busybox_layout.digest
    answer = http("GET", f"{server.url}/v2/alice/skopeo/manifests/{digest}",
                  {**basic("alice", alice), "Accept": OCI_MANIFEST})
    assert answer.status == 200 and "sha256:" + hashlib.sha256(answer.body).hexdigest() == digest


def test_no_secret_reaches_the_server_log(server: TokenRegistry) -> None:
    assert len(server.secrets) >= 5
    assert server.leaked_secrets() == []
