"""Readers of the local text that the indexer corpus is built from.

Everything here is read from this machine at generation time and never copied into the
repository: Paul Graham's essays and the word lists under $FLASHMEM_DATA (also the
evaluation haystack, so the corpus uses them sparingly), Debian man pages rendered to plain
text, /usr/share/doc READMEs, changelogs and copyright files, the common licences, and the
Python standard library as code.

Every source file belongs to one split, decided by a hash of its identity (the man page's
name, the Debian package, the module name, the essay's file name), so that the validation
documents are built from text the training documents never see.
"""
import gzip
import hashlib
import os
import re
import shutil
import subprocess

def _shared_data():
    """$FLASHMEM_DATA (essays and word lists in RULER's layout; python/make_synthetic_eval_data.py
    writes a stand-in). Unset: a path that does not exist, so that readers fail clearly."""
    candidate = os.environ.get("FLASHMEM_DATA")
    if candidate and os.path.isdir(os.path.join(candidate, "haystack")):
        return os.path.normpath(candidate)
    return os.path.join(os.sep, "nonexistent", "FLASHMEM_DATA-is-not-set")


SHARED_DATA = _shared_data()
ESSAY_DIR = os.path.join(SHARED_DATA, "haystack", "paul_graham_essays")
WORDS_DIR = os.path.join(SHARED_DATA, "words")
MAN_ROOT = "/usr/share/man"
DOC_ROOT = "/usr/share/doc"
LICENSE_DIR = "/usr/share/common-licenses"
STDLIB_CANDIDATES = [
    "/root/.pyenv/versions/3.11.7/lib/python3.11",
]

# Phrases of the evaluation suites' templates (RULER needles, variable tracking, word
# frequency and QA prompts; LongMemEval's dated chat sessions). The indexer must learn
# retrieval in general, not these prompts, so no document may contain them: source
# paragraphs that happen to contain one are dropped, and the tests check the output.
BANNED_PATTERNS = [
    r"special\s+magic",
    r"magic\s+(number|word|uuid|key|value|string)s?",
    r"memori[sz]e",
    r"\bVAR\s+[A-Z]+\d*\s*=",
    r"variables?\s+(that\s+are\s+)?assigned\s+the\s+value",
    r"most\s+(frequently\s+appeared|common)\s+(coded\s+)?words",
    r"coded\s+words",
    r"\bsession\s+#?\d+\b",
    r"chat\s+histor(y|ies)",
    r"history\s+chats",
    r"current\s+date",
    r"hidden\s+within\s+the\s+following\s+text",
    r"quiz\s+you",
    r"answer\s+the\s+question\s+based\s+on\s+the\s+given\s+documents",
]
BANNED_RE = re.compile("|".join(BANNED_PATTERNS), re.IGNORECASE)


def contains_banned(text):
    return BANNED_RE.search(text) is not None


def split_of(identity, val_fraction):
    """'val' or 'train' for a source, stable across seeds and runs."""
    digest = hashlib.sha1(identity.encode("utf-8")).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2.0 ** 64
    return "val" if fraction < val_fraction else "train"


def read_maybe_gzip(path, limit_bytes=2_000_000):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read(limit_bytes)
        else:
            with open(path, "rb") as f:
                data = f.read(limit_bytes)
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""
    if b"\0" in data[:4096]:
        return ""  # binary
    return data.decode("utf-8", errors="replace")


