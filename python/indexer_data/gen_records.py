"""Structured generators of records: server logs, tables, and lists of facts (phone books,
inventories, config files, record cards). Each plants the fact a final request asks about
in the first part of the document, so that answering needs the far history."""
import datetime
import random

from document import Doc, continuation, fill, finish

EARLY = (0.03, 0.4)  # where, as a fraction of the body, the asked-about fact is placed


def early_index(rng, count):
    return max(0, min(count - 1, int(count * rng.uniform(*EARLY))))


# ---------------------------------------------------------------- server logs

HTTP_PATHS = ["/api/v2/orders/{n}", "/api/v1/users/{n}/profile", "/static/app.{h}.js",
              "/api/v2/search?q={w}", "/health", "/api/v1/invoices/{n}/pdf", "/login",
              "/api/v3/carts/{n}/items", "/api/v1/reports/{w}", "/metrics"]
NOISE_MESSAGES = [
    "cache miss key={w}:{n}", "cache hit key={w}:{n}", "gc pause {n}ms",
    "db query table={w} rows={n} took={ms}ms", "retrying upstream call attempt={a}",
    "connection pool size={a} idle={b}", "scheduled job {w}-sync finished in {ms}ms",
    "rate limit window reset for tenant {n}", "config reload requested by watcher",
    "slow query detected table={w} took={ms}ms", "queue depth {n} (threshold 500)",
    "tls handshake completed peer={ip}", "worker {a} heartbeat ok",
]


def _ip(rng):
    return f"10.{rng.randrange(0, 255)}.{rng.randrange(0, 255)}.{rng.randrange(1, 255)}"


def _user_handle(vocab, rng):
    first, last = vocab.person(rng).lower().split(" ", 1)
    return f"{first}.{last}"


def _noise(vocab, rng):
    w = rng.choice(vocab.nouns).replace(" ", "_")
    if rng.random() < 0.55:
        path = rng.choice(HTTP_PATHS).format(n=rng.randrange(1, 99999), h=vocab.hex_id(rng, 6), w=w)
        status = rng.choices([200, 201, 204, 301, 404, 500, 503], [60, 8, 5, 4, 10, 2, 1])[0]
        level = "INFO" if status < 500 else "ERROR"
        return (level, "gateway", f"req={vocab.hex_id(rng)} user={_user_handle(vocab, rng)} "
                f"{rng.choice(['GET', 'GET', 'POST', 'PUT', 'DELETE'])} {path} {status} {rng.randrange(2, 900)}ms")
    message = rng.choice(NOISE_MESSAGES).format(
        w=w, n=rng.randrange(1, 5000), ms=rng.randrange(1, 4000), a=rng.randrange(1, 16),
        b=rng.randrange(0, 8), ip=_ip(rng))
    level = rng.choices(["DEBUG", "INFO", "WARN"], [3, 6, 1])[0]
    return (level, rng.choice(vocab.services), message)


def _format_log(rng, style, host, events):
    start = datetime.datetime(2021, 1, 1) + datetime.timedelta(
        days=rng.randrange(0, 1500), seconds=rng.randrange(0, 86400))
    now = start
    lines = []
    for level, service, message in events:
        now += datetime.timedelta(milliseconds=rng.randrange(1, 2500))
        if style == "iso":
            lines.append(f"{now.isoformat(timespec='milliseconds')}Z {level:<5} [{service}] {message}")
        elif style == "syslog":
            lines.append(f"{now.strftime('%b %d %H:%M:%S')} {host} {service}[{rng.randrange(100, 9999)}]: "
                         f"{level.lower()}: {message}")
        else:
            fields = message.replace('"', "'")
            lines.append(f'{{"ts": "{now.isoformat(timespec="milliseconds")}Z", "level": "{level}", '
                         f'"svc": "{service}", "host": "{host}", "msg": "{fields}"}}')
    return lines


