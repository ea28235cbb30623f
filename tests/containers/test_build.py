"""`berth build` as a user runs it: a multi-stage Dockerfile with most instructions, the cache, build args,
--target, failures that tag nothing, and a built image pushed to a registry and pulled back."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from tests.cli.conftest import Berth
from tests.support.registry_process import RegistryProcess

APP = "127.0.0.1:5000/built/app:1"

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE=127.0.0.1:5000/test/busybox:1
FROM ${BASE} AS builder
ARG GREETING=hello
ENV OUT=/out \\
    MODE="two words"
WORKDIR /src
COPY app.txt ./
COPY dir/ /src/dir/
RUN echo "$GREETING from build, $MODE" > $OUT && cat app.txt >> $OUT && ls /src/dir >> $OUT

FROM ${BASE}
COPY --from=builder /out /result.txt
COPY --chown=1000:2000 *.txt /globbed/
ADD archive.tar.gz /unpacked/
SHELL ["/bin/sh", "-ec"]
RUN ["sh", "-c", "echo exec form > /exec.txt"]
RUN rm /bin/hostname; mkdir -p /var/data
LABEL org.example.stage=final "quoted key"="a value"
EXPOSE 8080/tcp 53/udp
VOLUME /var/data
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s --retries=3 CMD wget -q -O- http://127.0.0.1/ || exit 1
USER 0
ENTRYPOINT ["cat"]
CMD ["/result.txt"]
"""


def make_context(root: Path, dockerfile: str = DOCKERFILE) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    (root / "app.txt").write_text("app-content\n")
    (root / "secret.txt").write_text("left out\n")
    (root / ".dockerignore").write_text("# not sent\nsecret.txt\n")
    (root / "dir" / "sub").mkdir(parents=True, exist_ok=True)
    (root / "dir" / "sub" / "f").write_text("f\n")
    (root / "dir" / "g").write_text("g\n")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = b"inside\n"
        info = tarfile.TarInfo("inner/file")
        info.size, info.uid, info.gid = len(data), 7, 8
        tar.addfile(info, io.BytesIO(data))
    (root / "archive.tar.gz").write_bytes(archive.getvalue())
    return root


def steps_from_cache(output: str) -> int:
    return output.count(" ---> Using cache")


def test_multi_stage_build_runs_and_caches(berth: Berth, busybox: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "context")
    first = berth.ok("build", "-t", APP, "--label", "built.by=test", str(context)).out
    assert "Step 1/24 : ARG BASE=127.0.0.1:5000/test/busybox:1" in first
    assert "Step 8/24 : RUN echo" in first and " ---> Running in " in first
    image_id = first.splitlines()[-2].removeprefix("Successfully built ")
    assert first.splitlines()[-1] == f"Successfully tagged {APP}"
    assert berth.ok("run", "--rm", APP).out == "hello from build, two words\napp-content\ng\nsub\n"
    out = berth.ok("run", "--rm", "--entrypoint", "sh", APP, "-c",
                   "stat -c '%u:%g %n' /globbed/*; stat -c '%u:%g' /unpacked/inner/file; cat /unpacked/inner/file; "
                   "cat /exec.txt; ls /bin/hostname 2>&1; true").out.splitlines()
    assert out[:5] == ["1000:2000 /globbed/app.txt", "7:8", "inside", "exec form", out[4]]  # .dockerignore: no secret
    assert "No such file" in out[4]
    config = json.loads(berth.ok("image", "inspect", APP).out)[0]["Config"]
    assert config["Labels"] == {"org.example.stage": "final", "quoted key": "a value", "built.by": "test"}
    assert set(config["ExposedPorts"]) == {"8080/tcp", "53/udp"} and config["Volumes"] == {"/var/data": {}}
    assert (config["StopSignal"], config["User"], config["Entrypoint"], config["Cmd"]) == \
        ("SIGQUIT", "0", ["cat"], ["/result.txt"])
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q -O- http://127.0.0.1/ || exit 1"],
                                     "Interval": 30_000_000_000, "Retries": 3}
    assert config["Shell"] == ["/bin/sh", "-ec"] and "OUT=/out" not in config["Env"]  # the builder stage's ENV

    again = berth.ok("build", "-t", APP, "--label", "built.by=test", str(context)).out
    assert steps_from_cache(again) == 20 and " ---> Running in " not in again  # every step but FROM and ARG
    assert again.splitlines()[-2] == f"Successfully built {image_id}"  # the same image
    (context / "app.txt").write_text("changed\n")
    changed = berth.ok("build", "-t", APP, str(context)).out
    assert steps_from_cache(changed) == 2  # ENV, WORKDIR; then COPY app.txt is new (and so is all after it)
    other_args = berth.ok("build", "-t", APP, "--build-arg", "GREETING=hi", "--build-arg", "UNUSED=1",
                          str(context)).out
    assert steps_from_cache(other_args) == 0  # the stage's args are in every key
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in other_args
    assert berth.ok("run", "--rm", APP).out.startswith("hi from build, two words\nchanged\n")
    fresh = berth.ok("build", "-q", "--no-cache", "--target", "builder", str(context)).out
    assert fresh.startswith("sha256:") and len(fresh.strip()) == 71  # -q: the id alone
    assert berth.ok("run", "--rm", fresh.strip()[7:19], "cat", "/out").out.startswith("hello from build")
    assert berth.ok("ps", "-aq").out == ""  # no intermediate container left