def clean_paragraphs(text, max_chars=1600):
    """Splits text at blank lines, drops paragraphs with banned phrases, and cuts long
    paragraphs at line ends so that documents can be trimmed close to a length target."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        para = para.rstrip()
        if not para.strip() or contains_banned(para):
            continue
        while len(para) > max_chars:
            cut = para.rfind("\n", 0, max_chars)
            if cut <= 0:
                cut = para.rfind(" ", 0, max_chars)
            if cut <= 0:
                cut = max_chars
            out.append(para[:cut].rstrip())
            para = para[cut:].lstrip("\n")
        if para.strip():
            out.append(para)
    return out


# ---------------------------------------------------------------- man pages

def _strip_troff(src):
    """A small troff-to-text fallback for when groff is missing: keeps section titles and
    the text of font macros, drops other requests and escapes."""
    lines = []
    for line in src.splitlines():
        if line.startswith(('.\\"', "'\\\"", '.\\\\"')):
            continue
        if line.startswith((".", "'")):
            parts = line[1:].split(None, 1)
            if not parts:
                continue
            request, rest = parts[0], (parts[1] if len(parts) > 1 else "")
            rest = rest.replace('"', "")
            if request in ("SH", "SS"):
                lines += ["", rest.upper() if request == "SH" else rest]
            elif request in ("PP", "P", "LP", "TP", "IP", "sp", "br"):
                lines.append("")
                if request == "IP" and rest:
                    lines.append(rest.split()[0])
            elif request in ("B", "I", "BI", "BR", "IB", "IR", "RB", "RI", "SM", "SB"):
                lines.append(rest)
            continue
        lines.append(line)
    text = "\n".join(lines)
    text = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", text)
    text = re.sub(r"\\\((em|en)", "-", text)
    text = re.sub(r"\\\(..|\\\[[^\]]*\]", "", text)
    text = re.sub(r"\\[-&e|^ ]", lambda m: {"\\-": "-", "\\e": "\\", "\\ ": " "}.get(m.group(0), ""), text)
    text = re.sub(r"\\.", "", text)
    return text


def _tidy_rendered(text):
    # groff indents body text by 7 columns; the indent costs tokens and carries nothing.
    out = []
    for line in text.splitlines():
        line = line.rstrip()
        if line.startswith("       "):
            line = line[7:]
        out.append(line)
    # The running header ("TAR(1)  GNU TAR Manual  TAR(1)") and footer get garbled when a
    # title is long; callers put their own title above the page.
    body = [i for i, line in enumerate(out) if line.strip()]
    if len(body) > 2 and out[body[0]].endswith(")"):
        out[body[0]] = ""
    if len(body) > 2 and out[body[-1]].endswith(")"):
        out[body[-1]] = ""
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + "\n"


class ManPages:
    def __init__(self, root=MAN_ROOT):
        self.root = root
        self.have_groff = shutil.which("groff") is not None
        self._cache = {}

    def listing(self):
        """(identity, path) of every English man page in sections 1-8 that is a regular file."""
        items = []
        for section in range(1, 9):
            directory = os.path.join(self.root, f"man{section}")
            try:
                names = sorted(os.listdir(directory))
            except OSError:
                continue
            for name in names:
                path = os.path.join(directory, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                stem = name[:-3] if name.endswith(".gz") else name
                items.append((stem, path))
        return items

    def render(self, path):
        if path in self._cache:
            return self._cache[path]
        source = read_maybe_gzip(path)
        text = ""
        if source and not source.lstrip().startswith(".so "):
            if self.have_groff:
                # Left-adjusted, unhyphenated: justified spacing and split words cost tokens
                # and are not how text is usually written.
                groff_source = re.sub(r"^(\.TH[^\n]*)$", r"\1\n.ad l\n.nh", source, flags=re.MULTILINE)
                try:
                    result = subprocess.run(
                        ["groff", "-Tutf8", "-man", "-P-cbou", "-rLL=96n", "-rHY=0"],
                        input=groff_source.encode("utf-8"), capture_output=True, timeout=20,
                        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"})
                    text = result.stdout.decode("utf-8", errors="replace")
                except (OSError, subprocess.TimeoutExpired):
                    text = ""
            if not text.strip():
                text = _strip_troff(source)
            text = _tidy_rendered(text)
        self._cache[path] = text
        return text


# ---------------------------------------------------------------- /usr/share/doc

class DebianDocs:
    """READMEs, changelogs and copyright files, grouped by package (the split identity)."""

    def __init__(self, root=DOC_ROOT):
        self.root = root

    def listing(self):
        items = []  # (package, path, kind)
        try:
            packages = sorted(os.listdir(self.root))
        except OSError:
            return items
        for package in packages:
            directory = os.path.join(self.root, package)
            if not os.path.isdir(directory) or os.path.islink(directory):
                continue
            try:
                names = sorted(os.listdir(directory))
            except OSError:
                continue
            for name in names:
                path = os.path.join(directory, name)
                if not os.path.isfile(path):
                    continue
                lower = name.lower()
                if lower.startswith("readme"):
                    items.append((package, path, "readme"))
                elif lower.startswith("changelog"):
                    items.append((package, path, "changelog"))
                elif lower == "copyright":
                    items.append((package, path, "copyright"))
        return items

    @staticmethod
    def read(path):
        return read_maybe_gzip(path).replace("\r\n", "\n")


def common_licenses(root=LICENSE_DIR):
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    return [(name, os.path.join(root, name)) for name in names
            if os.path.isfile(os.path.join(root, name)) and not os.path.islink(os.path.join(root, name))]


# ---------------------------------------------------------------- essays and words

def essay_listing(root=ESSAY_DIR):
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    return [(name, os.path.join(root, name)) for name in names
            if name.endswith(".txt") and not name.startswith("LICENSE")]


def read_essay(path):
    """The essays lost their paragraph breaks and carry a banner; restore a readable form."""
    text = read_maybe_gzip(path)
    text = re.sub(r"Want to start a startup\?\s+Get funded by\s+Y Combinator\.", "", text)
    text = re.sub(r"([a-z0-9\)][.?!\"'])([A-Z])", r"\1\n\n\2", text)  # "broken.The" -> new paragraph
    text = re.sub(r"(\[\d+\])([A-Z])", r"\1\n\n\2", text)  # footnote mark glued to the next paragraph
    text = re.sub(r"((?:January|February|March|April|May|June|July|August|September|October|"
                  r"November|December) \d{4})([A-Z])", r"\1\n\n\2", text)
    paragraphs = []
    for para in re.split(r"\n\s*\n", text):
        joined = " ".join(para.split())
        if joined:
            paragraphs.append(joined)
    return "\n\n".join(paragraphs)


def read_word_list(name, root=WORDS_DIR):
    path = os.path.join(root, name)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            words = [w.strip() for w in f]
    except OSError:
        return []
    return sorted({w for w in words if w and w.isascii() and w.replace("-", "").isalpha()})


# ---------------------------------------------------------------- Python stdlib

def stdlib_listing():
    for root in STDLIB_CANDIDATES + [os.path.dirname(os.__file__)]:
        if os.path.isdir(root):
            names = sorted(n for n in os.listdir(root) if n.endswith(".py"))
            if names:
                return [(n[:-3], os.path.join(root, n)) for n in names]
    return []


_FILE_CACHE = {}


def _read_cached(path):
    if path not in _FILE_CACHE:
        _FILE_CACHE[path] = read_maybe_gzip(path).replace("\r\n", "\n")
    return _FILE_CACHE[path]


class LocalText:
    """All local sources, partitioned into one split. `pool(name)` gives a sorted list of
    (identity, path) belonging to this split."""

    def __init__(self, split, source_val_fraction):
        self.split = split
        self.source_val_fraction = source_val_fraction
        self.man = ManPages()
        self.docs = DebianDocs()
        self._pools = {}
        self._text_cache = {}

    def _mine(self, identity):
        return split_of(identity, self.source_val_fraction) == self.split

    @staticmethod
    def _debian_identity(kind, path):
        """Many packages ship the same file (all binaries of one source package carry its
        changelog), so the split follows the content: a changelog by its source package,
        other files by a hash of their text."""
        text = _read_cached(path)
        if kind == "changelog":
            match = re.match(r"\s*([a-z0-9][a-z0-9.+-]+) \(", text)
            if match:
                return "debsrc:" + match.group(1)
        return "debtext:" + hashlib.sha1(" ".join(text[:20000].split()).encode("utf-8")).hexdigest()

    def pool(self, name):
        if name not in self._pools:
            if name == "man":
                items = [(i, p) for i, p in self.man.listing() if self._mine("man:" + i)]
            elif name in ("readme", "changelog", "copyright"):
                items = [(f"{pkg}/{os.path.basename(p)}", p) for pkg, p, kind in self.docs.listing()
                         if kind == name and self._mine(self._debian_identity(kind, p))]
            elif name == "license":
                items = [(i, p) for i, p in common_licenses() if self._mine("license:" + i)]
            elif name == "essay":
                items = [(i, p) for i, p in essay_listing() if self._mine("essay:" + i)]
            elif name == "stdlib":
                items = [(i, p) for i, p in stdlib_listing() if self._mine("py:" + i)]
            else:
                raise KeyError(name)
            self._pools[name] = items
        return self._pools[name]

    def text(self, name, path):
        key = (name, path)
        if key not in self._text_cache:
            if name == "man":
                text = self.man.render(path)
            elif name == "essay":
                text = read_essay(path)
            else:
                text = _read_cached(path)
            self._text_cache[key] = text
        return self._text_cache[key]

    def families(self, name):
        """The pool grouped by family, so that one prolific family (the thousands of
        gcloud_* man pages) does not crowd out the rest: a family is drawn first."""
        key = ("families", name)
        if key not in self._pools:
            groups = {}
            for identity, path in self.pool(name):
                family = re.split(r"[_.\-/]", identity, 1)[0] if name == "man" else identity
                groups.setdefault(family, []).append((identity, path))
            self._pools[key] = [groups[f] for f in sorted(groups)]
        return self._pools[key]

    def paragraphs(self, name, rng, min_chars=400, tries=12):
        """Picks a source file of the pool at random; returns (source label, paragraphs),
        or (None, []) when the pool has nothing usable."""
        families = self.families(name)
        for _ in range(tries if families else 0):
            identity, path = rng.choice(rng.choice(families))
            text = self.text(name, path)
            if len(text) < min_chars:
                continue
            paras = clean_paragraphs(text)
            if paras:
                return f"{name}:{identity}", paras
        return None, []
