"""A user's session with the local store: skopeo puts images in; berth images, tag, rmi, image inspect,
image prune and history show and change them as docker's commands do; skopeo and umoci read the result."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.docker_words import created_since, human_duration, human_size
from cli.local_images import host_platform
from registry.oci import mediatypes as mt
from runtime.image_store import ImageStore
from tests.cli.conftest import Berth
from tests.support.images import OciImage
from tests.support.skopeo import copy, skopeo

REGISTRY = "127.0.0.1:5000"
AGO = re.compile(r"(Less than a second|\d+ seconds?|About a minute|\d+ minutes) ago")


@pytest.fixture
def local(tmp_path: Path) -> Berth:
    """A berth whose default registry is REGISTRY, so that `ns/app:1` names REGISTRY/ns/app:1."""
    return Berth(tmp_path / "berth-home", {"BERTH_REGISTRY": REGISTRY})


def stored(berth: Berth, image: OciImage, name: str, *options: str) -> str:
    """Copy an OCI layout's image into berth's store with skopeo, as REGISTRY/name."""
    berth.home.mkdir(parents=True, exist_ok=True)
    copy(image.ref, f"oci:{berth.home / 'images'}:{REGISTRY}/{name}", *options)
    return f"{REGISTRY}/{name}"


def hand_made(berth: Berth, name: str | None, config: dict, layers: tuple[bytes, ...] = (b"layer",)) -> str:
    """An image written with the store's own API, for configs the fixtures lack; returns its config digest.
    Without a name it is untagged, named by its manifest's digest as `berth import` names one."""
    store = ImageStore(berth.home / "images")
    blobs = [gzip.compress(data, mtime=0) for data in layers]
    described = [{"mediaType": mt.OCI_LAYER_GZIP, "digest": str(store.put_blob(b)), "size": len(b)} for b in blobs]
    config_bytes = json.dumps(config).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "layers": described,
                           "config": {"mediaType": mt.OCI_CONFIG, "digest": str(store.put_blob(config_bytes)),
                                      "size": len(config_bytes)}}).encode()
    digest = str(store.put_blob(manifest))
    store.set_reference(name or digest, {"mediaType": mt.OCI_MANIFEST, "digest": digest, "size": len(manifest)})
    return json.loads(manifest)["config"]["digest"]


def blob_exists(berth: Berth, digest: str) -> bool:
    return (berth.home / "images" / "blobs" / "sha256" / digest.partition(":")[2]).is_file()


def cells(line: str) -> list[str]:
    return re.split(r" {2,}", line.strip())


def table(out: str) -> list[list[str]]:
    """The rows of a table, cut where its header's columns start (cells may hold double spaces)."""
    header, *lines = out.splitlines()
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", header)]
    return [[line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)] for line in lines]


def short(digest: str) -> str:
    return digest.partition(":")[2][:12]


def ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


# -- units -----------------------------------------------------------------------------------------

def test_sizes_and_ages_are_worded_as_docker_words_them():
    assert [human_size(n) for n in (0, 999, 1000, 1234, 12345, 4261550, 123456789, 2 * 10**9)] == \
        ["0B", "999B", "1kB", "1.23kB", "12.3kB", "4.26MB", "123MB", "2GB"]
    assert human_size(1234567, 4) == "1.235MB"
    assert [human_duration(s) for s in (0.5, 1, 59, 60, 119, 3599, 3600, 5 * 3600, 47 * 3600, 3 * 86400,
                                        3 * 7 * 86400, 90 * 86400, 3 * 365 * 86400)] == \
        ["Less than a second", "1 second", "59 seconds", "About a minute", "About a minute", "59 minutes",
         "About an hour", "5 hours", "47 hours", "3 days", "3 weeks", "3 months", "3 years"]
    assert created_since(None) == "N/A"


# -- images ----------------------------------------------------------------------------------------

