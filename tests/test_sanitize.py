"""clean_html against a table of known inputs, plus miniflux-style invariants over the table and the xss corpus."""

import base64
import functools
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from reader.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_ATTRIBUTES, clean_html, excerpt, to_text

BASE = "https://example.com/blog/post.html"
XSS_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "xss"
LINK = ' rel="noopener noreferrer nofollow" target="_blank"'
IMG = ' loading="lazy" referrerpolicy="no-referrer" decoding="async"'

SCRIPTS = [
    pytest.param("<p>Hi<script>alert(1)</script> there</p>", "<p>Hi there</p>", id="script-in-paragraph"),
    pytest.param('<SCRIPT type="text/javascript">document.cookie</SCRIPT>safe', "safe", id="upper-case-script"),
    pytest.param('<script src="https://evil.example/x.js"></script>', "", id="external-script"),
    pytest.param("<scr<script>x</script>ipt>alert(1)</script>", "alert(1)", id="script-split-by-script"),
    pytest.param("<svg onload=alert(1)><script>alert(2)</script></svg>", "", id="svg"),
]
HANDLERS = [
    pytest.param(
        '<img src="https://example.com/a.png" onerror="alert(1)">',
        f'<img src="https://example.com/a.png"{IMG}>',
        id="img-onerror",
    ),
    pytest.param(
        '<a href="https://example.com/" onclick="x()" onMouseOver="y()">x</a>',
        f'<a href="https://example.com/"{LINK}>x</a>',
        id="a-onclick-mixed-case",
    ),
    pytest.param("<p ONLOAD=alert(1)>text</p>", "<p>text</p>", id="unquoted-upper-case"),
]
DANGEROUS_URLS = [
    pytest.param('<a href="javascript:alert(1)">x</a>', "<a>x</a>", id="javascript"),
    pytest.param('<a href="JaVaScRiPt:alert(1)">x</a>', "<a>x</a>", id="javascript-mixed-case"),
    pytest.param('<a href="  javascript:alert(1)">x</a>', "<a>x</a>", id="javascript-leading-spaces"),
    pytest.param('<a href="jav&#x09;ascript:alert(1)">x</a>', "<a>x</a>", id="javascript-tab-entity"),
    pytest.param('<a href="&#106;avascript:alert(1)">x</a>', "<a>x</a>", id="javascript-decimal-entity"),
    pytest.param('<a href="java\nscript:alert(1)">x</a>', "<a>x</a>", id="javascript-newline"),
    pytest.param('<a href="VBScript:msgbox(1)">x</a>', "<a>x</a>", id="vbscript"),
    pytest.param('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "<a>x</a>", id="data-href"),
    pytest.param('<a href="ftp://example.com/f">f</a>', "<a>f</a>", id="ftp"),
    pytest.param(
        '<video src="javascript:x" poster="JavaScript:y" controls></video>', "<video controls></video>", id="video"
    ),
    pytest.param('<blockquote cite="javascript:alert(1)">q</blockquote>', "<blockquote>q</blockquote>", id="cite"),
]
UNUSABLE_IMAGES = [
    pytest.param('<img src="javascript:alert(1)">', "", id="javascript-src"),
    pytest.param('<img src=" JAVASCRIPT:alert(1)" alt="x">', "", id="javascript-src-spaces"),
    pytest.param('<img src="data:image/png;base64,iVBORw0KGgo=">', "", id="data-src"),
    pytest.param('<img alt="no source">', "", id="no-src"),
    pytest.param('<p>a<img src="">b</p>', "<p>ab</p>", id="empty-src"),
    pytest.param('<img src="   ">', "", id="blank-src"),
]
REMOVED_ELEMENTS = [
    pytest.param('<iframe src="https://evil.example/"></iframe>', "", id="iframe"),
    pytest.param('<form action="https://evil.example/"><input name="q"><button>Go</button></form>', "Go", id="form"),
    pytest.param('<object data="x.swf"><param name="a" value="b"></object>', "", id="object"),
    pytest.param('<embed src="x.swf">', "", id="embed"),
    pytest.param("<style>body{display:none}</style><p>text</p>", "<p>text</p>", id="style-element"),
    pytest.param('<p style="color:red">x</p>', "<p>x</p>", id="style-attribute"),
    pytest.param('<img src="/a.png" style="position:fixed">', f'<img src="https://example.com/a.png"{IMG}>', id="img"),
    pytest.param("<!-- comment --><p>x</p>", "<p>x</p>", id="comment"),
    pytest.param("<blink>safe</blink>", "safe", id="unknown-tag-keeps-text"),
]
RESOLVED_URLS = [
    pytest.param('<a href="/about">x</a>', f'<a href="https://example.com/about"{LINK}>x</a>', id="root-relative"),
    pytest.param(
        '<a href="other.html">x</a>', f'<a href="https://example.com/blog/other.html"{LINK}>x</a>', id="relative"
    ),
    pytest.param('<img src="../img/a.png">', f'<img src="https://example.com/img/a.png"{IMG}>', id="img-parent"),
    pytest.param('<a href="//cdn.example/x">x</a>', f'<a href="https://cdn.example/x"{LINK}>x</a>', id="scheme"),
    pytest.param(
        '<blockquote cite="/source">q</blockquote>',
        '<blockquote cite="https://example.com/source">q</blockquote>',
        id="cite",
    ),
    pytest.param(
        '<video src="/v.mp4" poster="/p.jpg" controls></video>',
        '<video src="https://example.com/v.mp4" poster="https://example.com/p.jpg" controls></video>',
        id="video-poster",
    ),
    pytest.param(
        '<a href="https://other.example/a;">x</a>', f'<a href="https://other.example/a;"{LINK}>x</a>', id="absolute"
    ),
    pytest.param(
        '<a href="https://example.com/a?x=1&y=2">q</a>',
        f'<a href="https://example.com/a?x=1&amp;y=2"{LINK}>q</a>',
        id="ampersand",
    ),
]
PRIVACY_ATTRIBUTES = [
    pytest.param(
        '<a href="https://example.com/" target="_self" rel="opener">x</a>',
        f'<a href="https://example.com/"{LINK}>x</a>',
        id="link",
    ),
    pytest.param('<a name="x">x</a>', "<a>x</a>", id="link-without-href"),
    pytest.param(
        '<img src="https://example.com/a.png" alt="A" width="10" height="5" loading="eager">',
        f'<img src="https://example.com/a.png" alt="A" width="10" height="5"{IMG}>',
        id="image",
    ),
    pytest.param(
        '<a href="mailto:ana@example.com">Ana</a>', f'<a href="mailto:ana@example.com"{LINK}>Ana</a>', id="mailto"
    ),
]
TABLE = SCRIPTS + HANDLERS + DANGEROUS_URLS + UNUSABLE_IMAGES + REMOVED_ELEMENTS + RESOLVED_URLS + PRIVACY_ATTRIBUTES


@pytest.mark.parametrize(("html", "expected"), SCRIPTS)
def test_script_is_removed_with_its_content(html, expected):
    assert clean_html(html, BASE) == expected


@pytest.mark.parametrize(("html", "expected"), HANDLERS)
def test_event_handler_attributes_are_removed(html, expected):
    assert clean_html(html, BASE) == expected


@pytest.mark.parametrize(("html", "expected"), DANGEROUS_URLS)
def test_urls_with_other_schemes_are_removed_however_spelled(html, expected):
    assert clean_html(html, BASE) == expected


@pytest.mark.parametrize(("html", "expected"), UNUSABLE_IMAGES)
def test_image_without_usable_src_is_dropped(html, expected):
    assert clean_html(html, BASE) == expected


@pytest.mark.parametrize(("html", "expected"), REMOVED_ELEMENTS)
def test_active_elements_styles_and_comments_are_removed(html, expected):
    assert clean_html(html, BASE) == expected


@pytest.mark.parametrize(("html", "expected"), RESOLVED_URLS)
def test_relative_urls_are_resolved_against_base_url_and_absolute_ones_kept(html, expected):
    assert clean_html(html, BASE) == expected


@pytest.mark.parametrize(("html", "expected"), PRIVACY_ATTRIBUTES)
def test_links_and_images_get_privacy_attributes(html, expected):
    assert clean_html(html, BASE) == expected


def test_fragment_link_is_kept_as_is():
    assert 'href="#note-1"' in clean_html('<a href="#note-1">1</a>', BASE)


@pytest.mark.parametrize("html", [None, ""])
def test_nothing_cleans_to_empty_string(html):
    assert clean_html(html, BASE) == ""


# --- invariants (miniflux's sanitizer fuzz test) -------------------------------------------------------------------

ADDED_ATTRIBUTES = {"a": {"rel", "target"}, "img": {"loading", "referrerpolicy", "decoding"}}
SAFE_SCHEMES = {"http", "https", "mailto"}
# How a browser finds a URL's scheme: leading C0 controls and spaces are
# stripped and tabs/newlines removed anywhere before it looks for "name:".
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def url_scheme(value: str) -> str | None:
    match = _SCHEME.match(re.sub(r"[\t\n\r]", "", value.lstrip("\x00- ")))
    return match.group(1).lower() if match else None


class _Checker(HTMLParser):
    """Re-reads clean_html's output the way a browser would, and lists what should not be there."""

    def __init__(self, base_url: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        allowed = set(ALLOWED_ATTRIBUTES.get(tag, ())) | ADDED_ATTRIBUTES.get(tag, set())
        for name, value in attrs:
            if name not in allowed or name.startswith("on"):
                self.problems.append(f"attribute {tag}.{name}")
            if name in URL_ATTRIBUTES and not self._safe_url(value or ""):
                self.problems.append(f"url {tag}.{name}={value!r}")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"end tag </{tag}>")

    def handle_comment(self, data: str) -> None:
        self.problems.append(f"comment {data!r}")

    def handle_decl(self, decl: str) -> None:
        self.problems.append(f"declaration {decl!r}")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"processing instruction {data!r}")

    def _safe_url(self, value: str) -> bool:
        if value.startswith("#"):
            return True
        scheme = url_scheme(value)
        # Without a base URL, clean_html keeps relative URLs relative: they stay on the reader's own origin.
        return scheme in SAFE_SCHEMES or (scheme is None and self.base_url is None)


