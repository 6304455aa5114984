"""Documents built from local text: man pages, Debian docs, essays, and notes with facts
planted among prose ("look it up" documents)."""
import re

from document import Doc, continuation, fill, finish

EARLY_FRACTION = 0.4


def _gather(ctx, rng, pool, target_chars, min_chars=400, max_sources=40, header=None):
    """Paragraphs from several distinct files of one pool until target_chars is reached.
    Returns (paragraphs, list of (source label, first paragraph index))."""
    paragraphs, starts, used = [], [], set()
    for _ in range(max_sources):
        label, paras = ctx.text.paragraphs(pool, rng, min_chars=min_chars)
        if label is None:
            break
        if label in used:
            continue
        used.add(label)
        starts.append((label, len(paragraphs)))
        if header:
            paragraphs.append(header(label))
        total = sum(len(p) + 2 for p in paragraphs)
        for para in paras:  # a long file contributes only what the target still needs
            if total >= target_chars:
                break
            paragraphs.append(para)
            total += len(para) + 2
        if total >= target_chars:
            break
    return paragraphs, starts


# ---------------------------------------------------------------- man pages

OPTION_RE = re.compile(r"^(-{1,2}[A-Za-z0-9][\w-]*)[^\n]*\n[ \t]+(\S[^\n]*)", re.MULTILINE)
NAME_RE = re.compile(r"^NAME\n\s*(\S[^\n]*?)\s+[-\u2010\u2013\u2014]+\s+(\S[^\n]*)", re.MULTILINE)


def man_pages(ctx, rng, target_chars):
    doc = Doc(kind="man_pages")
    paragraphs, starts = _gather(ctx, rng, "man", target_chars, min_chars=1500,
                                 header=lambda label: f"--- manual page {label.split(':', 1)[1]} ---")
    paragraphs = fill(iter(paragraphs), target_chars - 250, joiner_len=2)
    starts = [(label, start) for label, start in starts if start < len(paragraphs)]
    doc.sources = [label for label, _ in starts]
    if rng.random() < 0.4 or not starts:
        return continuation(doc, paragraphs, joiner="\n\n")
    early_limit = max(1, int(len(paragraphs) * EARLY_FRACTION))
    candidates = []
    for index, (label, start) in enumerate(starts):
        end = starts[index + 1][1] if index + 1 < len(starts) else len(paragraphs)
        if start >= early_limit:
            break
        page = "\n\n".join(paragraphs[start:min(end, early_limit)])
        name = NAME_RE.search(page)
        if not name:
            continue
        command = name.group(1).split(",")[0].strip()
        summary = name.group(2).strip()
        candidates.append((f"Which of the manual pages above is the one described as \"{summary}\"? Give the name it documents.",
                           name.group(1).strip(), label, None))
        for option in OPTION_RE.finditer(page):
            description = option.group(2).strip()
            if len(description) > 25:
                candidates.append((f"According to the manual page of {command} above, what does the option "
                                   f"{option.group(1)} do?", description, label,
                                   f"In {command}, the option {option.group(1)}"))
    if not candidates:
        return continuation(doc, paragraphs, joiner="\n\n")
    question, answer, label, prefix = rng.choice(candidates)
    doc.keys = [label]
    return finish(rng, doc, "a few manual pages", paragraphs, question, answer, prefix, joiner="\n\n")


# ---------------------------------------------------------------- Debian docs

CHANGELOG_RE = re.compile(r"^([a-z0-9][a-z0-9.+-]+) \(([^)\s]+)\) [^;\n]+; urgency=\S+\s*\n(.*?)\n -- ([^<\n]+?) <",
                          re.MULTILINE | re.DOTALL)


def debian_docs(ctx, rng, target_chars):
    doc = Doc(kind="debian_docs")
    flavour = rng.choices(["changelog", "readme", "mixed"], [45, 35, 20])[0]
    if flavour == "changelog":
        paragraphs, starts = _gather(ctx, rng, "changelog", target_chars, min_chars=800,
                                     header=lambda label: f"==> {label.split(':', 1)[1]} <==")
    elif flavour == "readme":
        paragraphs, starts = _gather(ctx, rng, "readme", target_chars, min_chars=800,
                                     header=lambda label: f"==> {label.split(':', 1)[1]} <==")
    else:
        paragraphs, starts = [], []
        for pool in rng.sample(["readme", "copyright", "changelog", "license"], 4):
            more, more_starts = _gather(ctx, rng, pool, target_chars / 3, min_chars=600, max_sources=4,
                                        header=lambda label: f"==> {label.split(':', 1)[1]} <==")
            starts += [(label, start + len(paragraphs)) for label, start in more_starts]
            paragraphs += more
            if sum(len(p) + 2 for p in paragraphs) >= target_chars:
                break
    paragraphs = fill(iter(paragraphs), target_chars - 250, joiner_len=2)
    doc.sources = [label for label, start in starts if start < len(paragraphs)]
    text = "\n\n".join(paragraphs)
    early_chars = int(len(text) * EARLY_FRACTION)
    entries = [m for m in CHANGELOG_RE.finditer(text) if m.start() < early_chars]
    if not entries or rng.random() < 0.35:
        return continuation(doc, paragraphs, joiner="\n\n")
    entry = rng.choice(entries)
    package, version, maintainer = entry.group(1), entry.group(2), entry.group(4).strip()
    doc.keys = [f"{package} {version}"]
    question = f"Who signed off the {package} {version} entry in the changelog above?"
    return finish(rng, doc, "some Debian package changelogs", paragraphs, question, maintainer,
                  f"The {package} {version} entry was signed off by", joiner="\n\n")


