"""`berth build` with the newer Dockerfile syntax and inputs: COPY/ADD --chmod (modes, the directories a copy
makes, the cache key), here-documents (RUN scripts, #! interpreters, COPY files), and the context or the
Dockerfile on stdin (`berth build -`, `-f -`), hostile context tars included."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from cli.__main__ import main
from cli.environment import Environment
from tests.cli.conftest import Berth, Result
from tests.containers.test_build import make_context, steps_from_cache


def build_with_stdin(berth: Berth, data: bytes, *args: str) -> Result:
    """`berth build ARGS` with `data` as its (binary) stdin, as `berth build - < context.tar` gives it."""
    out, err = io.StringIO(), io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO(data))
    code = main(["build", *args], Environment(stdin=stdin, stdout=out, stderr=err, environ=berth.environ))
    return Result(code, out.getvalue(), err.getvalue())


def in_image(berth: Berth, image: str, script: str) -> list[str]:
    return berth.ok("run", "--rm", image, "sh", "-c", script).out.splitlines()


def test_copy_chmod_sets_files_and_the_directories_it_makes(berth: Berth, busybox: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "context", f"FROM {busybox}\nARG MODE=0640\n"
                                                 "COPY --chmod=755 app.txt /made/run.sh\n"
                                                 "COPY --chmod=0600 app.txt /closed/deep/secret\n"
                                                 "COPY --chmod=751 dir /tree/\n"
                                                 "COPY --chmod=$MODE --chown=1000:2000 app.txt /from-arg\n"
                                                 "ADD --chmod=700 app.txt archive.tar.gz /added/\n"
                                                 "COPY --chmod=4755 app.txt /setuid\n"
                                                 "COPY --chmod= app.txt dir/g /plain/\n")
    (context / "app.txt").chmod(0o664)
    image = "127.0.0.1:5000/built/chmod:1"
    berth.ok("build", "-t", image, str(context))
    found = in_image(berth, image, "cd / && stat -c '%a %u:%g %n' made made/run.sh closed closed/deep "
                                   "closed/deep/secret tree tree/g tree/sub tree/sub/f from-arg added added/app.txt "
                                   "added/inner added/inner/file setuid plain/app.txt plain/g")
    assert found == ["755 0:0 made", "755 0:0 made/run.sh",  # a directory the copy made gets the mode too
                     "600 0:0 closed", "600 0:0 closed/deep", "600 0:0 closed/deep/secret",
                     "751 0:0 tree", "751 0:0 tree/g", "751 0:0 tree/sub", "751 0:0 tree/sub/f",
                     "640 1000:2000 from-arg",  # ARG and ENV values expand in --chmod, as BuildKit's do
                     "700 0:0 added", "700 0:0 added/app.txt",
                     "755 0:0 added/inner", "644 7:8 added/inner/file",  # an unpacked tarball keeps its modes
                     "4755 0:0 setuid",  # set after the owner, which would clear it
                     "664 0:0 plain/app.txt", "644 0:0 plain/g"]  # an empty --chmod is none


def test_a_different_chmod_is_a_different_layer(berth: Berth, busybox: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "context")
    image = "127.0.0.1:5000/built/chmod-cache:1"

    def build(chmod: str) -> str:
        (context / "Dockerfile").write_text(f"FROM {busybox}\nCOPY {chmod} app.txt /app\n")
        return berth.ok("build", "-t", image, str(context)).out

    assert steps_from_cache(build("--chmod=755")) == 0
    assert steps_from_cache(build("--chmod=755")) == 1
    assert steps_from_cache(build("--chmod=700")) == 0
    assert in_image(berth, image, "stat -c %a /app") == ["700"]
    assert steps_from_cache(build("")) == 0  # no --chmod: the context file's own mode, not a cached 700
    assert steps_from_cache(build("--chmod=755")) == 1
    assert in_image(berth, image, "stat -c %a /app") == ["755"]


def test_malformed_chmod_is_refused_naming_its_line(berth: Berth, busybox: str, tmp_path: Path) -> None:
    def build(dockerfile: str) -> Result:
        return berth.run("build", str(make_context(tmp_path / f"c{len(dockerfile)}", dockerfile)))

    invalid = "invalid chmod parameter: '{}'. it should be octal string and between 0 and 07777\n"
    for mode in ("64a", "10000", "u+x", "-755"):
        result = build(f"FROM {busybox}\nRUN touch /ran\n\nCOPY --chmod={mode} app.txt /\n")
        assert (result.code, result.err) == (1, "Error: dockerfile parse error line 4: " + invalid.format(mode))
        assert "Step" not in result.out  # refused before any step ran
    result = build(f"FROM {busybox}\nARG MODE=8\nCOPY --chmod=${{MODE}} app.txt /\n")
    assert (result.code, result.err) == (1, "Error: dockerfile parse error line 3: " + invalid.format("8"))
    result = build(f"FROM {busybox}\nCOPY --chmod app.txt /\n")
    assert (result.code, result.err) == (1, "Error: dockerfile parse error line 2: missing a value on flag: chmod\n")
    assert berth.ok("images", "-q").out.count("\n") == 1  # busybox alone: nothing was tagged or left


HEREDOCS = """\
FROM {busybox}
ARG name=world
ENV GREETING=hello
RUN mkdir /out && mkdir -m 777 /out/user
RUN <<EOF
echo "i am" > /out/plain
id -u >> /out/plain
EOF
RUN <<-EOF
\techo "\tbar" > /out/chomped
\tEOF
RUN <<'EOF'
echo "$GREETING ${{name}}" > /out/quoted-run
EOF
RUN <<EOF
#!/bin/sh
echo "run as $0" > /out/shebang
EOF
RUN <<EOF
#!/bin/cat
printed by cat, not run by a shell
EOF
RUN cat <<EOF1 > /out/complex1 && cat <<'EOF2' > /out/complex2
a $GREETING
EOF1
b $GREETING
EOF2
COPY <<EOF /out/copied
Hello ${{name}} from $GREETING; $UNSET and ${{UNSET:-x}} stay, \\$escaped, 'quotes' "too"
EOF
COPY <<"EOF" /out/copied-raw
Hello ${{name}} \\$
EOF
COPY --chmod=750 --chown=1000:2000 <<A <<B /out/docs/
first
A
second
B
USER 1000
RUN <<EOF
#!/bin/sh
echo "script run by $(id -u)" > /out/user/id
EOF
CMD ["cat", "/out/plain"]
"""


def test_here_documents_run_and_become_files(berth: Berth, busybox: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "context", HEREDOCS.format(busybox=busybox))
    image = "127.0.0.1:5000/built/heredoc:1"
    out = berth.ok("build", "-t", image, str(context)).out
    assert 'Step 5/16 : RUN <<EOF (echo "i am" > /out/plain...)' in out
    assert "#!/bin/cat\nprinted by cat, not run by a shell\n" in out  # the `#!` line picked the interpreter
    assert berth.ok("run", "--rm", image).out == "i am\n0\n"
    files = "chomped quoted-run shebang complex1 complex2 copied copied-raw docs/A docs/B user/id"
    assert in_image(berth, image, f"cd /out && cat {files}; stat -c '%a %u:%g %n' copied docs/A docs/B; "
                                  "ls /dev/pipes 2>&1; true") == [
        "\tbar",  # <<- strips the tabs that lead a line, not those inside it
        "hello world",  # a RUN body is the shell's: it expands what it likes, quoted marker or not
        "run as /dev/pipes/EOF",
        "a hello", "b $GREETING",  # a here-document the shell reads itself: its own quoting rules
        "Hello world from hello; $UNSET and ${UNSET:-x} stay, $escaped, 'quotes' \"too\"",
        "Hello ${name} \\$",
        "first", "second", "script run by 1000",  # another USER runs a `#!` body too
        "644 0:0 copied", "750 1000:2000 docs/A", "750 1000:2000 docs/B",
        "ls: /dev/pipes: No such file or directory"]  # the script was mounted for its step only

    again = berth.ok("build", "-t", image, str(context)).out
    assert steps_from_cache(again) == 14  # all but FROM and ARG
    (context / "Dockerfile").write_text(HEREDOCS.format(busybox=busybox).replace("run as", "ran as"))
    changed = berth.ok("build", "-t", image, str(context)).out
    assert steps_from_cache(changed) == 5  # a `#!` body is not in the command line, but it is in the key
    assert in_image(berth, image, "cat /out/shebang") == ["ran as /dev/pipes/EOF"]


def test_here_document_refusals(berth: Berth, busybox: str, tmp_path: Path) -> None:
    def build(dockerfile: str) -> Result:
        return berth.run("build", str(make_context(tmp_path / f"c{len(dockerfile)}", dockerfile)))

    assert build(f"FROM {busybox}\nRUN <<EOF\necho never ends\n") == \
        Result(1, "", "Error: dockerfile parse error line 2: unterminated heredoc\n")
    assert build(f"FROM {busybox}\nCOPY <<EOF\nbody\nEOF\n\nFROB x\n") == \
        Result(1, "", "Error: dockerfile parse error line 6: unknown instruction: FROB\n")  # lines still counted
    result = build(f"FROM {busybox}\nCOPY app.txt <<EOF\nbody\nEOF\n")
    assert (result.code, result.err) == (1, "Error: dockerfile parse error line 2: COPY cannot accept a heredoc "
                                            "as a destination\n")


def context_tar(files: dict[str, bytes | str | None], compression: str = "") -> bytes:
    """A build context as a tar (`compression`: "", "gz", "bz2" or "xz"): name -> content, a str being a
    symlink target, None a directory."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode=f"w:{compression}") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
            else:
                info.size, info.mode = len(content), 0o644
            tar.addfile(info, io.BytesIO(content) if isinstance(content, bytes) else None)
    return archive.getvalue()