@functools.cache
def cleaned(html: str, base_url: str | None) -> str:
    return clean_html(html, base_url)


def idempotence_failures(vectors: list[tuple[str, str]], base_url: str | None) -> list[str]:
    failures = []
    for name, html in vectors:
        once = cleaned(html, base_url)
        twice = clean_html(once, base_url)
        if twice != once:
            failures.append(f"{name}: {html!r}\n  once:  {once!r}\n  twice: {twice!r}")
    return failures


def html_problems(output: str, base_url: str | None) -> list[str]:
    checker = _Checker(base_url)
    checker.feed(output)
    checker.close()
    return checker.problems


def allowlist_failures(vectors: list[tuple[str, str]], base_url: str | None) -> list[str]:
    failures = []
    for name, html in vectors:
        output = cleaned(html, base_url)
        if problems := html_problems(output, base_url):
            failures.append(f"{name}: {html!r} -> {output!r}: {problems}")
    return failures


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        "<p onclick=x()>a</p>",
        "<p title=x>a</p>",
        '<a href="javascript:alert(1)">a</a>',
        '<a href=" jav&#x09;ascript:alert(1)">a</a>',
        '<img src="data:image/png;base64,AA">',
        '<a href="relative">a</a>',
        "<!-- comment -->",
    ],
)
def test_invariant_checker_flags_unsafe_html(html):
    assert html_problems(html, BASE) != []


