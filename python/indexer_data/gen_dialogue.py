"""Multi-turn conversations: the user states facts in the first turns, the talk moves on
through long pasted texts and small tasks, and the last user turn needs an early fact.

One continuous conversation with no dates or numbered sessions (the memory-QA evaluation
uses dated multi-session histories; this corpus keeps away from that shape)."""
import re

from document import Doc

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _personal_fact(vocab, rng):
    """(user says, assistant acknowledges, final request, answer, key)."""
    kind = rng.randrange(7)
    person = vocab.person(rng)
    if kind == 0:
        flight = f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.randrange(100, 9999)}"
        gate = f"{rng.choice('ABCDEF')}{rng.randrange(1, 60)}"
        time = f"{rng.randrange(5, 23):02d}:{rng.choice(['05', '15', '20', '35', '45', '50'])}"
        return (f"Some context first: I fly out on {flight}, gate {gate}, boarding at {time}.",
                f"Noted: flight {flight}, gate {gate}, boarding {time}.",
                "Remind me, which gate does my flight leave from, and when do we board?", f"{gate}, {time}", flight)
    if kind == 1:
        amount = rng.randrange(400, 3200)
        return (f"My landlord is {person}, and I pay {amount} a month in rent.",
                f"Got it, {person} is your landlord and the rent is {amount} per month.",
                "Draft a two-line message to my landlord, by name, saying this month's rent will be three days late, and mention the amount.",
                f"{person}, {amount}", person)
    if kind == 2:
        dish = f"{rng.choice(vocab.adjectives)} {rng.choice(vocab.nouns)} stew"
        guests = rng.randrange(3, 19)
        day = rng.choice(WEEKDAYS)
        return (f"I'm cooking {dish} for {guests} people on {day}.",
                f"{dish.capitalize()} for {guests} on {day}, noted.",
                "How many people am I cooking for, and what was the dish called again?", f"{guests}, {dish}", dish)
    if kind == 3:
        codename = f"{rng.choice(vocab.colors).capitalize()} {rng.choice(vocab.nouns).capitalize()}"
        deadline = f"{rng.randrange(1, 29)} {rng.choice(['March', 'April', 'June', 'September', 'November'])}"
        return (f"At work our project is code-named {codename}, and it's due on {deadline}.",
                f"Project {codename}, due {deadline}. I'll keep that in mind.",
                "Write a one-sentence status update for my project; use its code name and say whether we're on track for its due date.",
                f"{codename}, {deadline}", codename)
    if kind == 4:
        room = f"{rng.randrange(1, 4)}{rng.randrange(0, 40):02d}"
        return (f"My son's teacher is {person}; parents' evening is in room {room}.",
                f"Teacher {person}, room {room}. Noted.",
                "What was the name of my son's teacher, and which room is parents' evening in?", f"{person}, {room}", person)
    if kind == 5:
        password = f"{rng.choice(vocab.nouns)}-{rng.choice(vocab.colors)}-{rng.randrange(10, 99)}"
        place = rng.choice(vocab.places)
        return (f"The wifi password at our cabin in {place} is {password}.",
                f"Cabin in {place}, wifi password {password}: got it.",
                "My guests just arrived at the cabin. What's the wifi password there?", password, place)
    plant = f"{rng.choice(vocab.adjectives)} {rng.choice(vocab.nouns)}"
    days = rng.randrange(2, 15)
    return (f"The nursery told me to water the {plant} every {days} days.",
            f"Every {days} days for the {plant}, understood.",
            f"How often did I say the {plant} needs watering?", f"every {days} days", plant)


def _sentences(text):
    flat = " ".join(text.split())
    return [s for s in re.split(r"(?<=[.!?])\s+", flat) if 20 < len(s) < 300]