def test_images_lists_what_skopeo_stored_newest_first(local, busybox_layout, multi_layer_layout):
    stored(local, busybox_layout, "ns/app:1")
    stored(local, multi_layer_layout, "ns/layers:2")
    newest = hand_made(local, f"{REGISTRY}/ns/new:3", {"created": ago(2), "os": "linux", "architecture": "amd64"})
    undated = hand_made(local, f"{REGISTRY}/ns/undated:4", {"os": "linux", "architecture": "amd64"})
    lines = local.ok("images").out.splitlines()
    repo_width = len(f"{REGISTRY}/ns/undated") + 3
    created_width = max(len("2 hours ago"), *(len(cells(line)[3]) for line in lines[1:])) + 3
    assert lines[0] == "REPOSITORY".ljust(repo_width) + "TAG".ljust(10) + "IMAGE ID".ljust(15) + \
        "CREATED".ljust(created_width) + "SIZE"
    rows = [cells(line) for line in lines[1:]]
    # Newest first: the umoci-built images (minutes old at most), then 2 hours ago, then no date.
    assert [r[0] for r in rows[2:]] == [f"{REGISTRY}/ns/new", f"{REGISTRY}/ns/undated"]
    by_name = {r[0]: r for r in rows}
    assert by_name[f"{REGISTRY}/ns/app"][1:3] == ["1", short(busybox_layout.config_digest)]
    assert by_name[f"{REGISTRY}/ns/app"][4] == human_size(busybox_layout.size) == "1.08MB"
    assert by_name[f"{REGISTRY}/ns/layers"][1:3] == ["2", short(multi_layer_layout.config_digest)]
    assert AGO.fullmatch(by_name[f"{REGISTRY}/ns/layers"][3])
    assert by_name[f"{REGISTRY}/ns/new"][2:4] == [short(newest), "2 hours ago"]
    assert by_name[f"{REGISTRY}/ns/undated"][2:4] == [short(undated), "N/A"]
    # Columns line up under their headers, as tabwriter sets them.
    assert all(line.index(short(d)) == lines[0].index("IMAGE ID") for line, d in
               zip(lines[3:], (newest, undated), strict=True))


def test_images_quiet_digests_no_trunc_and_formats(local, busybox_layout):
    stored(local, busybox_layout, "ns/app:1")
    local.ok("tag", "ns/app:1", "ns/app:2")
    assert local.ok("images", "-q").out == short(busybox_layout.config_digest) + "\n"  # one line per image
    assert local.ok("images", "-q", "--no-trunc").out == busybox_layout.config_digest + "\n"
    lines = local.ok("images", "--digests").out.splitlines()
    assert cells(lines[0]) == ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"]
    assert [cells(line)[2] for line in lines[1:]] == [busybox_layout.digest] * 2
    assert cells(local.ok("images", "--no-trunc").out.splitlines()[1])[2] == busybox_layout.config_digest
    assert local.ok("images", "--format", "{{.Repository}}:{{.Tag}}").out.splitlines() == \
        [f"{REGISTRY}/ns/app:1", f"{REGISTRY}/ns/app:2"]
    rows = [json.loads(line) for line in local.ok("images", "--format", "json").out.splitlines()]
    assert rows[0]["ID"] == short(busybox_layout.config_digest) and rows[0]["Tag"] == "1"
    assert rows[0]["Digest"] == busybox_layout.digest and rows[0]["Size"] == "1.08MB"
    assert set(rows[0]) >= {"Containers", "CreatedAt", "CreatedSince", "Repository", "SharedSize", "VirtualSize"}
    table = local.ok("images", "--format", "table {{.ID}}\\t{{.Tag}}").out.splitlines()
    assert table == ["IMAGE ID       TAG", f"{short(busybox_layout.config_digest)}   1",
                     f"{short(busybox_layout.config_digest)}   2"]