TABLE_INPUTS = [pytest.param(case.values[0], id=case.id) for case in TABLE]


@pytest.mark.parametrize("html", TABLE_INPUTS)
@pytest.mark.parametrize("base_url", [BASE, None], ids=["base", "no-base"])
def test_cleaning_table_input_twice_changes_nothing(html, base_url):
    assert idempotence_failures([("table", html)], base_url) == []


@pytest.mark.parametrize("html", TABLE_INPUTS)
@pytest.mark.parametrize("base_url", [BASE, None], ids=["base", "no-base"])
def test_table_output_holds_only_allowed_tags_attributes_and_urls(html, base_url):
    assert allowlist_failures([("table", html)], base_url) == []


# --- the xss corpus ------------------------------------------------------------------------------------------------

XHTML = "{http://www.w3.org/1999/xhtml}"
CHUNK = 500


def feed_html_strings(path: Path) -> list[str]:
    """Each field of a feedparser sanitizer test feed as the HTML a reader would get from it.

    Escaped and CDATA fields give their text (base64-decoded for mode="base64"); inline
    XHTML content and RSS <body> give their markup, namespaces dropped.
    """
    try:
        root = SafeET.parse(path).getroot()
    except (ET.ParseError, DefusedXmlException):
        return [path.read_text(encoding="utf-8", errors="replace")]
    found: list[str] = []

    def visit(element: ET.Element) -> None:
        children = list(element)
        inline = children and (element.tag == "body" or all(c.tag.startswith(XHTML) for c in children))
        if inline and not element.tag.startswith(XHTML):
            for node in element.iter():
                node.tag = node.tag.rsplit("}", 1)[-1]
            found.append((element.text or "") + "".join(ET.tostring(c, encoding="unicode") for c in children))
        elif not children and (element.text or "").strip():
            text = element.text
            if element.get("mode") == "base64":
                text = base64.b64decode(text).decode("utf-8")
            found.append(text)
        else:
            for child in children:
                visit(child)

    visit(root)
    return found