def test_context_and_dockerfile_from_stdin(berth: Berth, busybox: str, tmp_path: Path) -> None:
    image = "127.0.0.1:5000/built/stdin:1"
    dockerfile = f"FROM {busybox}\nCOPY . /ctx/\nRUN ls /ctx > /listing\nCMD [\"cat\", \"/listing\"]\n"
    for compression in ("", "gz", "bz2", "xz"):
        tar = context_tar({"Dockerfile": dockerfile.encode(), "app.txt": b"app\n", "sub/": None,
                           "sub/f": b"f\n", ".dockerignore": b"secret\n", "secret": b"left out\n"}, compression)
        result = build_with_stdin(berth, tar, "-t", image, "-")
        assert result.code == 0, result.err
        assert berth.ok("run", "--rm", image).out == "Dockerfile\napp.txt\nsub\n"
    alternative = context_tar({"build/Dockerfile.alt": f"FROM {busybox}\nCOPY app.txt /\n".encode(),
                               "app.txt": b"from -f\n"}, "gz")
    assert build_with_stdin(berth, alternative, "-t", image, "-f", "build/Dockerfile.alt", "-").code == 0
    assert berth.ok("run", "--rm", image, "cat", "/app.txt").out == "from -f\n"
    # A context's .wh.NAME is a file, as docker keeps it (an image cannot hold one: in a layer it is a whiteout)
    whiteout_named = context_tar({"Dockerfile": f"FROM {busybox}\nCOPY .wh.app.txt /renamed\nCOPY app.txt /\n".encode(),
                                  "app.txt": b"app\n", ".wh.app.txt": b"a file, not a whiteout\n"})
    assert build_with_stdin(berth, whiteout_named, "-t", image, "-").code == 0
    assert berth.ok("run", "--rm", image, "cat", "/renamed", "/app.txt").out == "a file, not a whiteout\napp\n"

    alone = berth.run("build", "-t", image, "-", stdin=f"FROM {busybox}\nRUN echo from stdin > /made\n")
    assert alone.code == 0, alone.err
    assert berth.ok("run", "--rm", image, "cat", "/made").out == "from stdin\n"
    context = make_context(tmp_path / "context")
    file_dash = berth.run("build", "-t", image, "-f", "-", str(context), stdin=f"FROM {busybox}\nCOPY app.txt /\n")
    assert file_dash.code == 0, file_dash.err
    assert berth.ok("run", "--rm", image, "cat", "/app.txt").out == "app-content\n"
    assert list((berth.home / "build").glob("context-*")) == []  # the unpacked contexts are gone