def test_images_of_a_repository_a_tag_a_pattern_or_a_filter(local, busybox_layout, multi_layer_layout):
    stored(local, busybox_layout, "ns/app:1")
    stored(local, multi_layer_layout, "ns/app:2")
    stored(local, multi_layer_layout, "ns/other:1")

    def names(*args: str) -> list[str]:
        return local.ok("images", "--format", "{{.Repository}}:{{.Tag}}", *args).out.split()

    assert sorted(names("ns/app")) == [f"{REGISTRY}/ns/app:1", f"{REGISTRY}/ns/app:2"]
    assert names("ns/app:2") == [f"{REGISTRY}/ns/app:2"]
    assert sorted(names("ns/o*")) == [f"{REGISTRY}/ns/other:1"]
    assert sorted(names("--filter", "reference=*/ns/app:1")) == [f"{REGISTRY}/ns/app:1"]
    assert names("--filter", "dangling=true") == []
    assert names("ns/missing") == []
    result = local.run("images", "--filter", "color=blue")
    assert (result.code, result.err) == (2, "Error: invalid filter 'color=blue'\n")


def test_an_index_shows_the_image_for_this_machine(local, multi_arch_layout):
    stored(local, multi_arch_layout, "ns/multi:1", "--all")
    _, architecture, _ = host_platform()
    index = json.loads(multi_arch_layout.blob(multi_arch_layout.digest))
    child = next(m for m in index["manifests"] if m["platform"]["architecture"] == architecture)
    config = json.loads(multi_arch_layout.blob(child["digest"]))["config"]["digest"]
    # The same index with its platforms the other way round: the choice is by platform, not by place.
    store = ImageStore(local.home / "images")
    reversed_index = json.dumps({**index, "manifests": index["manifests"][::-1]}).encode()
    store.set_reference(f"{REGISTRY}/ns/reversed:1", {"mediaType": mt.OCI_INDEX, "size": len(reversed_index),
                                                     "digest": str(store.put_blob(reversed_index))})
    rows = [json.loads(line) for line in local.ok("images", "--format", "json").out.splitlines()]
    assert [(r["Repository"], r["ID"]) for r in rows] == [(f"{REGISTRY}/ns/multi", short(config)),
                                                          (f"{REGISTRY}/ns/reversed", short(config))]
    assert rows[0]["Digest"] == multi_arch_layout.digest
    inspected = json.loads(local.ok("image", "inspect", "ns/reversed:1").out)[0]
    assert (inspected["Id"], inspected["Architecture"]) == (config, architecture)


def test_entries_skopeo_wrote_by_digest_are_ignored_and_kept(local, busybox_layout):
    local.home.mkdir(parents=True)
    copy(busybox_layout.ref, f"oci:{local.home / 'images'}")  # no name: an unnamed index.json entry
    assert local.ok("images").out.splitlines()[1:] == []
    local.ok("image", "prune", "-f")
    assert all(blob_exists(local, d) for d in (busybox_layout.digest, busybox_layout.config_digest))


# -- tag -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["ns/app:1", "short-id", "id-prefix", "config-digest", "manifest-digest"])
def test_tag_by_name_short_id_or_digest_is_read_by_skopeo_and_umoci(local, busybox_layout, tmp_path, source):
    stored(local, busybox_layout, "ns/app:1")
    text = {"short-id": short(busybox_layout.config_digest), "id-prefix": short(busybox_layout.config_digest)[:5],
            "config-digest": busybox_layout.config_digest, "manifest-digest": busybox_layout.digest}.get(source, source)
    assert local.ok("tag", text, "ns/copy:v2").out == ""
    images = local.home / "images"
    seen = json.loads(skopeo("inspect", f"oci:{images}:{REGISTRY}/ns/copy:v2").stdout)
    assert seen["Digest"] == busybox_layout.digest
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{images}:{REGISTRY}/ns/copy:v2",
                    tmp_path / "bundle"], check=True, capture_output=True)
    assert (tmp_path / "bundle" / "rootfs" / "bin" / "busybox").is_file()