# ---------------------------------------------------------------- essays

def essay_prose(ctx, rng, target_chars):
    """Plain prose to continue. The essays are also the evaluation haystack, so this kind has
    a small weight and its documents never carry questions."""
    doc = Doc(kind="essay_prose")
    paragraphs, starts = _gather(ctx, rng, "essay", target_chars, min_chars=2000)
    if sum(len(p) for p in paragraphs) < target_chars:  # few essays in a small split: add READMEs
        more, more_starts = _gather(ctx, rng, "readme", target_chars - sum(len(p) + 2 for p in paragraphs))
        starts += [(label, start + len(paragraphs)) for label, start in more_starts]
        paragraphs += more
    paragraphs = fill(iter(paragraphs), target_chars, joiner_len=2)
    doc.sources = [label for label, start in starts if start < len(paragraphs)]
    return continuation(doc, paragraphs, joiner="\n\n")


# ---------------------------------------------------------------- notes with planted facts

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


def planted_fact(vocab, rng):
    """One fact in our own phrasing: (sentence, question, answer, key, completion prefix)."""
    kind = rng.randrange(6)
    person = vocab.person(rng)
    noun = rng.choice(vocab.nouns)
    place = rng.choice(vocab.places)
    if kind == 0:
        return (f"A note from the front desk: the spare key to the {noun} room has been left with {person}.",
                f"Who was left holding the spare key to the {noun} room?", person, noun,
                f"The spare key to the {noun} room was left with")
    if kind == 1:
        code = str(rng.randrange(1000, 999999))
        return (f"Since the last inspection, the alarm panel at the {place} depot opens with the code {code}.",
                f"What code opens the alarm panel at the {place} depot?", code, place,
                f"The alarm panel at the {place} depot opens with")
    if kind == 2:
        room = f"{rng.choice('ABCDEFG')}{rng.randrange(100, 480)}"
        day = rng.choice(WEEKDAYS)
        return (f"{person} has booked room {room} for {day} to talk about the {rng.choice(vocab.adjectives)} {noun} plan.",
                f"Which room did {person} book, and for which day?", f"{room}, {day}", person,
                f"{person} booked room")
    if kind == 3:
        parcel = vocab.code(rng, "PX", 6)
        return (f"Shipping update: parcel {parcel} left the sorting hall this morning, bound for {place}.",
                f"Where is parcel {parcel} being sent?", place, parcel, f"Parcel {parcel} is bound for")
    if kind == 4:
        grams = rng.randrange(20, 900)
        dish = f"{rng.choice(vocab.adjectives)} {noun} pie"
        return (f"Grandmother's card for the {dish} insists on exactly {grams} grams of butter.",
                f"How many grams of butter does the card for the {dish} ask for?", str(grams), dish,
                f"The card for the {dish} asks for")
    plate = f"{rng.choice(vocab.places)[:2].upper()}-{rng.randrange(10, 99)}-{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}"
    return (f"The van with the plate {plate} is on loan to {person} until the end of the month.",
            f"To whom is the van with plate {plate} on loan?", person, plate,
            f"The van with plate {plate} is on loan to")


def lookup_notes(ctx, rng, target_chars):
    """Filler prose with several facts planted in it; the request asks about one planted in
    the first part, while others (distractors of the same shape) sit elsewhere."""
    doc = Doc(kind="lookup_notes")
    pools = ["readme", "man", "license", "copyright"] + (["essay"] if rng.random() < 0.3 else [])
    paragraphs, starts = [], []
    while sum(len(p) + 2 for p in paragraphs) < target_chars:
        pool = rng.choice(pools)
        more, more_starts = _gather(ctx, rng, pool, rng.uniform(0.15, 0.4) * target_chars, max_sources=3)
        if not more:
            pools.remove(pool)
            if not pools:
                break
            continue
        starts += [(label, start + len(paragraphs)) for label, start in more_starts]
        paragraphs += more
    facts = []
    for _ in range(rng.randint(3, 8)):
        fact = planted_fact(ctx.vocab, rng)
        if all(fact[3] != other[3] for other in facts):  # one fact per key: no ambiguity
            facts.append(fact)
    budget = target_chars - 250 - sum(len(f[0]) + 2 for f in facts)
    paragraphs = fill(iter(paragraphs), budget, joiner_len=2)
    doc.sources = [label for label, start in starts if start < len(paragraphs)]
    count = len(paragraphs)
    target = facts[0]
    positions = [int(count * rng.uniform(0.02, EARLY_FRACTION))] + [rng.randrange(0, count + 1) for _ in facts[1:]]
    for position, fact in sorted(zip(positions, facts), key=lambda pf: -pf[0]):
        paragraphs.insert(position, fact[0])
    sentence, question, answer, key, prefix = target
    doc.keys = [key]
    return finish(rng, doc, "my notes", paragraphs, question, answer, prefix, joiner="\n\n")
