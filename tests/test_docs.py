"""The documentation against the code: options, command lines, links, sizes and the changelog.

Commands and options are read from the Typer app itself, and command lines are checked with the real
command definitions (click's parser: nothing runs, MindSpore is never imported), so these tests fail
when the code and the docs drift apart.
"""

from __future__ import annotations

import datetime
import re
import shlex
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

import animecli
from animecli.cli.app import app
from tests.support.paths import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
CHANGELOG = PROJECT_ROOT / "CHANGELOG.md"
DOCS = PROJECT_ROOT / "docs"
README_MAX_BYTES = 12_000

#: The page that documents each command: every option of the command must appear on it.
COMMAND_PAGES = {
    "infer": "infer.md",
    "video": "video.md",
    "smooth": "smooth-and-brightness.md",
    "brightness": "smooth-and-brightness.md",
    "train": "training.md",
    "download-weights": "weights.md",
    "export": "export.md",
    "cache": "weights.md",
}

CHANGE_TYPES = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
ENTRY_MAX_CHARS = 200

ROOT_COMMAND = typer.main.get_command(app)


def _markdown_files():
    return [README, CHANGELOG, *sorted(DOCS.glob("*.md"))]


def _mentions(text: str, option: str) -> bool:
    """Whether ``option`` (``--max-size``, ``-j``) appears as a whole token in ``text``."""
    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", text) is not None


def _command_options(command):
    """Every spelling of every visible option of a click command (``--help`` included)."""
    ctx = ROOT_COMMAND.context_class(command, info_name=command.name)
    names = []
    for param in command.get_params(ctx):
        if param.param_type_name == "option" and not getattr(param, "hidden", False):
            names.extend(param.opts + param.secondary_opts)
    return names


# --- every command has a page, every option is on it -------------------------------------------------

def test_every_command_has_a_page():
    assert set(ROOT_COMMAND.commands) == set(COMMAND_PAGES), "commands without a docs page, or pages of removed commands"
    for page in set(COMMAND_PAGES.values()):
        assert (DOCS / page).is_file(), f"docs/{page} is missing"


@pytest.mark.parametrize("name", sorted(ROOT_COMMAND.commands))
def test_every_option_is_documented_on_its_page(name):
    page = DOCS / COMMAND_PAGES[name]
    text = page.read_text(encoding="utf-8")
    options = _command_options(ROOT_COMMAND.commands[name])
    assert "--help" in options  # the enumeration sees what `anime NAME --help` shows
    missing = [opt for opt in options if not _mentions(text, opt)]
    assert not missing, f"anime {name}: {missing} not documented in docs/{page.name}"


@pytest.mark.parametrize("name", sorted(ROOT_COMMAND.commands))
def test_enumerated_options_are_what_help_shows(name):
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "250", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    shown = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", result.output))
    assert set(_command_options(ROOT_COMMAND.commands[name])) <= shown


def test_option_check_catches_an_undocumented_option():
    assert _mentions("`--max-size 480`, `-j`", "--max-size") and _mentions("`-j`", "-j")
    assert not _mentions("--max-size-limit", "--max-size")
    assert not _mentions("--no-audio", "--audio")


# --- every `anime ...` command line parses -------------------------------------------------------------

def _fenced_shell_lines(text: str):
    """Logical lines (continuations joined) of the ```bash blocks of a markdown text."""
    lines, block, pending = [], False, ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("```"):
            block = not block and stripped[3:].strip() in {"bash", "sh", "shell", "console"}
            continue
        if not block:
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    return lines


def _anime_args(line: str):
    """The arguments given to ``anime`` on a shell line, or None when the line does not run it.

    Understands ``anime ...``, ``VAR=value anime ...``, ``python -m animecli ...`` and
    ``$(which anime) ...`` (as in msrun command lines); comments are dropped.
    """
    tokens = shlex.split(line, comments=True)
    for i, token in enumerate(tokens):
        if token == "anime" and all(re.match(r"^[A-Za-z_]\w*=", t) for t in tokens[:i]):
            return tokens[i + 1:]
        if token == "animecli" and i >= 1 and tokens[i - 1] == "-m":
            return tokens[i + 1:]
        if token == "anime)" and i >= 1 and tokens[i - 1] == "$(which":
            return tokens[i + 1:]
    return None


