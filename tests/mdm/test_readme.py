"""The README and docs/ hold up: their links lead somewhere, they name no path outside the
repository, the README tells a newcomer the commands, credentials and mail folder that exist,
and the settings reference names only variables the server reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
# The files that read the environment: Django's settings and gunicorn's (WEB_CONCURRENCY...).
SETTINGS_SOURCES = [ROOT / "mdm" / "settings.py", ROOT / "mdm" / "gunicorn_conf.py"]

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
OUTSIDE = [
    (re.compile(r"(?<![.\w])\.\./"), "a path above the repository (../)"),
    (re.compile(r"/work/"), "a path of the build machine (/work/)"),
    (re.compile(r"/tmp/"), "a temporary path (/tmp/)"),  # noqa: S108  (looked for, not used)
    (re.compile(r"/check/"), "a path of the checking machine (/check/)"),
]


def _rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _prose(text: str) -> str:
    """The text without fenced code blocks (a `[x](y)` inside code is not a link)."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in _prose(page.read_text()).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path) -> list[str]:
    problems = []
    for target in LINK.findall(_prose(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.is_relative_to(ROOT):
            problems.append(f"{_rel(page)}: {target} leaves the repository")
        elif not destination.exists():
            problems.append(f"{_rel(page)}: {target} does not exist")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            problems.append(f"{_rel(page)}: {target} has no heading #{anchor}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_relative_link_points_to_an_existing_file_and_heading(page):
    assert broken_links(page) == []


def test_the_link_check_catches_a_broken_file_and_a_broken_anchor(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Set it up, step by step\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/a.md) [ok](docs/a.md#set-it-up-step-by-step) [web](https://example.com)\n"
        "[gone](docs/b.md) [no heading](docs/a.md#nowhere) [out](../elsewhere.md)\n"
        "```\n[in code](not-a-link.md)\n```\n"
    )
    assert broken_links(page) == [
        "README.md: docs/b.md does not exist",
        "README.md: docs/a.md#nowhere has no heading #nowhere",
        "README.md: ../elsewhere.md leaves the repository",
    ]


def outside_paths(text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern, what in OUTSIDE:
            if pattern.search(line):
                found.append(f"line {number}: {what}: {line.strip()}")
    return found


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_no_page_names_a_path_outside_the_repository(page):
    assert outside_paths(page.read_text()) == []


def test_the_outside_path_check_catches_each_pattern_and_spares_ellipses():
    text = "see ../shared/spec/\n/work/main/x\n--state /tmp/phone\n/check/a\nPOST .../cancel/ ./phone var/mail/"
    assert [line.split(":")[0] for line in outside_paths(text)] == ["line 1", "line 2", "line 3", "line 4"]


def test_the_readme_tells_a_newcomer_the_commands_the_credentials_and_the_mail_folder():
    text = README.read_text()
    for needed in ("make run", "make test", "make demo", "var/demo-credentials.txt", "var/mail"):
        assert needed in text, needed
    # They are what the code uses.
    serve = (ROOT / "mdm" / "management" / "commands" / "serve.py").read_text()
    assert '"demo-credentials.txt"' in serve
    settings = (ROOT / "mdm" / "settings.py").read_text()
    assert 'MDM_MAIL_DIR = env.str("MDM_MAIL_DIR", default=str(VAR_DIR / "mail"))' in settings


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"(?m)^([A-Za-z][\w-]*)\s*:(?!=)", text))


def make_targets_named(text: str) -> set[str]:
    named = set(re.findall(r"`make ([a-z][\w-]*)`", text))
    for block in FENCE.findall(text):
        named |= set(re.findall(r"(?m)^make ([a-z][\w-]*)", block))
    return named


def test_every_make_target_the_readme_names_exists():
    named = make_targets_named(README.read_text())
    assert {"run", "test", "demo"} <= named
    assert named - makefile_targets() == set()


def test_the_make_target_check_finds_targets_in_prose_and_code():
    text = "Run `make run`, then `make nothing`.\n```sh\nmake test   # all\n```\nmake the owner"
    assert make_targets_named(text) == {"run", "nothing", "test"}


def settings_named(text: str) -> set[str]:
    """The variables in the first column of docs/settings.md's table."""
    names = set()
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            first = line.split("|")[1]
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]*\*?)`", first))
    return names


def unread_settings(names: set[str], source: str) -> set[str]:
    """The names the server does not read from its environment. NAME_FILE is read by
    env_secret("NAME"); NAME_* stands for every variable starting so."""
    quoted = set(re.findall(r'"([A-Z][A-Z0-9_]*)"', source))
    secrets = set(re.findall(r'env_secret\(\s*"([A-Z][A-Z0-9_]*)"', source))
    missing = set()
    for name in names:
        if name.endswith("*"):
            ok = any(q.startswith(name[:-1]) for q in quoted)
        elif name.endswith("_FILE") and name[: -len("_FILE")] in secrets:
            ok = True
        else:
            ok = name in quoted
        if not ok:
            missing.add(name)
    return missing


def test_every_setting_in_the_reference_is_read_by_the_server():
    names = settings_named((ROOT / "docs" / "settings.md").read_text())
    assert len(names) > 60, "the table's first column was not found"
    source = "\n".join(path.read_text() for path in SETTINGS_SOURCES)
    assert unread_settings(names, source) == set()


def test_the_settings_check_fails_on_a_setting_the_server_does_not_read():
    table = (
        "| variable | default | what |\n|---|---|---|\n"
        "| `MDM_GONE`, `SECRET_KEY_FILE`, `MDM_EVENTS_*` | x | `NOT_A_NAME` |\n"
    )
    source = 'SECRET_KEY = env_secret("SECRET_KEY")\nX = env.int("MDM_EVENTS_BATCH_SIZE")\n'
    assert settings_named(table) == {"MDM_GONE", "SECRET_KEY_FILE", "MDM_EVENTS_*"}
    assert unread_settings(settings_named(table), source) == {"MDM_GONE"}


def test_the_settings_reference_gives_the_e_mail_backends_the_server_defaults_to():
    text = (ROOT / "docs" / "settings.md").read_text()
    settings = (ROOT / "mdm" / "settings.py").read_text()
    for backend in ("mdm.mail.DevelopmentEmailBackend", "django.core.mail.backends.smtp.EmailBackend"):
        assert backend in settings and backend in text, backend
    assert "console backend" not in text


REPO_DIRS = ("mdm/", "devices/", "personas/", "directory/", "events/", "agent/", "tests/", "scripts/", "bench/")
REPO_DIRS += ("docs/", "templates/", "static/", ".ci/")


def missing_files(page: Path) -> list[str]:
    """Repository files a page names in code spans (`mdm/mail.py`) that are not there;
    placeholders (`devices/commands/<type>.py`) are not names."""
    missing = []
    for name in re.findall(r"`([^`\s]+)`", page.read_text()):
        if not name.startswith(REPO_DIRS) or not re.search(r"\.[a-z0-9]+$|/$", name) or re.search(r"[<*{]", name):
            continue
        if not (ROOT / name).exists() and not (page.parent / name).exists():
            missing.append(name)
    return missing


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_repository_file_a_page_names_exists(page):
    assert missing_files(page) == []


def test_the_file_check_catches_a_missing_file(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "mdm").mkdir()
    (tmp_path / "mdm" / "mail.py").write_text("")
    page = tmp_path / "README.md"
    page.write_text("`mdm/mail.py`, `mdm/gone.py`, `devices/commands/<type>.py`, `/api/v1/`, `var/mail/`")
    assert missing_files(page) == ["mdm/gone.py"]


def test_the_start_up_message_shows_var_paths_as_the_readme_writes_them(tmp_path, monkeypatch):
    from mdm.management.commands.serve import shown_path

    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "var" / "mail") == "var/mail"
    assert shown_path(tmp_path / "var" / "demo-credentials.txt") == "var/demo-credentials.txt"
    elsewhere = tmp_path.parent / "elsewhere"
    assert shown_path(elsewhere) == str(elsewhere.resolve())