def test_failed_builds_say_why_and_tag_nothing(berth: Berth, busybox: str, tmp_path: Path) -> None:
    def build(dockerfile: str) -> tuple[int, str]:
        context = make_context(tmp_path / f"context{len(dockerfile)}", dockerfile)
        result = berth.run("build", "-t", "127.0.0.1:5000/built/broken:1", str(context))
        return result.code, result.err

    base = f"FROM {busybox}\n"
    assert build(base + "RUN true\nFROB the knob\n") == (1, "Error: dockerfile parse error line 3: unknown "
                                                            "instruction: FROB\n")
    assert build(base + "RUN echo a > /a\nRUN false\n") == (
        1, "Error: The command '/bin/sh -c false' returned a non-zero code: 1\n")
    code, err = build(base + "COPY missing.txt /\n")
    assert code == 1 and "missing.txt: file does not exist" in err and err.count("\n") == 1
    code, err = build(base + "COPY secret.txt /\n")  # excluded by .dockerignore
    assert code == 1 and "excluded by .dockerignore" in err
    code, err = build(base + "ADD http://example.com/file /\n")
    assert code == 1 and "remote URLs are not supported" in err
    code, err = build(base + "COPY --from=nowhere /x /\n")
    assert code == 1 and "nowhere" in err
    assert "broken" not in berth.ok("images").out
    assert berth.ok("ps", "-aq").out == ""


def test_built_image_pushed_and_pulled_back(berth: Berth, busybox: str, open_registry: RegistryProcess,
                                            tmp_path: Path) -> None:
    name = f"{open_registry.host}/built/multi:1"
    context = make_context(tmp_path / "context", f"FROM {busybox} AS one\nRUN echo built > /one\n"
                                                 f"FROM {busybox}\nCOPY --from=one /one /copied\n"
                                                 'CMD ["cat", "/copied"]\n')
    berth.ok("build", "-t", name, str(context))
    berth.ok("push", name)
    berth.ok("rmi", name)
    assert name not in berth.ok("images").out
    berth.ok("pull", name)
    assert berth.ok("run", "--rm", name).out == "built\n"


def test_scratch_onbuild_and_escape_directive(berth: Berth, busybox: str, tmp_path: Path) -> None:
    scratch = make_context(tmp_path / "scratch", "# escape=`\n"
                                                 "FROM scratch\n"
                                                 f"COPY --from={busybox} /bin/busybox `\n"
                                                 "   /bin/busybox\n"
                                                 'CMD ["/bin/busybox", "echo", "from scratch"]\n')
    berth.ok("build", "-t", "127.0.0.1:5000/built/scratch:1", str(scratch))
    assert berth.ok("run", "--rm", "127.0.0.1:5000/built/scratch:1").out == "from scratch\n"
    assert berth.ok("run", "--rm", "127.0.0.1:5000/built/scratch:1", "/bin/busybox", "ls", "/").out.split() == \
        ["bin", "dev", "etc", "proc", "sys"]  # the runtime's mount points, not a layer's

    parent = make_context(tmp_path / "parent", f"FROM {busybox}\nONBUILD COPY app.txt /from-trigger\n"
                                               "ONBUILD RUN echo triggered > /t\n")
    berth.ok("build", "-t", "127.0.0.1:5000/built/parent:1", str(parent))
    assert berth.run("run", "--rm", "127.0.0.1:5000/built/parent:1", "ls", "/t").code != 0  # not run in the parent
    child = make_context(tmp_path / "child", "FROM 127.0.0.1:5000/built/parent:1\n")
    out = berth.ok("build", "-t", "127.0.0.1:5000/built/child:1", str(child)).out
    assert "# Executing 2 build triggers" in out
    assert berth.ok("run", "--rm", "127.0.0.1:5000/built/child:1", "cat", "/t", "/from-trigger").out == \
        "triggered\napp-content\n"
    config = json.loads(berth.ok("image", "inspect", "127.0.0.1:5000/built/child:1").out)[0]["Config"]
    assert not config.get("OnBuild")  # triggers run once, in the first child


def test_symlinks_never_lead_onto_the_host(berth: Berth, busybox: str, tmp_path: Path) -> None:
    host_dir, outside = tmp_path / "host-dir", tmp_path / "outside.txt"
    host_dir.mkdir()
    outside.write_text("host secret\n")
    context = make_context(tmp_path / "context", f"FROM {busybox}\nRUN ln -s {host_dir} /danger\n"
                                                 "COPY app.txt /danger/\nCOPY dir /danger/../../escaped/\n")
    berth.ok("build", "-t", "127.0.0.1:5000/built/links:1", str(context))
    assert list(host_dir.iterdir()) == []  # the image's absolute symlink led inside the image
    out = berth.ok("run", "--rm", "127.0.0.1:5000/built/links:1", "sh", "-c",
                   f"cat {host_dir}/app.txt; ls /escaped").out
    assert out == "app-content\ng\nsub\n"
    (context / "link").symlink_to(outside)
    (context / "Dockerfile").write_text(f"FROM {busybox}\nCOPY link /copied\n")
    failed = berth.run("build", "-t", "127.0.0.1:5000/built/leak:1", str(context))
    assert failed.code == 1 and "dangling symlink" in failed.err  # the context's link points nowhere inside it