def test_stdin_refusals(berth: Berth, busybox: str, tmp_path: Path) -> None:
    copy = f"FROM {busybox}\nCOPY app.txt /\n"
    alone = berth.run("build", "-", stdin=copy)  # a Dockerfile alone: an empty context, nothing to copy
    assert (alone.code, alone.err) == (1, "Error: COPY failed: file not found in build context or excluded by "
                                          ".dockerignore: stat app.txt: file does not exist\n")
    assert alone.out.endswith("Step 2/2 : COPY app.txt /\n")
    assert berth.run("build", "-f", "-", "-", stdin=copy) == \
        Result(1, "", "Error: invalid argument: can't use stdin for both build context and dockerfile\n")
    assert berth.run("build", "-f", "Dockerfile.dev", "-", stdin=copy) == \
        Result(1, "", "Error: unable to prepare context: ambiguous Dockerfile source: both stdin and flag "
                      "correspond to Dockerfiles\n")
    assert build_with_stdin(berth, context_tar({"app.txt": b"x"}), "-") == \
        Result(1, "", "Error: Cannot locate specified Dockerfile: Dockerfile\n")
    assert build_with_stdin(berth, context_tar({"Dockerfile": copy.encode()}, "gz")[:40], "-").code == 1


def crafted_tar(*entries: tuple[str, bytes | str, str]) -> bytes:
    """A tar of (name, content, kind) entries, kind one of file, symlink, hardlink, chr, blk, fifo: what a
    hostile context holds."""
    kinds = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE,
             "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, content, kind in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                assert isinstance(content, bytes)
                info.size, info.mode = len(content), 0o644
                tar.addfile(info, io.BytesIO(content))
                continue
            info.type = kinds[kind]
            if kind in ("symlink", "hardlink"):
                info.linkname = str(content)
            elif kind in ("chr", "blk"):
                info.devmajor, info.devminor = (1, 3) if kind == "chr" else (8, 0)
            tar.addfile(info)
    return archive.getvalue()


