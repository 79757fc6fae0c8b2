"""Every relative link in the repository's Markdown resolves: the file or folder it names exists
inside the repository, and a `#fragment` names a heading of the Markdown file it points to (by
GitHub's slug rules). External links (any `scheme:`) are not checked; links inside fenced code
blocks and code spans are not links."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[2]
# Folders never holding the project's own documents, when git cannot list the files.
SKIPPED_DIRS = {"node_modules", "build", "dist", "__pycache__"}

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1)[^\n]|\n(?!\s*\n))+?\1")
_INLINE_LINK = re.compile(
    r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]"  # the text, one level of nested brackets (an image)
    r"\(\s*(<[^>\n]*>|[^\s()]+)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"
)
_REFERENCE = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*(<[^>\n]*>|\S+)", re.MULTILINE)
_HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']*)[\"']",
                        re.IGNORECASE)
_HTML_ID = re.compile(r"<[a-z][^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")
_LINE_ANCHOR = re.compile(r"^L\d+(?:C\d+)?(?:-L\d+(?:C\d+)?)?$")


@dataclass(frozen=True)
class Link:
    source: Path
    line: int
    target: str


def markdown_files(root: Path = REPO) -> list[Path]:
    """The repository's Markdown files: tracked ones and new ones git does not ignore (so a
    document is checked before its first commit); every `*.md` outside hidden and build
    folders when git cannot tell (a copy that is not a checkout)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.md"],
            cwd=root, capture_output=True, check=True, timeout=60,
        ).stdout.decode()
        files = {root / name for name in listed.split("\0") if name}
    except (OSError, subprocess.SubprocessError):
        files = {p for p in root.rglob("*.md")
                 if not any(part.startswith(".") or part in SKIPPED_DIRS or
                            part.endswith(".egg-info")
                            for part in p.relative_to(root).parts[:-1])}
    return sorted(p for p in files if p.is_file())


def without_code(text: str) -> str:
    """`text` with fenced code blocks and code spans blanked out (newlines kept, so line numbers
    stay right)."""
    lines = text.split("\n")
    fence: str | None = None
    for i, line in enumerate(lines):
        m = _FENCE.match(line)
        if fence is None:
            if m:
                fence = m.group(1)
                lines[i] = ""
        else:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip().strip(fence[0]):
                fence = None
            lines[i] = ""
    return _CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), "\n".join(lines))


def links(path: Path, text: str | None = None) -> list[Link]:
    """Every link target in the Markdown file at `path`, with its line number."""
    prose = without_code(path.read_text(encoding="utf-8") if text is None else text)
    found: list[Link] = []
    for pattern in (_INLINE_LINK, _REFERENCE, _HTML_LINK):
        for m in pattern.finditer(prose):
            target = m.group(1).strip()
            if target.startswith("<") and target.endswith(">"):
                target = target[1:-1].strip()
            found.append(Link(path, prose.count("\n", 0, m.start(1)) + 1, target))
    return sorted(found, key=lambda link: link.line)


def heading_text(raw: str) -> str:
    """A heading's text as GitHub renders it: code spans keep their content, links and images
    their text, emphasis markers and HTML tags go."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    parts = re.split(r"(`+[^`]*`+)", text)
    out = []
    for part in parts:
        if part.startswith("`"):
            out.append(part.strip("`").strip())
        else:
            part = re.sub(r"<[^>]+>", "", part)
            part = re.sub(r"(?<!\w)_+(.+?)_+(?!\w)", r"\1", part)
            out.append(part.replace("*", ""))
    return "".join(out).strip()


def slug(text: str) -> str:
    """GitHub's anchor for a heading's text (github-slugger): lower-case, every character that
    is not a letter, a digit, a mark, '_', '-' or a space dropped, each space made a '-'."""
    kept = []
    for ch in text.lower():
        category = unicodedata.category(ch)
        if ch in " -_" or category[0] in "LNM":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a Markdown document: its headings' slugs (a repeated one gets -1, -2, ...
    as on GitHub) and any HTML `id` or `name`."""
    prose = without_code(text)
    lines = prose.split("\n")
    headings: list[str] = []
    for i, line in enumerate(lines):
        if m := _ATX.match(line):
            headings.append(heading_text(m.group(2) or ""))
        elif (i > 0 and _SETEXT.match(line) and lines[i - 1].strip()
              and not _ATX.match(lines[i - 1]) and not _SETEXT.match(lines[i - 1])
              and not lines[i - 1].lstrip().startswith(("|", "-", "*", "+", ">"))):
            headings.append(heading_text(lines[i - 1].strip()))
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in headings:
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    found.update(_HTML_ID.findall(prose))
    return found