def _parse(args):
    """Parse ``anime ARGS`` with the real command definitions; raise AssertionError if it does not parse."""
    try:
        if not args or args[0].startswith("-"):
            ROOT_COMMAND.make_context("anime", list(args))
            return
        root = ROOT_COMMAND.context_class(ROOT_COMMAND, info_name="anime")
        command = ROOT_COMMAND.get_command(root, args[0])
        if command is None:
            raise AssertionError(f"no such command: anime {args[0]}")
        command.make_context(args[0], list(args[1:]), parent=root)
    except AssertionError:
        raise
    except Exception as exc:  # click's UsageError / BadParameter, or Exit from --help / --version
        if getattr(exc, "exit_code", None) == 0:
            return
        raise AssertionError(f"`anime {shlex.join(args)}` does not parse: {exc}") from exc


def _documented_command_lines():
    found = []
    for path in _markdown_files():
        for line in _fenced_shell_lines(path.read_text(encoding="utf-8")):
            args = _anime_args(line)
            if args is not None:
                found.append(pytest.param(args, id=f"{path.name}: {line[:70]}"))
    return found


def test_readme_shows_every_command():
    shown = {args.values[0][0] for args in _documented_command_lines()
             if args.id.startswith("README.md") and args.values[0]}
    assert set(ROOT_COMMAND.commands) <= shown


@pytest.mark.parametrize("args", _documented_command_lines())
def test_documented_command_line_parses(args):
    _parse(args)


@pytest.mark.parametrize("line", [
    "anime infer photos/ out/ --no-such-option",
    "anime infer photos/ out/ --quality high",
    "anime video clip.mp4",
    "anime stylise photos/ out/",
    "anime train --style Sakura --batch-size 0",
])
def test_command_line_check_rejects_a_wrong_line(line):
    with pytest.raises(AssertionError):
        _parse(_anime_args(line))


def test_command_line_reader_finds_every_form():
    text = "```bash\nanime infer a b  # c\nANIME_OFFLINE=1 anime download-weights --list\nmsrun --join=True \\\n" \
           "    $(which anime) train --distributed\npip install .\n```\n```\nanime not-shell\n```\n"
    assert [_anime_args(line) for line in _fenced_shell_lines(text)] == [
        ["infer", "a", "b"], ["download-weights", "--list"], ["train", "--distributed"], None]


# --- links ---------------------------------------------------------------------------------------------

def _without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def _anchors(text: str):
    """GitHub's anchors for the headings of a markdown text."""
    seen, anchors = {}, set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", _without_code_blocks(text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _local_links(path: Path):
    text = _without_code_blocks(path.read_text(encoding="utf-8"))
    targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r"^\[[^\]]+\]:\s*(\S+)", text, re.M)
    return [t for t in targets if not re.match(r"^[a-z]+:", t)]


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.name)
def test_local_links_resolve(path):
    broken = []
    for target in _local_links(path):
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked.read_text(encoding="utf-8")):
            broken.append(target)
    assert not broken, f"{path.name}: broken links {broken}"


def test_anchor_rules_match_github():
    text = "# T\n## The engine's policy (0.1.0)\n```bash\n# not a heading\n```\n## [0.1.0] - 2026-11-26\n## `anime brightness`\n## Tests\n## Tests\n"
    assert _anchors(text) == {"t", "the-engines-policy-010", "010---2026-11-26", "anime-brightness", "tests", "tests-1"}


# --- README --------------------------------------------------------------------------------------------

def test_readme_is_short():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move details to docs/"