def server_log(ctx, rng, target_chars):
    vocab = ctx.vocab
    doc = Doc(kind="server_log", sources=["gen:server_log"])
    style = rng.choice(["iso", "syslog", "json"])
    host = f"{rng.choice(vocab.places).lower()}-{rng.randrange(1, 40):02d}"
    person = vocab.person(rng)
    handle = person.lower().replace(" ", ".")
    sid = "s-" + vocab.hex_id(rng, 10)
    ip = _ip(rng)
    job = f"{rng.choice(vocab.nouns).replace(' ', '_')}-export-{rng.randrange(100, 999)}"
    job_id = "j" + vocab.hex_id(rng, 7)
    ticket = vocab.code(rng, "INC", 5)
    variant = rng.randrange(3)
    if variant == 0:
        anchor = ("INFO", "auth", f"login ok user={handle} sid={sid} ip={ip} mfa=totp")
        closing = ("WARN", "auth", f"sid={sid} idle timeout, token revoked")
        question = f"Which IP address did the login that opened sid={sid} come from?"
        answer, keys, prefix = ip, [handle, sid], f"The login that opened sid={sid} came from"
    elif variant == 1:
        anchor = ("INFO", "scheduler", f"job {job} queued id={job_id} owner={handle} priority=low")
        closing = ("ERROR", "scheduler", f"id={job_id} failed: disk quota exceeded")
        question = f"The job with id={job_id} failed near the end of the log. Who owned that job?"
        answer, keys, prefix = handle, [handle, job_id], f"The job id={job_id} was owned by"
    else:
        anchor = ("WARN", "payments", f"chargeback opened ticket={ticket} merchant={rng.choice(vocab.places)} "
                  f"amount={rng.randrange(5, 900)}.{rng.randrange(0, 99):02d} EUR assignee={handle}")
        closing = ("INFO", "payments", f"ticket={ticket} escalated to second line")
        question = f"Who was assigned ticket {ticket}, and what amount did it concern?"
        answer, keys, prefix = handle, [handle, ticket], None

    # Draw noise until the formatted log reaches the budget, then place the anchor early and
    # the line that refers back to it near the end.
    budget = target_chars - len(question) - 60 - len(anchor[2]) - len(closing[2])
    events, total = [], 0
    while total < budget:
        event = _noise(vocab, rng)
        events.append(event)
        total += len(_format_log(random.Random(0), style, host, [event])[0]) + 1
    events.insert(early_index(rng, len(events)), anchor)
    events.insert(len(events) - rng.randrange(0, min(8, len(events) // 4)), closing)
    lines = _format_log(rng, style, host, events)
    if rng.random() < 0.3:
        return continuation(doc, lines)
    doc.keys = keys
    return finish(rng, doc, "an excerpt of our service logs", lines, question, answer, prefix)


# ---------------------------------------------------------------- tables of records

def _employee(vocab, rng):
    return {"id": vocab.code(rng, "E", 5), "name": vocab.person(rng), "department": rng.choice(vocab.departments),
            "office": f"{rng.choice(vocab.places)} {rng.randrange(1, 6)}.{rng.randrange(1, 40):02d}",
            "extension": str(rng.randrange(2000, 8999)),
            "started": f"{rng.randrange(2004, 2025)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"}


def _product(vocab, rng):
    return {"sku": f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}-{rng.randrange(1000, 99999)}",
            "name": vocab.product(rng), "price": f"{rng.randrange(1, 400)}.{rng.randrange(0, 100):02d}",
            "stock": str(rng.randrange(0, 2500)), "warehouse": rng.choice(vocab.places)}


def _station(vocab, rng):
    return {"station": f"{rng.choice(vocab.places)[:3].upper()}{rng.randrange(10, 99)}",
            "site": f"{rng.choice(vocab.places)} {rng.choice(['ridge', 'harbour', 'field', 'pass', 'weir', 'mill'])}",
            "elevation_m": str(rng.randrange(2, 3100)), "sensor": rng.choice(["anemometer", "rain gauge", "barometer", "hygrometer", "pyranometer"]),
            "calibrated": f"{rng.randrange(2015, 2025)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            "technician": vocab.person(rng)}


def _book(vocab, rng):
    return {"catalog": f"{rng.randrange(100, 999)}.{rng.randrange(10, 99)} {rng.choice(vocab.surnames)[:3].upper()}",
            "title": f"The {vocab.product(rng).title()}", "author": vocab.person(rng),
            "year": str(rng.randrange(1890, 2024)), "shelf": f"{rng.choice('ABCDEFGH')}{rng.randrange(1, 30)}"}


TABLES = {  # name: (maker, key column, columns that questions ask about, what the table is)
    "employees": (_employee, "id", ["office", "extension", "started", "department"], "our staff directory"),
    "products": (_product, "sku", ["price", "stock", "warehouse", "name"], "a product catalogue export"),
    "stations": (_station, "station", ["site", "elevation_m", "technician", "calibrated"], "the weather station register"),
    "books": (_book, "catalog", ["title", "author", "year", "shelf"], "a library catalogue"),
}


def _render_table(style, columns, rows):
    if style == "csv":
        def cell(v):
            return f'"{v}"' if "," in v else v
        out = [",".join(columns)]
        out += [",".join(cell(r[c]) for c in columns) for r in rows]
        return out
    if style == "markdown":
        out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        out += ["| " + " | ".join(r[c] for c in columns) + " |" for r in rows]
        return out
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    out = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    out += ["  ".join(r[c].ljust(widths[c]) for c in columns).rstrip() for r in rows]
    return out


def records_table(ctx, rng, target_chars):
    vocab = ctx.vocab
    name = rng.choice(sorted(TABLES))
    maker, key_column, asked, what = TABLES[name]
    doc = Doc(kind="records_table", sources=[f"gen:records_table:{name}"])
    style = rng.choice(["csv", "markdown", "fixed"])
    sample = maker(vocab, rng)
    columns = list(sample)
    row_chars = sum(len(v) for v in sample.values()) + 3 * len(columns)
    rows, seen = [], set()
    while len(rows) < max(20, int(target_chars * 1.2 / row_chars)):
        row = maker(vocab, rng)
        if row[key_column] not in seen:
            seen.add(row[key_column])
            rows.append(row)
    lines = _render_table(style, columns, rows)
    header_count = 2 if style == "markdown" else 1
    header_lines, body = lines[:header_count], lines[header_count:]
    body = fill(iter(body), target_chars - 160 - sum(map(len, header_lines)))
    target_row = rows[early_index(rng, len(body))]
    column = rng.choice(asked)
    question = (f"What is the {column.replace('_', ' ')} listed for the {name[:-1]} whose "
                f"{key_column} is {target_row[key_column]}?")
    lines = header_lines + body
    if rng.random() < 0.2:
        return continuation(doc, lines)
    doc.keys = [target_row[key_column]]
    return finish(rng, doc, what, lines, question, target_row[column],
                  f"The {column.replace('_', ' ')} for {target_row[key_column]} is")


# ---------------------------------------------------------------- lists of facts
# Each maker returns (what the list is, its lines, candidates), a candidate being
# (line index, question, answer, keys, completion prefix) for one entry.

def _phone_book(vocab, rng, budget):
    people = vocab.people(rng, max(10, budget // 60))
    people.sort(key=lambda n: (n.rsplit(" ", 1)[1], n))
    lines, candidates = [], []
    for person in people:
        first, last = person.rsplit(" ", 1)
        phone = vocab.phone(rng)
        room = f"{rng.randrange(1, 9)}.{rng.randrange(1, 60):02d}"
        candidates.append((len(lines), f"What phone number is listed for {person}?", phone, [person],
                           f"{person} can be reached at"))
        lines.append(f"{last}, {first}".ljust(28, ".") + f" {phone}  room {room}  {rng.choice(vocab.departments)}")
    return "the internal phone list", lines, candidates


def _inventory(vocab, rng, budget):
    lines, candidates, seen = [], [], set()
    for _ in range(max(10, budget // 50)):
        bin_label = f"{rng.choice('ABCDEFGHJK')}-{rng.randrange(1, 60):02d}-{rng.randrange(1, 9)}"
        item = vocab.product(rng)
        quantity = f"{rng.randrange(1, 500)} {rng.choice(vocab.units)}"
        if item not in seen:
            seen.add(item)
            candidates.append((len(lines), f"Which bin holds the {item}, and how much of it is there?",
                               f"{bin_label}, {quantity}", [item], f"The {item} is in bin"))
        lines.append(f"bin {bin_label}: {quantity} of {item} (checked by {vocab.person(rng).split()[0]})")
    return "the stock-take sheet", lines, candidates


def _config(vocab, rng, budget):
    keys = ["timeout_ms", "retries", "pool_size", "log_level", "endpoint", "replica_count", "cache_ttl_s", "owner"]
    lines, candidates = [], []
    while sum(len(x) + 1 for x in lines) < budget * 1.2:
        section = f"{rng.choice(vocab.places).lower()}-{rng.choice(vocab.nouns).replace(' ', '-')}"
        lines.append(f"[{section}]")
        for key in rng.sample(keys, rng.randint(4, len(keys))):
            if key == "log_level":
                value = rng.choice(["debug", "info", "warn", "error"])
            elif key == "endpoint":
                value = f"https://{section}.internal:{rng.randrange(1024, 65535)}/v{rng.randrange(1, 4)}"
            elif key == "owner":
                value = vocab.person(rng).lower().replace(" ", ".")
            else:
                value = str(rng.randrange(1, 30000))
            candidates.append((len(lines), f"In the configuration above, what is {key} set to in the [{section}] section?",
                               value, [section], f"In [{section}], {key} is set to"))
            lines.append(f"{key} = {value}")
        if rng.random() < 0.3:
            lines.append(f"# {rng.choice(['tuned after the', 'reviewed in the', 'changed for the'])} "
                         f"{rng.choice(vocab.adjectives)} {rng.choice(vocab.nouns)} incident")
        lines.append("")
    return "our service configuration file", lines, candidates


def _cards(vocab, rng, budget):
    lines, candidates = [], []
    names = vocab.people(rng, budget // 120 + 10)
    while sum(len(x) + 1 for x in lines) < budget * 1.2 and names:
        card = {"Name": names.pop(), "Home town": rng.choice(vocab.places),
                "Favourite colour": rng.choice(vocab.colors),
                "Pet": f"a {rng.choice(['cat', 'dog', 'parrot', 'tortoise', 'rabbit', 'goldfish'])} called {rng.choice(vocab.first_names)}",
                "Instrument": rng.choice(["cello", "oboe", "banjo", "drums", "harp", "accordion", "none"]),
                "Locker": str(rng.randrange(1, 900))}
        field = rng.choice(["Home town", "Favourite colour", "Pet", "Instrument", "Locker"])
        candidates.append((len(lines), f"According to the member cards, what is the {field.lower()} of {card['Name']}?",
                           card[field], [card["Name"]], None))
        lines += [f"{k}: {v}" for k, v in card.items()] + [""]
    return "the club's member cards", lines, candidates


FACT_LISTS = {"phone_book": _phone_book, "inventory": _inventory, "config": _config, "cards": _cards}


def facts_list(ctx, rng, target_chars):
    name = rng.choice(sorted(FACT_LISTS))
    doc = Doc(kind="facts_list", sources=[f"gen:facts_list:{name}"])
    what, lines, candidates = FACT_LISTS[name](ctx.vocab, rng, target_chars)
    lines = fill(iter(lines), target_chars - 170)
    low, high = int(len(lines) * EARLY[0]), max(1, int(len(lines) * EARLY[1]))
    early = [c for c in candidates if low <= c[0] < high] or candidates[:1]
    _, question, answer, keys, prefix = rng.choice(early)
    if rng.random() < 0.15:
        return continuation(doc, lines)
    doc.keys = keys
    return finish(rng, doc, what, lines, question, answer, prefix)
