"""Dockerfiles read as docker reads them: directives, continuations, comments, flags, variables and quotes,
.dockerignore patterns, and the config instructions' effect on an image config; here-documents, --chmod and
a context on stdin as BuildKit and docker/cli read them."""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from pathlib import Path

import pytest

from runtime.build import BuildError
from runtime.build.context import BuildContext, Ignore
from runtime.build.dockerfile import Instruction, chmod_mode, parse
from runtime.build.heredoc import Heredoc, marker, markers, raw_words, shell_text
from runtime.build.settings import apply, duration
from runtime.build.stdin_context import is_archive
from runtime.build.words import expand_raw, pairs, words


def test_directives_continuations_comments_and_flags() -> None:
    dockerfile = parse("# syntax=docker/dockerfile:1\n# escape=`\n\nFROM base AS build\n# a comment\n"
                       "RUN echo a `\n  # dropped inside a continuation\n\n  && echo b\n"
                       "COPY --from=build --chown=1:2 [\"a b\", \"/c/\"]\nHEALTHCHECK --interval=5s CMD true\n")
    assert dockerfile.escape == "`"
    found = [(i.keyword, i.text, i.flags, i.line) for i in dockerfile.instructions]
    assert found == [("FROM", "base AS build", {}, 4), ("RUN", "echo a   && echo b", {}, 6),
                     ("COPY", '["a b", "/c/"]', {"from": "build", "chown": "1:2"}, 10),
                     ("HEALTHCHECK", "CMD true", {"interval": "5s"}, 11)]
    assert dockerfile.instructions[2].json_form() == ["a b", "/c/"]
    assert parse("from busybox\nrun true\n").instructions[1].keyword == "RUN"  # keywords in any case
    with pytest.raises(BuildError, match="line 2: unknown instruction: FROB"):
        parse("FROM busybox\nFROB x\n")
    with pytest.raises(BuildError, match="cannot be empty"):
        parse("# only a comment\n")


def test_words_quotes_and_variables() -> None:
    env = {"A": "x y", "B": "b"}
    assert words("a $A \"$A q\" '$A' ${B:-d} ${C:-d} ${B:+alt} ${C:+alt}z \\$B", env) == \
        ["a", "x y", "x y q", "$A", "b", "d", "alt", "z", "$B"]
    assert pairs("ENV", 'K="v 1" L=$B', env) == [("K", "v 1"), ("L", "b")]
    assert pairs("ENV", "K some words $B", env) == [("K", "some words b")]  # the old form
    assert pairs("ARG", "V", env) == [("V", "")]
    with pytest.raises(BuildError, match="can't find ="):
        pairs("LABEL", "a=1 b", env)
    with pytest.raises(BuildError, match="matching"):
        words("'open", env)