def corpus_vectors(path: Path) -> list[tuple[str, str]]:
    """The HTML strings one corpus file holds, each with a name for failure messages (see its SOURCES.md)."""
    name = str(path.relative_to(XSS_CORPUS))
    if path.suffix == ".txt":  # one payload per line
        lines = path.read_text(encoding="utf-8").splitlines()
        return [(f"{name}:{number}", line) for number, line in enumerate(lines, 1) if line.strip()]
    if path.suffix == ".json":  # html5lib {name, input, output}; OWASP {section, lang, vector}
        items = json.loads(path.read_text(encoding="utf-8"))
        return [(f"{name}[{i}]", item.get("input", item.get("vector"))) for i, item in enumerate(items)]
    if path.suffix == ".test":  # bleach: input, a line "--", expected output
        return [(name, path.read_text(encoding="utf-8").split("\n--\n", 1)[0])]
    if path.suffix == ".xml":  # feedparser: a feed carrying the payload
        return [(f"{name}#{i}", html) for i, html in enumerate(feed_html_strings(path))]
    return []


def corpus_params() -> list:
    """The corpus in chunks of CHUNK vectors per folder: one test item per vector would cost more than the checks."""
    if not XSS_CORPUS.is_dir():
        return [pytest.param([], marks=pytest.mark.skip(reason=f"no xss corpus at {XSS_CORPUS}"))]
    folders: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(XSS_CORPUS.rglob("*")):
        if path.is_file() and path.name != "SOURCES.md":
            folders.setdefault(path.relative_to(XSS_CORPUS).parts[0], []).extend(corpus_vectors(path))
    return [
        pytest.param(
            vectors[start : start + CHUNK], id=f"{folder}[{start + 1}-{start + len(vectors[start : start + CHUNK])}]"
        )
        for folder, vectors in folders.items()
        for start in range(0, len(vectors), CHUNK)
    ]


CORPUS_PARAMS = corpus_params()


@pytest.mark.corpus
@pytest.mark.parametrize("vectors", CORPUS_PARAMS)
def test_cleaning_corpus_vector_twice_changes_nothing(vectors):
    # With a base URL only: that is the path that rewrites URLs (and once broke this).
    failures = idempotence_failures(vectors, BASE)
    assert not failures, f"{len(failures)} of {len(vectors)} vectors:\n" + "\n".join(failures[:20])


@pytest.mark.corpus
@pytest.mark.parametrize("vectors", CORPUS_PARAMS)
@pytest.mark.parametrize("base_url", [BASE, None], ids=["base", "no-base"])
def test_corpus_output_holds_only_allowed_tags_attributes_and_urls(vectors, base_url):
    failures = allowlist_failures(vectors, base_url)
    assert not failures, f"{len(failures)} of {len(vectors)} vectors:\n" + "\n".join(failures[:20])


# --- to_text and excerpt -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        pytest.param("<p>Hello <b>world</b></p><p>again</p>", "Hello world again", id="tags"),
        pytest.param("one<br>two<br/>three", "one two three", id="line-breaks"),
        pytest.param(
            "<p>a</p><script>var s = '<p>x</p>';</script><STYLE>p { color: red }</STYLE><p>b</p>", "a b", id="script"
        ),
        pytest.param(
            "Fish &amp; chips &lt;3 caf&eacute; &#8364;5 &#x27;q&#x27;", "Fish & chips <3 café €5 'q'", id="entities"
        ),
        pytest.param("  lots \n\n of\t\tspace  ", "lots of space", id="whitespace"),
        pytest.param("<p>1 < 2 and 3 > 2</p>", "1 < 2 and 3 > 2", id="less-than-is-text"),
        pytest.param(None, "", id="none"),
    ],
)
def test_to_text_strips_tags_drops_code_unescapes_and_collapses_space(html, text):
    assert to_text(html) == text


def test_excerpt_keeps_short_text_whole():
    assert excerpt("a short text", 12) == "a short text"


def test_excerpt_cuts_at_a_word_boundary_with_an_ellipsis():
    assert excerpt("alpha beta gamma delta", 13) == "alpha beta…"


def test_excerpt_drops_trailing_punctuation_before_the_ellipsis():
    assert excerpt("first, second, third", 16) == "first, second…"


def test_excerpt_of_long_text_is_a_word_prefix_within_the_length():
    text = " ".join(f"word{i}" for i in range(200))
    short = excerpt(text)
    assert short.endswith("…")
    assert len(short) <= 281
    assert text.startswith(short[:-1] + " ")
