"""The build: a Dockerfile's stages run in order, one step per instruction, each step's result cached, with
the classic builder's output ("Step 2/5 : RUN ...", " ---> Using cache", " ---> 3f4a2b1c9d0e").

A stage is an image state and the build args it declared. FROM starts one (from an image, `scratch` or an
earlier stage), ARG declares args (global ones before the first FROM serve FROM lines and later
redeclarations), RUN and COPY/ADD add layers, the rest change the config.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from registry.oci.digest import Digest

from ..commit import ImageState, image_id, timestamp
from ..containers import DEFAULT_PATH
from . import BuildError
from .cache import BuildCache, state_digest
from .context import BuildContext
from .copying import Document, plan, written_digest
from .dockerfile import Dockerfile, Instruction, chmod_mode, parse
from .heredoc import Heredoc, marker, raw_words, shell_text
from .settings import apply, command
from .steps import StepRunner
from .words import expand_raw, pairs, word, words


@dataclass
class BuildOptions:
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Stage:
    state: ImageState
    name: str | None
    args: dict[str, str] = field(default_factory=dict)
    cmd_set: bool = False  # CMD given in this stage (ENTRYPOINT then keeps it)


class Builder:
    def __init__(self, runner: StepRunner, cache: BuildCache, base_image: Callable[[str], ImageState],
                 say: Callable[[str], None], options: BuildOptions) -> None:
        self.runner, self.cache, self.base_image, self.say = runner, cache, base_image, say
        self.options = options
        self.stages: list[Stage] = []
        self.global_args: dict[str, str] = {}
        self.used_args: set[str] = set()
        self.escape = "\\"
        self.context: BuildContext | None = None

    def build(self, dockerfile: Dockerfile, context: BuildContext) -> ImageState:
        """Run every stage up to the target; the last one's image state."""
        self.escape, self.context = dockerfile.escape, context
        steps = self._steps(dockerfile.instructions)
        if self.options.labels:  # docker's classic builder adds --label as a last LABEL step
            text = " ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in self.options.labels.items())
            steps.append(Instruction("LABEL", text, original=f"LABEL {text}"))
        for number, instruction in enumerate(steps, 1):
            self.say(f"Step {number}/{len(steps)} : {instruction.original}")
            self.step(instruction)
            if self.stages:
                self.say(f" ---> {image_id(self.stages[-1].state).encoded[:12]}")
        if not self.stages:
            raise BuildError("no build stage in current context")
        unused = sorted(set(self.options.build_args) - self.used_args)
        if unused:
            self.say(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed")
        return self.stages[-1].state

    def _steps(self, instructions: list[Instruction]) -> list[Instruction]:
        """The instructions up to the end of the --target stage."""
        target = self.options.target
        if target is None:
            return list(instructions)
        for index, instruction in enumerate(instructions):
            if instruction.keyword == "FROM" and _stage_name(instruction.text) == target.lower():
                end = next((n for n in range(index + 1, len(instructions)) if instructions[n].keyword == "FROM"),
                           len(instructions))
                return instructions[:end]
        raise BuildError(f"failed to reach build target {target} in Dockerfile")

    def step(self, instruction: Instruction) -> None:
        keyword = instruction.keyword
        if keyword == "FROM":
            self._from(instruction)
            return
        if keyword == "ARG":
            self._arg(instruction)
            return
        if not self.stages:
            raise BuildError(f"Please provide a source image with `from` prior to {keyword.lower()}")
        stage = self.stages[-1]
        # The stage's build args are part of every step's cache key: they may change what the step makes.
        args = sorted(f"{k}={v}" for k, v in stage.args.items())
        with_args = f"|{len(args)} {' '.join(args)} " if args else ""
        if keyword == "RUN":
            text, script = shell_text(instruction.text, instruction.heredocs)
            argv = command(instruction, stage.state.settings, text)
            shown = with_args + " ".join(argv)
            bodies = "".join(f"{h.name}\0{h.content}\0" for h in instruction.heredocs)  # a #! body is not in argv
            stage.state = self._cached(stage, shown, bodies, lambda: self._run(stage, argv, shown, script))
        elif keyword in ("COPY", "ADD"):
            self._copy(stage, instruction, with_args + instruction.original)
        else:
            stage.cmd_set |= keyword == "CMD"
            stage.state = self._cached(stage, with_args + instruction.original, "",
                                       lambda: self._configure(stage, instruction))

    # -- stages and args -------------------------------------------------------------------------------

    def _from(self, instruction: Instruction) -> None:
        found = words(instruction.text, self.global_args, self.escape)
        if len(found) not in (1, 3) or (len(found) == 3 and found[1].lower() != "as"):
            raise BuildError(f"FROM requires either one or three arguments: FROM {instruction.text}")
        name, alias = found[0], found[2].lower() if len(found) == 3 else None
        earlier = next((s for s in self.stages if s.name and s.name == name.lower()), None)
        if earlier is not None:
            state = earlier.state.copy()
        elif name == "scratch":
            state = ImageState.scratch()
        else:
            state = self.base_image(name)
        self.stages.append(Stage(state, alias))
        triggers = list(state.settings.pop("OnBuild", None) or [])
        if triggers:
            self.say(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}")
        for trigger in triggers:
            self.step(parse(trigger).instructions[0])

    def _arg(self, instruction: Instruction) -> None:
        stage = self.stages[-1] if self.stages else None
        known = dict(stage.args if stage else self.global_args)
        for key, default in pairs("ARG", instruction.text, known, self.escape):
            has_default = "=" in instruction.text
            if key in self.options.build_args:
                value = self.options.build_args[key]
                self.used_args.add(key)
            elif has_default:
                value = default
            else:
                value = self.global_args.get(key, "") if stage else ""
            (stage.args if stage else self.global_args)[key] = value

    def _variables(self, stage: Stage) -> dict[str, str]:
        """What $NAME means in a stage's instructions: its args, with ENV over them."""
        env = {k: v for k, _, v in (e.partition("=") for e in stage.state.settings.get("Env") or [])}
        return {**stage.args, **env}

    # -- steps -----------------------------------------------------------------------------------------

    def _cached(self, stage: Stage, text: str, content: str, make: Callable[[], ImageState]) -> ImageState:
        key = self.cache.key(stage.state, text, content)
        if not self.options.no_cache:
            hit = self.cache.get(key)
            if hit is not None:
                self.say(" ---> Using cache")
                return hit
        made = make()
        self.cache.put(key, made)
        return made

    def _configure(self, stage: Stage, instruction: Instruction) -> ImageState:
        state = stage.state.copy()
        apply(instruction, state.config, self._variables(stage), self.escape, stage.cmd_set)
        state.config["created"] = created = timestamp()
        state.add_history({"created": created, "created_by": f"/bin/sh -c #(nop)  {instruction.original}"})
        return state

    def _run(self, stage: Stage, argv: list[str], shown: str, script: Heredoc | None) -> ImageState:
        env = list(stage.state.settings.get("Env") or [])
        names = {e.partition("=")[0] for e in env}
        env += [f"{k}={v}" for k, v in stage.args.items() if k not in names]
        if "PATH" not in names:
            env.append(DEFAULT_PATH)
        running: list[str] = []

        def announce(container: str) -> None:
            running.append(container)
            self.say(f" ---> Running in {container}")

        pipes = {script.name: script.body.encode()} if script else {}
        descriptor, diff_id = self.runner.run(stage.state, argv, env, announce, pipes)
        self.say(f"Removing intermediate container {running[0]}")
        return self._with_layer(stage.state, descriptor, diff_id, shown)

    def _copy(self, stage: Stage, instruction: Instruction, key: str) -> None:
        unknown = set(instruction.flags) - ({"from", "chown", "chmod"} if instruction.keyword == "COPY"
                                            else {"chown", "chmod"})
        if unknown:
            raise BuildError(f"{instruction.keyword}: unknown flag: {sorted(unknown)[0]}")
        variables = self._variables(stage)
        arguments, documents = self._copy_arguments(instruction, variables)
        chown = word(instruction.flags["chown"], variables, self.escape) if "chown" in instruction.flags else None
        # BuildKit expands build args and ENV in --chmod (testCopyChmod's `--chmod=${mode}`)
        mode = chmod_mode(word(instruction.flags.get("chmod", ""), variables, self.escape), instruction.line)
        workdir = stage.state.settings.get("WorkingDir") or "/"
        source = instruction.flags.get("from")
        if source is None:
            copy_plan = plan(instruction.keyword, arguments, workdir, self.context, None, chown=chown, mode=mode,
                             documents=documents)
            stage.state = self._cached(stage, key, copy_plan.digest(),
                                       lambda: self._write(stage, copy_plan.apply, instruction.original))
            return
        origin = self._origin(word(source, variables, self.escape))

        def copy_from() -> ImageState:
            with self.runner.mounted(origin) as root:
                copy_plan = plan(instruction.keyword, arguments, workdir, None, root, chown=chown, mode=mode,
                                 documents=documents)
                return self._write(stage, copy_plan.apply, instruction.original)

        stage.state = self._cached(stage, key, state_digest(origin) + written_digest(documents, mode), copy_from)

    def _copy_arguments(self, instruction: Instruction, variables: dict[str, str]) -> tuple[list[str],
                                                                                             list[Document]]:
        """A COPY's or ADD's sources and destination, its here-document words set apart as documents (BuildKit's
        parseSourcesAndDest): their bodies, expanded the raw way unless the marker was quoted."""
        exec_form = instruction.json_form()
        if exec_form is not None or not instruction.heredocs:
            return exec_form or words(instruction.text, variables, self.escape), []
        written = raw_words(instruction.text)
        if written and marker(written[-1]) is not None:
            raise BuildError(f"dockerfile parse error line {instruction.line}: {instruction.keyword} cannot accept "
                             "a heredoc as a destination")
        contents = {heredoc.name: heredoc.content for heredoc in instruction.heredocs}  # the last of a name wins
        arguments, documents = [], []
        for item in written:
            heredoc = marker(item)
            if heredoc is None:
                arguments += words(item, variables, self.escape)
                continue
            if heredoc.name in (".", "..") or "/" in heredoc.name:
                raise BuildError(f"dockerfile parse error line {instruction.line}: <<{heredoc.name}: a "
                                 "here-document's name is the file's, it cannot be a path")
            body = replace(heredoc, content=contents[heredoc.name]).body
            documents.append(Document(heredoc.name, (expand_raw(body, variables) if heredoc.expand else body).encode()))
        return arguments, documents

    def _origin(self, name: str) -> ImageState:
        """What COPY --from names: an earlier stage (by name or number), else an image."""
        for index, stage in enumerate(self.stages[:-1]):
            if name.lower() == stage.name or name == str(index):
                return stage.state
        if name.isdigit():
            raise BuildError(f"invalid from flag value {name}: refers to current build stage or a later one")
        return self.base_image(name)

    def _write(self, stage: Stage, change: Callable[[Path], None], shown: str) -> ImageState:
        descriptor, diff_id = self.runner.change_files(stage.state, change)
        return self._with_layer(stage.state, descriptor, diff_id, f"/bin/sh -c #(nop) {shown}")

    @staticmethod
    def _with_layer(state: ImageState, descriptor: dict[str, Any], diff_id: Digest, shown: str) -> ImageState:
        made = state.copy()
        made.config["created"] = created = timestamp()
        made.add_layer(descriptor, diff_id, {"created": created, "created_by": shown})
        return made


def _stage_name(text: str) -> str | None:
    found = text.split()
    return found[2].lower() if len(found) == 3 and found[1].lower() == "as" else None