def test_tag_errors(local, busybox_layout):
    stored(local, busybox_layout, "ns/app:1")
    missing = local.run("tag", "ns/nope:1", "ns/x:1")
    assert (missing.code, missing.out, missing.err) == (4, "", "Error: No such image: ns/nope:1\n")
    result = local.run("tag", "ns/app:1", f"ns/x@{busybox_layout.digest}")
    assert (result.code, result.err) == (6, "Error: refusing to create a tag with a digest reference\n")
    assert local.run("tag", "ns/app:1", "ns/UPPER:1").code == 6
    # Two image IDs that start alike: their common prefix is ambiguous, as docker says.
    first = short(busybox_layout.config_digest)[0]
    twin = next(c for c in ({"created": ago(n)} for n in range(1, 1000))
                if hashlib.sha256(json.dumps(c).encode()).hexdigest()[0] == first)
    hand_made(local, f"{REGISTRY}/ns/twin:1", twin)
    ambiguous = local.run("tag", first, "ns/x:1")
    assert (ambiguous.code, ambiguous.err) == (6, f"Error: multiple IDs found with provided prefix: {first}\n")


# -- rmi -------------------------------------------------------------------------------------------

def test_rmi_keeps_the_blobs_another_image_needs(local, busybox_layout, multi_layer_layout, tmp_path):
    stored(local, busybox_layout, "ns/app:1")
    stored(local, multi_layer_layout, "ns/layers:1")
    base, *extra = multi_layer_layout.layer_digests
    assert base == busybox_layout.layer_digests[0]
    result = local.ok("rmi", "ns/layers:1")
    assert result.out.splitlines() == [f"Untagged: {REGISTRY}/ns/layers:1",
                                       f"Deleted: {multi_layer_layout.config_digest}",
                                       f"Deleted: {multi_layer_layout.digest}",
                                       *(f"Deleted: {d}" for d in reversed(extra))]
    assert blob_exists(local, base) and not any(blob_exists(local, d) for d in extra)
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{local.home / 'images'}:{REGISTRY}/ns/app:1",
                    tmp_path / "bundle"], check=True, capture_output=True)
    assert (tmp_path / "bundle" / "rootfs" / "etc" / "passwd").is_file()


def test_rmi_of_one_name_of_several_only_untags(local, busybox_layout):
    stored(local, busybox_layout, "ns/app:1")
    local.ok("tag", "ns/app:1", "ns/app:2")
    assert local.ok("rmi", "ns/app:1").out == f"Untagged: {REGISTRY}/ns/app:1\n"
    assert local.ok("images", "--format", "{{.Tag}}").out == "2\n"
    assert blob_exists(local, busybox_layout.config_digest)


def test_rmi_of_an_id_in_several_repositories_must_be_forced(local, busybox_layout):
    stored(local, busybox_layout, "ns/app:1")
    local.ok("tag", "ns/app:1", "ns/other:1")
    image_id = short(busybox_layout.config_digest)
    result = local.run("rmi", image_id)
    assert (result.code, result.out) == (1, "")
    assert result.err == f"Error: conflict: unable to delete {image_id} (must be forced) - " \
                         "image is referenced in multiple repositories\n"
    assert len(local.ok("images").out.splitlines()) == 3
    lines = local.ok("rmi", "-f", image_id).out.splitlines()
    assert lines[:3] == [f"Untagged: {REGISTRY}/ns/app:1", f"Untagged: {REGISTRY}/ns/other:1",
                         f"Deleted: {busybox_layout.config_digest}"]
    assert sorted(lines[3:]) == sorted(f"Deleted: {d}" for d in [busybox_layout.digest, *busybox_layout.layer_digests])
    assert local.ok("images").out.splitlines()[1:] == []
    assert list((local.home / "images" / "blobs" / "sha256").iterdir()) == []


def test_rmi_of_an_id_whose_names_share_a_repository_untags_them_all(local, busybox_layout):
    stored(local, busybox_layout, "ns/app:1")
    local.ok("tag", "ns/app:1", "ns/app:2")
    lines = local.ok("rmi", busybox_layout.config_digest).out.splitlines()
    assert lines[:3] == [f"Untagged: {REGISTRY}/ns/app:1", f"Untagged: {REGISTRY}/ns/app:2",
                         f"Deleted: {busybox_layout.config_digest}"]


def test_rmi_goes_on_after_an_unknown_image_and_fails_at_the_end(local, busybox_layout):
    stored(local, busybox_layout, "ns/app:1")
    result = local.run("rmi", "ns/nope:1", "ns/app:1")
    assert result.code == 4 and result.err == "Error: No such image: ns/nope:1\n"
    assert result.out.startswith(f"Untagged: {REGISTRY}/ns/app:1\nDeleted: {busybox_layout.config_digest}\n")