def test_dockerignore_patterns(tmp_path: Path) -> None:
    ignore = Ignore(["*.log", "build", "**/secret*", "!keep.log", "docs/*/draft.md"])
    assert [name for name in ("a.log", "keep.log", "build/x/y", "src/deep/secret.txt", "secret",
                              "docs/en/draft.md", "docs/draft.md", "src/a.log") if ignore.excludes(name)] == \
        ["a.log", "build/x/y", "src/deep/secret.txt", "secret", "docs/en/draft.md"]
    (tmp_path / ".dockerignore").write_text("# comment\n*.tmp\nsub/\n")
    for name in ("a.txt", "b.tmp", "sub/c.txt", "other/d.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(name)
    context = BuildContext(tmp_path)
    assert context.names() == [".dockerignore", "a.txt", "other", "other/d.txt"]
    assert [s.name for s in context.sources("*.txt")] == ["a.txt"]
    with pytest.raises(BuildError, match="excluded by .dockerignore"):
        context.sources("b.tmp")
    assert context.sources("../../a.txt")[0].path == tmp_path.resolve() / "a.txt"  # never outside the context


def test_config_instructions() -> None:
    config: dict = {"config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]}}

    def run(line: str, cmd_set: bool = False) -> None:
        apply(parse(line).instructions[0], config, {"V": "1"}, "\\", cmd_set)

    run("ENV A=$V B=${A}x")
    run("WORKDIR /app")
    run("WORKDIR sub")
    run("ENTRYPOINT python run.py")
    run("EXPOSE 80 53/udp 8000-8001")
    run("HEALTHCHECK --timeout=1m30s --retries=2 CMD [\"check\"]")
    run("LABEL a=b")
    settings = config["config"]
    assert settings["Env"] == ["PATH=/bin", "A=1", "B=x"]  # words see the values from before the instruction
    assert settings["WorkingDir"] == "/app/sub"
    assert settings["Entrypoint"] == ["/bin/sh", "-c", "python run.py"] and settings["Cmd"] is None
    assert set(settings["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert settings["Healthcheck"] == {"Test": ["CMD", "check"], "Timeout": 90_000_000_000, "Retries": 2}
    assert duration("interval", "500ms") == 500_000_000
    with pytest.raises(BuildError, match="JSON form"):
        apply(Instruction("SHELL", "/bin/bash -c"), config, {}, "\\", False)


def test_here_documents_are_read_into_their_instruction() -> None:
    dockerfile = parse("FROM base\n"
                       "RUN <<EOF\necho a\n# kept: a body has no comments\n\nEOF\n"
                       "COPY --chmod=755 <<one <<'two' <<-\"three\" /dir/\n1 $X\none\n2 $X\ntwo\n\t3\n\tthree\n"
                       "RUN cat <<EOF1 | tr a b; \\\n    cat 3<<  EOF2\nx\nEOF1\ny\nEOF2\n"
                       'RUN ["sh", "-c", "cat <<EOF"]\n'
                       "ONBUILD RUN <<EOF\necho later\nEOF\n")
    run, copy, complex_, exec_form, onbuild = dockerfile.instructions[1:6]
    assert (run.line, run.heredocs) == (2, (Heredoc("EOF", True, False, 0, "echo a\n# kept: a body has no comments\n"
                                                                           "\n"),))
    assert run.original == "RUN <<EOF (echo a...)"  # BuildKit's summary of the body
    assert (copy.line, copy.text, copy.flags) == (7, "<<one <<'two' <<-\"three\" /dir/", {"chmod": "755"})
    assert copy.heredocs == (Heredoc("one", True, False, 0, "1 $X\n"), Heredoc("two", False, False, 0, "2 $X\n"),
                             Heredoc("three", False, True, 0, "\t3\n"))
    assert copy.heredocs[2].body == "3\n"  # <<- strips leading tabs, from the body and the terminator
    assert complex_.line == 14 and [(h.name, h.descriptor, h.content) for h in complex_.heredocs] == \
        [("EOF1", 0, "x\n"), ("EOF2", 3, "y\n")]
    assert exec_form.heredocs == ()  # the exec form has no here-documents
    assert onbuild.heredocs[0].content == "echo later\n"
    with pytest.raises(BuildError, match="^dockerfile parse error line 9: unknown instruction: FROB$"):
        parse("FROM base\nRUN <<EOF\na\nEOF\nCOPY <<A <<B /\nA\nb\nB\nFROB\n")  # the bodies' lines count
    with pytest.raises(BuildError, match="^dockerfile parse error line 2: unterminated heredoc$"):
        parse("FROM base\nCOPY <<A <<B /\na\nA\nb\n")


def test_here_document_markers() -> None:
    assert raw_words("RUN a 'b c' \"d\\\" e\" f\\ g << EOF") == ["RUN", "a", "'b c'", '"d\\" e"', "f\\ g", "<< EOF"]
    assert marker("<<EOF") == Heredoc("EOF", True, False)
    assert marker("<<-'EOF'") == Heredoc("EOF", False, True)
    assert marker('<<"E"OF') == Heredoc("EOF", False, False)
    assert marker("3<<IN") == Heredoc("IN", True, False, 3)
    assert marker("<<'one two'") == Heredoc("one two", False, False)
    for word in ("<<", "<<''", "cat<<EOF", "x<<EOF", "$((1<<2))"):
        assert marker(word) is None
    assert [h.name for h in markers("RUN echo $((1<<2)) <<one two")] == ["one"]


def test_what_a_run_gives_the_shell() -> None:
    def run(text: str) -> tuple[str, Heredoc | None]:
        instruction = parse(f"FROM base\nRUN {text}").instructions[1]
        return shell_text(instruction.text, instruction.heredocs)

    assert run("echo plain") == ("echo plain", None)
    assert run("<<EOF\necho $HOME\nEOF") == ("echo $HOME\n", None)  # the body is the script; the shell expands
    assert run("<<-EOF\n\techo a\n\tEOF") == ("echo a\n", None)
    text, script = run("<<'EOF'\n#!/usr/bin/env python3\nprint(1)\nEOF")
    assert (text, script and script.body) == ("/dev/pipes/EOF", "#!/usr/bin/env python3\nprint(1)\n")
    assert run("cat <<EOF > /f\n$x\nEOF") == ("cat <<EOF > /f\n$x\nEOF", None)  # the shell reads it itself


def test_chmod_flags() -> None:
    assert chmod_mode("755", 1) == 0o755 and chmod_mode("0644", 1) == 0o644 and chmod_mode("7777", 1) == 0o7777
    assert chmod_mode("", 1) is None  # BuildKit: an empty --chmod is none
    for bad in ("64a", "10000", "0o755", "+x", "u+x", " 755"):
        expected = f"^dockerfile parse error line 3: invalid chmod parameter: '{re.escape(bad)}'. it should be"
        with pytest.raises(BuildError, match=expected):
            chmod_mode(bad, 3)
    with pytest.raises(BuildError, match="line 2: invalid chmod parameter: '9'"):
        parse("FROM base\nADD --chmod=9 a /\n")
    assert parse("FROM base\nCOPY --chmod=$MODE a /\n").instructions[1].flags == {"chmod": "$MODE"}  # at its step
    with pytest.raises(BuildError, match="^dockerfile parse error line 2: missing a value on flag: chown$"):
        parse("FROM base\nCOPY --chown a /\n")


def test_here_document_bodies_expand_the_raw_way() -> None:
    env = {"name": "world", "EMPTY": ""}
    assert expand_raw("Hi ${name} '$name' \"$name\" $UNSET ${UNSET:-d} ${#list[@]} \\$name \\\\ $EMPTY.\n", env) == \
        "Hi world 'world' \"world\" $UNSET ${UNSET:-d} ${#list[@]} $name \\ .\n"


def test_stdin_is_told_apart_as_docker_tells_it() -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("empty"))
    assert is_archive(archive.getvalue()[:1024])
    assert is_archive(gzip.compress(b"anything")) and is_archive(b"BZh91AY") and is_archive(b"\x28\xb5\x2f\xfd")
    assert not is_archive(b"FROM busybox\nRUN true\n" * 100)
    assert not is_archive(b"\0" * 1024)  # Go's tar reader: an empty archive is io.EOF, so a Dockerfile
    assert not is_archive(b"")