def _paste_turn(ctx, rng):
    pool = rng.choice(["readme", "man", "man", "license", "changelog", "essay" if rng.random() < 0.3 else "readme"])
    label, paragraphs = ctx.text.paragraphs(pool, rng, min_chars=800)
    if label is None:
        return None
    start = rng.randrange(0, max(1, len(paragraphs) - 3))
    excerpt, total = [], 0
    limit = rng.randrange(1200, 4200)
    for para in paragraphs[start:]:
        if total >= limit:
            break
        excerpt.append(para)
        total += len(para)
    text = "\n\n".join(excerpt)
    ask = rng.choice(["Can you summarise this for me?", "What is this about, in a few sentences?",
                      "Explain the main point of this passage.", "Pick out the key points here.",
                      "I found this text; is any of it important?"])
    lead = rng.choice(["", "Different topic. ", "Something else now. ", "Next, a text I was reading. "])
    sentences = _sentences(text)
    picked = sentences[:2] + (rng.sample(sentences[2:], 1) if len(sentences) > 3 else [])
    reply = rng.choice(["Here is the gist:", "In short:", "The key points:", "Summary:"])
    if picked:
        reply += "\n\n" + "\n".join(f"- {s}" for s in picked)
    else:
        reply += " it is mostly reference material with little narrative; the first lines set out what it covers."
    reply += "\n\n" + rng.choice(["Let me know if you want more detail on any part.",
                                  "Want me to go deeper into one of these?", ""])
    return label, {"role": "user", "content": f"{lead}{ask}\n\n{text}"}, {"role": "assistant", "content": reply.strip()}


def _task_turn(vocab, rng):
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.randrange(12, 999), rng.randrange(2, 99)
        return (f"Quick sum: what is {a} times {b}?", f"{a} × {b} = {a * b}.")
    if kind == 1:
        celsius = rng.randrange(-20, 45)
        return (f"What's {celsius} °C in Fahrenheit?", f"{celsius} °C is {celsius * 9 / 5 + 32:.1f} °F.")
    if kind == 2:
        noun = rng.choice(vocab.nouns)
        names = [f"{rng.choice(vocab.adjectives).capitalize()} {noun.capitalize()}" for _ in range(5)]
        return (f"Suggest five names for a shop that sells {noun}s.",
                "A few ideas:\n" + "\n".join(f"{i + 1}. {n}" for i, n in enumerate(names)))
    items = [rng.choice(vocab.nouns) for _ in range(rng.randint(4, 8))]
    return ("Sort these alphabetically: " + ", ".join(items) + ".", ", ".join(sorted(items)) + ".")


def dialogue(ctx, rng, target_chars):
    vocab = ctx.vocab
    doc = Doc(kind="dialogue", format="chat", ending="question")
    facts, keys = [], set()
    for _ in range(rng.randint(2, 5)):
        fact = _personal_fact(vocab, rng)
        if fact[4] not in keys and all(f[2] != fact[2] for f in facts):
            keys.add(fact[4])
            facts.append(fact)
    opener = rng.choice(["Hi! I'd like some help with a few things today.", "Hello. A mixed bag of questions coming up.",
                         "Hey, can you help me get organised?"])
    messages = [{"role": "user", "content": opener + " " + facts[0][0]},
                {"role": "assistant", "content": facts[0][1] + " What would you like to start with?"}]
    for fact in facts[1:]:
        messages.append({"role": "user", "content": rng.choice(["Also: ", "One more thing. ", ""]) + fact[0]})
        messages.append({"role": "assistant", "content": fact[1]})
    target = facts[0] if rng.random() < 0.6 else rng.choice(facts)
    final = target[2]
    total = sum(len(m["content"]) for m in messages)
    sources, recalled = [], False
    while total < target_chars - len(final) - 200:
        roll = rng.random()
        if roll < 0.7:
            turn = _paste_turn(ctx, rng)
            if turn is None:
                roll = 0.9
            else:
                label, user, assistant = turn
                if label not in sources:
                    sources.append(label)
                pair = [user, assistant]
        if roll >= 0.7:
            if not recalled and len(facts) > 1 and roll > 0.95:
                # An answered recall in the middle: retrieval across turns, modelled once.
                other = rng.choice([f for f in facts if f is not target])
                pair = [{"role": "user", "content": other[2]},
                        {"role": "assistant", "content": f"You mentioned it near the start: {other[3]}."}]
                recalled = True
            else:
                question, reply = _task_turn(vocab, rng)
                pair = [{"role": "user", "content": question}, {"role": "assistant", "content": reply}]
        if total + sum(len(m["content"]) for m in pair) > target_chars - len(final) - 40 and total > target_chars * 0.6:
            break
        messages += pair
        total += sum(len(m["content"]) for m in pair)
    lead = rng.choice(["Thanks for all that. ", "Okay, back to my own stuff. ", "Going back to what I said at the start: ", ""])
    messages.append({"role": "user", "content": lead + final})
    doc.messages = messages
    doc.sources = ["gen:dialogue"] + sources
    doc.keys = [target[4]]
    doc.answer = target[3]
    return doc