# -- image prune -----------------------------------------------------------------------------------

def test_image_prune_removes_dangling_images_and_unreferenced_blobs(local, busybox_layout, multi_layer_layout):
    stored(local, busybox_layout, "ns/app:1")
    stored(local, multi_layer_layout, "ns/app:2")
    local.ok("tag", "ns/app:1", "ns/app:2")  # the multi-layer image loses its only name: garbage
    dangling = hand_made(local, None, {"created": ago(1)}, (b"dangling",))
    assert cells(local.ok("images").out.splitlines()[-1])[:3] == ["<none>", "<none>", short(dangling)]
    declined = local.run("image", "prune", stdin="n\n")
    assert declined.out.endswith("[y/N] Total reclaimed space: 0B\n") and blob_exists(local, dangling)
    blobs = local.home / "images" / "blobs" / "sha256"
    kept = {d.partition(":")[2] for d in (busybox_layout.digest, busybox_layout.config_digest,
                                          *busybox_layout.layer_digests)}
    freed = sum(p.stat().st_size for p in blobs.iterdir() if p.name not in kept)
    warning, *lines = local.ok("image", "prune", stdin="y\n").out.splitlines()
    assert warning == "WARNING! This will remove all dangling images."
    assert lines[0] == "Are you sure you want to continue? [y/N] Deleted Images:"
    assert lines[1] == f"deleted: {dangling}"
    garbage = {multi_layer_layout.digest, multi_layer_layout.config_digest, *multi_layer_layout.layer_digests[1:]}
    assert {line.removeprefix("deleted: ") for line in lines[1:-2]} > garbage
    assert lines[-2:] == ["", f"Total reclaimed space: {human_size(freed, 4)}"]
    assert {p.name for p in blobs.iterdir()} == kept
    assert local.ok("image", "prune", "-f").out == "Total reclaimed space: 0B\n"
    assert local.ok("images", "-q").out == short(busybox_layout.config_digest) + "\n"


# -- image inspect ---------------------------------------------------------------------------------

def test_image_inspect_prints_docker_s_json(local, busybox_layout):
    stored(local, busybox_layout, "ns/app:1")
    local.ok("tag", "ns/app:1", "ns/other:2")
    out = local.ok("image", "inspect", "ns/app:1").out
    assert out.startswith('[\n    {\n        "Id": ')
    [image] = json.loads(out)
    config = json.loads(busybox_layout.blob(busybox_layout.config_digest))
    assert image["Id"] == busybox_layout.config_digest
    assert image["RepoTags"] == [f"{REGISTRY}/ns/app:1", f"{REGISTRY}/ns/other:2"]
    assert image["RepoDigests"] == [f"{REGISTRY}/ns/app@{busybox_layout.digest}",
                                    f"{REGISTRY}/ns/other@{busybox_layout.digest}"]
    assert (image["Created"], image["Os"], image["Architecture"]) == (config["created"], "linux", "amd64")
    assert image["Config"]["Cmd"] == ["/bin/sh"] and image["Config"]["Env"] == ["PATH=/bin"]
    assert image["Config"]["Entrypoint"] is None and image["Config"]["User"] == ""
    assert image["RootFS"] == {"Type": "layers", "Layers": config["rootfs"]["diff_ids"]}
    assert image["Size"] == busybox_layout.size
    assert list(image)[:8] == ["Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "DockerVersion",
                               "Author"]


