"""Dockerfiles read as docker reads them: directives, continuations, comments, flags, variables and quotes,
.dockerignore patterns, and the config instructions' effect on an image config."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.build import BuildError
from runtime.build.context import BuildContext, Ignore
from runtime.build.dockerfile import Instruction, parse
from runtime.build.settings import apply, duration
from runtime.build.words import pairs, words


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
