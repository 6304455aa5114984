"""The document a generator returns, and the shared ways a document ends: a question for a
text completion, a chat whose last user turn asks it, or a plain continuation."""
from dataclasses import dataclass, field


@dataclass
class Doc:
    kind: str
    format: str = "text"           # "text" or "chat"
    text: str = ""                 # for format == "text"
    messages: list = field(default_factory=list)  # for format == "chat"
    sources: list = field(default_factory=list)   # local files ("man:tar.1") or "gen:<kind>"
    keys: list = field(default_factory=list)      # the entities the final request is about
    ending: str = "continuation"   # "question" or "continuation"
    answer: str = ""               # the expected answer, when the ending is a question

    def content(self):
        if self.format == "chat":
            return "\n\n".join(m["content"] for m in self.messages)
        return self.text

    def chars(self):
        return len(self.content())


# Ways a text document hands a question to a completion model. They are our own and
# deliberately varied so that the indexer does not key on one prompt.
TEXT_QUESTION_STYLES = [
    "\n\nQuestion: {q}\nAnswer:",
    "\n\nQ: {q}\nA:",
    "\n\n---\nA reader asks: {q}\nReply:",
    "\n\n## Follow-up\n\n{q}\n\n",
    "\n\n[Query] {q}\n[Response]",
    "\n\nLooking back over everything above: {q}\n",
]

CHAT_OPENERS = [
    "Here is {what}. Read it through, I have a question at the end.\n\n",
    "I'm pasting {what} below.\n\n",
    "Please look at {what}:\n\n",
    "Below is {what}. I'll ask you something about it afterwards.\n\n",
    "",
]

CHAT_CLOSERS = [
    "\n\n{q}",
    "\n\nMy question: {q}",
    "\n\nBased on the text above, {q_lower}",
    "\n\nOne thing I need from this: {q_lower}",
]


def lower_first(text):
    return text[:1].lower() + text[1:] if text else text


def text_question(rng, question, completion_prefix=None):
    """The tail of a text document that asks `question`. With `completion_prefix` (e.g. "The
    owner of locker 12 is"), the text ends mid-sentence instead, so the answer is the next words."""
    if completion_prefix and rng.random() < 0.4:
        return f"\n\n{question}\n{completion_prefix}"
    return rng.choice(TEXT_QUESTION_STYLES).format(q=question)


def chat_single(rng, what, body, question):
    opener = rng.choice(CHAT_OPENERS).format(what=what)
    closer = rng.choice(CHAT_CLOSERS).format(q=question, q_lower=lower_first(question))
    return [{"role": "user", "content": opener + body + closer}]


ACKS = [
    "Got it. Send the next part when you're ready.",
    "Received. I'll keep this in mind; go on.",
    "Thanks, I have that part. Continue whenever you like.",
    "Noted. Waiting for the rest.",
    "Okay, part received.",
]


def chat_in_parts(rng, what, parts, question):
    """A document pasted over several user turns, each acknowledged, then the question."""
    messages = []
    total = len(parts)
    for index, part in enumerate(parts):
        head = (f"I'll send {what} in {total} parts. Part 1 of {total}:\n\n" if index == 0
                else f"Part {index + 1} of {total}:\n\n")
        messages.append({"role": "user", "content": head + part})
        messages.append({"role": "assistant", "content": rng.choice(ACKS)})
    closer = rng.choice(["That's everything. ", "That was the last part. ", "All parts sent. ", ""])
    messages.append({"role": "user", "content": closer + question})
    return messages


def split_into_parts(rng, blocks, max_parts=5):
    """Groups consecutive text blocks into 2..max_parts chunks of similar size."""
    count = min(len(blocks), rng.randint(2, max_parts))
    if count < 2:
        return ["\n".join(blocks)]
    size = sum(len(b) for b in blocks) / count
    parts, current, current_len = [], [], 0
    for block in blocks:
        current.append(block)
        current_len += len(block)
        if current_len >= size and len(parts) < count - 1:
            parts.append("\n".join(current))
            current, current_len = [], 0
    if current:
        parts.append("\n".join(current))
    return parts


def finish(rng, doc, what, body_blocks, question, answer, completion_prefix=None,
           chat_probability=0.35, joiner="\n"):
    """Turns body blocks and a question into a text or chat document."""
    doc.ending = "question"
    doc.answer = answer
    if rng.random() < chat_probability:
        doc.format = "chat"
        if len(body_blocks) > 8 and rng.random() < 0.4:
            parts = [p for p in split_into_parts(rng, body_blocks)]
            doc.messages = chat_in_parts(rng, what, parts, question)
        else:
            doc.messages = chat_single(rng, what, joiner.join(body_blocks), question)
    else:
        doc.format = "text"
        doc.text = joiner.join(body_blocks) + text_question(rng, question, completion_prefix)
    return doc


def continuation(doc, body_blocks, joiner="\n"):
    doc.format = "text"
    doc.ending = "continuation"
    doc.text = joiner.join(body_blocks)
    return doc


def fill(blocks_source, budget_chars, joiner_len=1):
    """Takes blocks from an iterator until their total length reaches budget_chars."""
    out, total = [], 0
    for block in blocks_source:
        if total >= budget_chars:
            break
        out.append(block)
        total += len(block) + joiner_len
    return out