@pytest.mark.parametrize(("template", "expected"), [
    ("{{.Id}}", "{config}"),
    ("{{.Config.Cmd}}", "[/bin/sh]"),
    ("{{json .Config.Env}}", '["PATH=/bin"]'),
    ("{{.Os}}/{{.Architecture}}", "linux/amd64"),
    ("{{.Config.Entrypoint}}", "[]"),
    ("{{.Config.Labels}}", "map[]"),
    ("{{range .RepoTags}}{{.}} {{end}}", f"{REGISTRY}/ns/app:1 "),
    ("{{if .Config.Entrypoint}}entrypoint{{else}}cmd {{index .Config.Cmd 0}}{{end}}", "cmd /bin/sh"),
    ("{{.Size}} {{len .RootFS.Layers}} {{upper .Os}}", "{size} 1 LINUX"),
    ("{{json .RootFS}}", '{"Type":"layers","Layers":["{diff_id}"]}'),
])
def test_image_inspect_templates(local, busybox_layout, template, expected):
    stored(local, busybox_layout, "ns/app:1")
    diff_id = json.loads(busybox_layout.blob(busybox_layout.config_digest))["rootfs"]["diff_ids"][0]
    expected = expected.replace("{config}", busybox_layout.config_digest).replace(
        "{size}", str(busybox_layout.size)).replace("{diff_id}", diff_id)
    assert local.ok("image", "inspect", "-f", template, "ns/app:1").out == expected + "\n"


def test_image_inspect_errors(local, busybox_layout):
    stored(local, busybox_layout, "ns/app:1")
    missing = local.run("image", "inspect", "ns/nope:1")
    assert (missing.code, missing.out, missing.err) == (4, "[]\n", "Error: No such image: ns/nope:1\n")
    both = local.run("image", "inspect", "ns/app:1", "ns/nope:1")
    assert both.code == 4 and [i["Id"] for i in json.loads(both.out)] == [busybox_layout.config_digest]
    templated = local.run("image", "inspect", "-f", "{{.Id}}", "ns/nope:1", "ns/app:1")
    assert (templated.code, templated.out) == (4, busybox_layout.config_digest + "\n")
    bad = local.run("image", "inspect", "-f", "{{.Nope}}", "ns/app:1")
    assert (bad.code, bad.err) == (2, 'Error: template: executing "" at <.Nope>: map has no entry for key "Nope"\n')
    assert local.run("image", "inspect", "-f", "{{range .RepoTags}}", "ns/app:1").code == 2


# -- history ---------------------------------------------------------------------------------------