def test_hostile_context_tars_stay_in_their_scratch_directory(berth: Berth, busybox: str, tmp_path: Path) -> None:
    outside, secret = tmp_path / "outside", tmp_path / "secret.txt"
    outside.mkdir()
    secret.write_text("host secret\n")
    token = tmp_path.name  # unique to this test, so a stray file would be this test's doing
    image = "127.0.0.1:5000/built/hostile:1"

    def build(dockerfile: str, *entries: tuple[str, bytes | str, str]) -> Result:
        return build_with_stdin(berth, crafted_tar(("Dockerfile", dockerfile.encode(), "file"), *entries),
                                "-t", image, "-")

    copy_all = f"FROM {busybox}\nCOPY . /ctx/\n"
    refused = {f"../../escape-{token}": "an entry outside its root",
               f"out/pwned-{token}": "writes under 'out' through a symlink",
               "hard": f"points at {str(secret)!r}, which the context does not hold"}
    for name, reason in refused.items():
        result = build(copy_all, ("out", str(outside), "symlink"),
                       (name, str(secret), "hardlink") if name == "hard" else (name, b"x", "file"))
        assert (result.code, result.out) == (1, "") and result.err.startswith("Error: unable to prepare context: ")
        assert reason in result.err and result.err.count("\n") == 1
    assert list(outside.iterdir()) == [] and secret.read_text() == "host secret\n"
    assert not list(tmp_path.parent.glob(f"**/escape-{token}")) and not list(Path("/").glob(f"*{token}*"))

    absolute = build(f"FROM {busybox}\nCOPY abs-{token} /abs\n", (f"/abs-{token}", b"inside\n", "file"))
    assert absolute.code == 0, absolute.err  # an absolute name is taken as relative, as tar takes it
    assert berth.ok("run", "--rm", image, "cat", "/abs").out == "inside\n" and not Path(f"/abs-{token}").exists()
    leak = build(f"FROM {busybox}\nCOPY leak /leak\n", ("leak", str(secret), "symlink"))
    assert leak.code == 1 and "leak is a dangling symlink in the build context" in leak.err
    host_dockerfile = make_context(tmp_path / "context") / "Dockerfile"  # where the context's link points
    linked = build_with_stdin(berth, crafted_tar(("Dockerfile", str(host_dockerfile), "symlink")), "-")
    assert linked == Result(1, "", "Error: Cannot locate specified Dockerfile: Dockerfile\n")

    devices = build(copy_all, ("devs/null", "", "chr"), ("devs/disk", "", "blk"), ("devs/pipe", "", "fifo"),
                    ("devs/file", b"kept\n", "file"))
    assert devices.code == 0, devices.err  # device nodes are never made; a fifo is made but never copied
    assert berth.ok("run", "--rm", image, "ls", "/ctx/devs").out == "file\n"
    assert list((berth.home / "build").glob("context-*")) == []
