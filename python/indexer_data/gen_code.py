"""Code documents: generated Python modules whose functions and constants are defined early
and used late, and Python standard library modules read from this machine."""
import re

from document import Doc, continuation, fill, finish

EARLY_FRACTION = 0.4


def _literal(vocab, rng):
    kind = rng.randrange(4)
    if kind == 0:
        return str(rng.randrange(2, 5000))
    if kind == 1:
        return f"{rng.randrange(0, 99)}.{rng.randrange(1, 99)}"
    if kind == 2:
        return repr(rng.choice(vocab.colors))
    return rng.choice(["True", "False", "None"])


def _function(vocab, rng, name, constants, earlier):
    params = [rng.choice(vocab.nouns).replace("-", "_").replace(" ", "_").lower() for _ in range(rng.randint(1, 4))]
    params = list(dict.fromkeys(p for p in params if p.isidentifier() and p not in ("self", "lambda", "class")))
    if not params:
        params = ["value"]
    defaults = {}
    for p in params[1:]:
        if rng.random() < 0.6:
            defaults[p] = _literal(vocab, rng)
    signature = ", ".join(f"{p}={defaults[p]}" if p in defaults else p for p in params)
    purpose = f"{rng.choice(vocab.verbs)} the {rng.choice(vocab.adjectives)} {rng.choice(vocab.nouns)}"
    body = [f"def {name}({signature}):", f'    """{purpose.capitalize()} for the given {params[0]}."""']
    constant = rng.choice(constants)[0] if constants else "1"
    body.append(f"    result = {params[0]} if {params[0]} is not None else {constant}")
    for p in params[1:]:
        body.append(f"    if {p}:")
        body.append(f"        result = (result, {p})")
    if earlier and rng.random() < 0.5:
        other_name, other_params, _ = rng.choice(earlier)
        args = ", ".join(["result"] + ["None"] * (len(other_params) - 1))
        body.append(f"    result = {other_name}({args})")
    if rng.random() < 0.4:
        body.append(f"    log.debug(\"{name}: %r\", result)")
    body.append("    return result")
    return "\n".join(body), params, defaults, purpose


def generated_module(vocab, rng, target_chars):
    """Returns (blocks, facts): code blocks and the facts questions may ask about, each
    with the index of the block that states it."""
    place = rng.choice(vocab.places)
    blocks = [f'"""{rng.choice(vocab.adjectives).capitalize()} {rng.choice(vocab.nouns)} helpers for the '
              f'{place} {rng.choice(vocab.services)} service."""\nimport logging\nimport math\n\n'
              f'log = logging.getLogger("{place.lower()}")']
    facts = []  # (block index, question, answer, key, completion prefix)
    constants = []
    for _ in range(rng.randint(4, 10)):
        name = "_".join(rng.choice(vocab.nouns).upper().replace("-", "_").replace(" ", "_") for _ in range(2))
        if not name.replace("_", "").isalpha() or any(name == c[0] for c in constants):
            continue
        value = _literal(vocab, rng)
        constants.append((name, value))
        facts.append((0, f"What value is the constant {name} given at the top of the module?", value, name,
                      f"{name} ="))
    blocks[0] += "\n\n" + "\n".join(f"{n} = {v}" for n, v in constants)
    earlier, used = [], set()
    total = len(blocks[0])
    while total < target_chars:
        if rng.random() < 0.2:
            cls = "".join(w.capitalize() for w in vocab.identifier(rng).split("_"))
            field = rng.choice(vocab.nouns).replace("-", "_").replace(" ", "_").lower()
            default = _literal(vocab, rng)
            block = (f"class {cls}:\n    \"\"\"Keeps the {field} of one {rng.choice(vocab.nouns)}.\"\"\"\n\n"
                     f"    def __init__(self, {field}={default}):\n        self.{field} = {field}\n\n"
                     f"    def describe(self):\n        return f\"{cls}({{self.{field}!r}})\"")
            facts.append((len(blocks), f"What is the default of the constructor argument {field} of class {cls}?",
                          default, cls, f"class {cls} defaults {field} to"))
        else:
            name = vocab.identifier(rng)
            if name in used or not name.isidentifier():
                continue
            used.add(name)
            block, params, defaults, purpose = _function(vocab, rng, name, constants, earlier)
            earlier.append((name, params, defaults))
            facts.append((len(blocks), f"Which parameters does the function {name} take, in order?",
                          ", ".join(params), name, f"{name} takes"))
            for p, v in defaults.items():
                facts.append((len(blocks), f"What default value does {name} give to its parameter {p}?",
                              v, name, f"The default of {p} in {name} is"))
            facts.append((len(blocks), f"Which function in the module is documented as doing this: "
                          f"\"{purpose.capitalize()}\"?", name, name, None))
        blocks.append(block)
        total += len(block) + 2
    return blocks, facts, earlier