def problem(link: Link, root: Path = REPO) -> str | None:
    """Why `link` does not resolve, or None when it does (or is not ours to check)."""
    target = link.target
    if not target or _SCHEME.match(target):
        return None
    path_part, _, fragment = target.partition("#")
    path_part = unquote(path_part)
    if not path_part:
        dest = link.source
    elif path_part.startswith("/"):  # GitHub reads it from the repository's root
        dest = root / path_part.lstrip("/")
    else:
        dest = link.source.parent / path_part
    dest = dest.resolve()
    if not dest.is_relative_to(root.resolve()):
        return f"{path_part} is outside the repository"
    if not dest.exists():
        return f"{path_part} does not exist"
    if not fragment:
        return None
    fragment = unquote(fragment)
    if dest.is_file() and dest.suffix.lower() in (".md", ".markdown"):
        if fragment not in anchors(dest.read_text(encoding="utf-8")):
            return f"#{fragment} is no heading of {dest.relative_to(root.resolve())}"
        return None
    if dest.is_file() and _LINE_ANCHOR.match(fragment):
        return None
    return f"#{fragment} cannot be checked in {path_part or link.source.name}"


def test_every_relative_link_resolves() -> None:
    """Every relative link in every Markdown file names an existing file and heading."""
    files = markdown_files()
    names = {p.relative_to(REPO).as_posix() for p in files}
    assert {"README.md", "docs/ARCHITECTURE.md", "bench/README.md"} <= names, names
    checked = [link for path in files for link in links(path)]
    assert sum(link.source.name == "README.md" and link.source.parent == REPO
               for link in checked) >= 5, "the README's links were not found"
    broken = [f"{link.source.relative_to(REPO)}:{link.line}: ({link.target}) {reason}"
              for link in checked if (reason := problem(link)) is not None]
    assert not broken, "broken links:\n" + "\n".join(broken)


@pytest.mark.parametrize(("heading", "expected"), [
    ("Try it (one command, no media stack needed)", "try-it-one-command-no-media-stack-needed"),
    ("Jellyfin's watermark", "jellyfins-watermark"),
    ("Why `available` waits for Jellyfin", "why-available-waits-for-jellyfin"),
    ('A service that fails is *unknown*, never "empty"',
     "a-service-that-fails-is-unknown-never-empty"),
    ("Several Radarr or Sonarr servers (4K, anime)", "several-radarr-or-sonarr-servers-4k-anime"),
    ("`[stuck]`: the deadlines", "stuck-the-deadlines"),
    ("poll_jellyfin and the_index", "poll_jellyfin-and-the_index"),
    ("Run the tests -- twice", "run-the-tests----twice"),
    ("Déjà vu: [a link](x.md)", "déjà-vu-a-link"),
])
def test_slugs_follow_github(heading: str, expected: str) -> None:
    """A heading's anchor is GitHub's: lower case, punctuation but '-' and '_' dropped,
    spaces made '-'."""
    assert slug(heading_text(heading)) == expected


def test_broken_links_are_reported(tmp_path: Path) -> None:
    """A missing file, a missing heading (here or in another file) and a link escaping the
    repository are each reported; good links, external ones and code are not."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## Known limits\n\n## Known limits\n")
    page = tmp_path / "README.md"
    page.write_text(
        "# Title\n\n## Set up\n\n"
        "[ok](docs/other.md) [ok](docs/other.md#known-limits) [ok](docs/other.md#known-limits-1)\n"
        "[ok](#set-up) [ok](#title) [ok](https://example.org/nowhere.md) [ok](docs/)\n"
        "[gone](docs/missing.md) [bad anchor](docs/other.md#unknown-limits)\n"
        "[bad here](#setup) ![gone image](docs/shot.png)\n"
        "[outside](../elsewhere.md)\n\n[ref]: docs/nothing.md\n\n"
        "```md\n[in a fence](nowhere.md)\n```\n\n"
        "`[in code](nowhere.md)`\n"
    )
    reasons = {link.target: problem(link, tmp_path) for link in links(page)}
    assert {target for target, reason in reasons.items() if reason is not None} == {
        "docs/missing.md", "docs/other.md#unknown-limits", "#setup", "docs/shot.png",
        "../elsewhere.md", "docs/nothing.md",
    }
    assert "nowhere.md" not in reasons