def test_history_rows_newest_first_like_docker(local, multi_layer_layout):
    stored(local, multi_layer_layout, "ns/layers:1")
    sizes = [human_size(layer["size"]) for layer in multi_layer_layout.manifest["layers"]]
    lines = local.ok("history", "ns/layers:1").out.splitlines()
    assert cells(lines[0]) == ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
    assert lines[0].startswith("IMAGE          CREATED   ")
    # umoci's history: repack (layer 1), config (empty), repack (layer 2), repack (layer 3); newest first.
    rows = [cells(line) for line in lines[1:]]
    assert [r[0] for r in rows] == [short(multi_layer_layout.config_digest)] + ["<missing>"] * 3
    assert [r[2:4] for r in rows] == [["umoci repack", sizes[2]], ["umoci repack", sizes[1]],
                                      ["umoci config", "0B"], ["umoci repack", sizes[0]]]
    assert all(AGO.fullmatch(r[1]) for r in rows), rows
    assert local.ok("history", "-q", "ns/layers:1").out.split() == [short(multi_layer_layout.config_digest)] + \
        ["<missing>"] * 3
    raw = [cells(line) for line in local.ok("history", "-H=false", "--no-trunc", "ns/layers:1").out.splitlines()[1:]]
    assert raw[0][0] == multi_layer_layout.config_digest
    assert raw[0][3] == str(multi_layer_layout.manifest["layers"][2]["size"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", raw[0][1])


def test_history_truncates_long_commands_and_formats(local):
    command = "/bin/sh -c apt-get update && apt-get install -y curl ca-certificates"
    hand_made(local, f"{REGISTRY}/ns/built:1", {"created": ago(3), "history": [
        {"created": ago(3 * 24 * 7), "created_by": command},
        {"created": ago(3), "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": True,
         "comment": "buildkit.dockerfile.v0"}]})
    rows = table(local.ok("history", "ns/built:1").out)
    assert rows[0][1:] == ["3 hours ago", '/bin/sh -c #(nop)  CMD ["sh"]', "0B", "buildkit.dockerfile.v0"]
    layer_size = human_size(len(gzip.compress(b"layer", mtime=0)))
    assert rows[1] == ["<missing>", "3 weeks ago", command[:44] + "…", layer_size, ""]
    assert local.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}", "ns/built:1").out.splitlines()[1] == \
        command
    assert local.run("history", "ns/nope:1").code == 4


# -- errors and help -------------------------------------------------------------------------------

def test_a_damaged_store_is_a_store_error(local):
    (local.home / "images").mkdir(parents=True)
    (local.home / "images" / "index.json").write_text("{not json")
    for args in (("images",), ("rmi", "ns/app:1"), ("image", "prune", "-f"), ("history", "ns/app:1")):
        result = local.run(*args)
        assert result.code == 7 and result.err.startswith("Error: ") and "index.json" in result.err, args


def test_a_name_without_registry_or_default_is_a_reference_error(berth):
    result = berth.run("rmi", "app:1")
    assert result.code == 6 and "names no registry" in result.err


@pytest.mark.parametrize("command", ["images", "tag", "rmi", "history", "image", "image inspect", "image prune",
                                     "image ls", "image rm", "image tag", "image history", "image import"])
def test_help_of_every_command(berth, command):
    result = berth.run_process(*command.split(), "--help")
    assert result.code == 0 and result.out.startswith(f"usage: berth {command}")
    flags = {"images": "--digests", "rmi": "--force", "history": "--no-trunc", "image inspect": "--format",
             "image prune": "--force", "image ls": "--quiet", "image rm": "--force", "image import": "--change"}
    assert flags.get(command, "usage") in result.out


def test_image_without_a_command_shows_its_commands(berth):
    result = berth.run("image")
    assert result.code == 2 and "inspect" in result.err and "prune" in result.err


def test_a_name_whose_blobs_are_missing_is_skipped_and_can_be_removed(local, busybox_layout):
    stored(local, busybox_layout, "ns/app:1")
    stored(local, busybox_layout, "ns/broken:1")
    local.ok("tag", "ns/app:1", "ns/app:2")
    store = ImageStore(local.home / "images")
    store.set_reference(f"{REGISTRY}/ns/broken:1", {"mediaType": mt.OCI_MANIFEST, "digest": f"sha256:{'1' * 64}",
                                                    "size": 2})
    listed = local.run("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert listed.code == 0 and listed.out.split() == [f"{REGISTRY}/ns/app:1", f"{REGISTRY}/ns/app:2"]
    assert listed.err.startswith(f"skipping {REGISTRY}/ns/broken:1: blob sha256:{'1' * 64} is missing")
    assert local.ok("rmi", "ns/broken:1").out == f"Untagged: {REGISTRY}/ns/broken:1\n"
    assert local.run("rmi", "ns/broken:1").code == 4


def test_a_name_opens_only_its_own_image_and_other_texts_look_at_all(local, monkeypatch):
    """`berth run` finds its image without reading every image of the store (find_image); ids and names it
    cannot resolve are looked up among all images, as the other commands do."""
    from cli.environment import Environment
    from cli.errors import NotFound
    from cli.local_images import find_image

    wanted = hand_made(local, f"{REGISTRY}/ns/wanted:1", {"os": "linux", "architecture": "amd64", "n": 1})
    other = hand_made(local, f"{REGISTRY}/ns/other:1", {"os": "linux", "architecture": "amd64", "n": 2})
    store, env = ImageStore(local.home / "images"), Environment(environ=local.environ)
    read: list[str] = []
    original = ImageStore.read_json
    monkeypatch.setattr(ImageStore, "read_json",
                        lambda self, digest: read.append(str(digest)) or original(self, digest))

    assert find_image(env, store, "ns/wanted:1").id == wanted
    assert len(read) == 2 and wanted in read  # its manifest and its config, nothing of ns/other
    read.clear()
    assert find_image(env, store, other.partition(":")[2][:12]).id == other  # a short id: every image
    assert len(read) == 4
    with pytest.raises(NotFound, match="No such image: ns/missing:1"):
        find_image(env, store, "ns/missing:1")