def _ci_command(marker: str) -> str:
    """The command that follows ``# README: <marker>`` in .ci/run."""
    lines = (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
    return lines[lines.index(f"# README: {marker}") + 1].strip()


def _readme_section_commands(heading: str):
    text = README.read_text(encoding="utf-8")
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, f"README.md has no '## {heading}' section"
    return _fenced_shell_lines(section.group(1))


def test_readme_commands_are_what_ci_runs():
    assert _readme_section_commands("Tests") == [_ci_command("Tests")] == ["python -m pytest -q"]
    assert _ci_command("Install (development)") in _readme_section_commands("Install")


def test_environment_variables_are_documented():
    code = "".join(p.read_text(encoding="utf-8") for p in (PROJECT_ROOT / "animecli").rglob("*.py"))
    weights_page = (DOCS / "weights.md").read_text(encoding="utf-8")
    missing = sorted(v for v in set(re.findall(r"\bANIME_[A-Z_]+\b", code)) if v not in weights_page)
    assert not missing, f"not in docs/weights.md: {missing}"
    assert "ANIME_SHARED" in (DOCS / "development.md").read_text(encoding="utf-8")


# --- CHANGELOG -----------------------------------------------------------------------------------------

def _changelog_sections():
    """[(heading, [(subheading, [lines])])] for the ``## `` sections of the changelog (comments and link
    references left out)."""
    text = re.sub(r"<!--.*?-->", "", CHANGELOG.read_text(encoding="utf-8"), flags=re.S)
    sections = []
    for line in text.splitlines():
        if line.startswith("## "):
            sections.append((line[3:], []))
        elif line.startswith("### ") and sections:
            sections[-1][1].append((line[4:], []))
        elif line.strip() and sections and sections[-1][1] and not re.match(r"^\[[^\]]+\]:", line):
            sections[-1][1][-1][1].append(line)
    return sections


def _releases():
    found = []
    for heading, _ in _changelog_sections()[1:]:
        match = re.fullmatch(r"\[(\d+)\.(\d+)\.(\d+)\] - (\d{4}-\d{2}-\d{2})", heading)
        assert match, f"CHANGELOG: '## {heading}' is not '## [X.Y.Z] - YYYY-MM-DD'"
        found.append((tuple(map(int, match.groups()[:3])), datetime.date.fromisoformat(match.group(4))))
    return found


def test_changelog_sections():
    sections = _changelog_sections()
    assert sections and sections[0][0] == "[Unreleased]", "CHANGELOG must start with ## [Unreleased]"
    releases = _releases()
    assert releases, "CHANGELOG has no released version"
    assert releases == sorted(releases, reverse=True) and len({v for v, _ in releases}) == len(releases)
    for heading, subsections in sections:
        names = [name for name, _ in subsections]
        assert set(names) <= CHANGE_TYPES and len(names) == len(set(names)), f"CHANGELOG {heading}: {names}"


def test_changelog_entries_are_single_user_facing_lines():
    for heading, subsections in _changelog_sections():
        for name, lines in subsections:
            assert lines, f"CHANGELOG {heading} / {name} is empty"
            for line in lines:
                where = f"CHANGELOG {heading} / {name}: {line[:60]}"
                assert line.startswith("- "), f"{where}: one line per entry, starting with '- '"
                assert len(line) <= ENTRY_MAX_CHARS, f"{where}: longer than {ENTRY_MAX_CHARS} characters"
                assert "bench" not in line.lower(), f"{where}: benchmark internals belong in docs/performance.md"


def test_changelog_has_a_link_for_every_version():
    text = CHANGELOG.read_text(encoding="utf-8")
    references = dict(re.findall(r"^\[([^\]]+)\]:\s*(\S+)\s*$", text, re.M))
    labels = [re.match(r"\[([^\]]+)\]", heading).group(1) for heading, _ in _changelog_sections()]
    assert [label for label in labels if label not in references] == []


def _pyproject_version() -> str:
    text = (PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = re.search(r"^\[project\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M).group(1)
    return re.search(r'^version\s*=\s*"([^"]+)"', project, re.M).group(1)


def test_version_is_the_latest_release():
    latest = ".".join(map(str, _releases()[0][0]))
    assert _pyproject_version() == latest == animecli.__version__