def code_generated(ctx, rng, target_chars):
    doc = Doc(kind="code_generated", sources=["gen:code_generated"])
    blocks, facts, functions = generated_module(ctx.vocab, rng, target_chars - 400)
    early_limit = max(1, int(len(blocks) * EARLY_FRACTION))
    early_functions = [f for f in functions if any(k[3] == f[0] and k[0] < early_limit for k in facts)]
    if rng.random() < 0.4 and early_functions:
        # A test at the end calls a function defined far above: the continuation must recall
        # its parameters.
        name, params, _ = rng.choice(early_functions)
        tail = f"def test_{name}():\n    expected = {name}("
        return continuation(doc, blocks + [tail], joiner="\n\n\n")
    early = [f for f in facts if f[0] < early_limit] or facts[:1]
    _, question, answer, key, prefix = rng.choice(early)
    doc.keys = [key]
    return finish(rng, doc, "a Python module from our code base", blocks, question, answer, prefix,
                  chat_probability=0.5, joiner="\n\n\n")


DEF_RE = re.compile(r"^\s*def ([A-Za-z_][A-Za-z0-9_]*)\((.*?)\)\s*(->[^:]*)?:", re.MULTILINE | re.DOTALL)


def code_stdlib(ctx, rng, target_chars):
    """A Python standard library module (several when one is short), from its start, so
    definitions come before their uses."""
    doc = Doc(kind="code_stdlib")
    blocks, used = [], set()
    for _ in range(12):
        label, paragraphs = ctx.text.paragraphs("stdlib", rng, min_chars=3000)
        if label is None:
            break
        if label in used:
            continue
        used.add(label)
        doc.sources.append(label)
        blocks += [f"# ===== {label.split(':', 1)[1]}.py ====="] + paragraphs
        if sum(len(b) + 2 for b in blocks) >= target_chars:
            break
    blocks = fill(iter(blocks), target_chars - 200, joiner_len=2)
    early_text = "\n\n".join(blocks[: max(1, int(len(blocks) * EARLY_FRACTION))])
    definitions = [(m.group(1), " ".join(m.group(2).split())) for m in DEF_RE.finditer(early_text)
                   if len(m.group(2)) < 120]
    # Only functions defined once in the whole document (methods like `tell` recur in many
    # classes) and with more than `self`, so that the question has one answer.
    defined = [m.group(1) for m in DEF_RE.finditer("\n\n".join(blocks))]
    definitions = [d for d in definitions if not d[0].startswith("__") and defined.count(d[0]) == 1
                   and d[1] not in ("", "self", "cls")]
    if not definitions or rng.random() < 0.55:
        return continuation(doc, blocks, joiner="\n\n")
    name, params = rng.choice(definitions)
    doc.keys = [f"{doc.sources[0]}:{name}"]
    question = f"What is the parameter list of the function {name} defined in the source above?"
    return finish(rng, doc, "some Python source code", blocks, question, f"({params})",
                  f"The signature is {name}(", chat_probability=0.5, joiner="\n\n")
