"""Entity vocabularies for the structured generators, partitioned by split.

Names, places, products and words used as the *keys* that questions ask about come from
pools that are disjoint between training and validation documents, so validation measures
retrieval of entities the indexer has never seen. The lists below are our own; the
English word lists are read from $FLASHMEM_DATA/words at generation time.
"""
import hashlib

import sources

FIRST_NAMES = """
Aino Akira Alba Amara Anouk Arjun Astrid Bao Beatriz Bilal Bodhi Carmen Cato Chiara Dalia
Darius Dmitri Edda Efua Elio Emre Esme Farid Femi Freya Gaspard Greta Hamid Hedda Ilse
Imani Ines Isak Jalen Jia Joaquin Jonas Kaito Kamala Kasia Keanu Kofi Lars Leila Linnea
Lorenzo Lucia Magnus Malik Marisol Mateo Mei Mirela Nadia Naveen Nika Noor Odile Olek
Omar Oona Paavo Pilar Priya Quentin Rafael Rania Rhea Rosa Rufus Saanvi Sakura Selin
Soren Stellan Tamsin Tariq Thea Tobias Uma Valeria Vesna Viggo Wanjiru Xiomara Yara Yusuf
Zaid Zofia Anneli Bertil Cosima Dagny Eamon Fintan Gideon Halima Ismo Juno Kirra
""".split()

SURNAMES = """
Abara Achterberg Ahlgren Alvarado Amundsen Andrade Baptiste Barzani Belmonte Bergqvist
Castellanos Chaudhry Cianci Dahlberg Delacroix Demir Drummond Eklund Esposito Falkner
Ferreira Fujimoto Galloway Garnier Grabowski Haddad Halvorsen Hartono Ibarra Ishikawa
Jablonski Jovanovic Kagame Kaminski Karlsson Kowalczyk Lachance Lindqvist Lombardi
Machado Marchetti Mbeki Moreau Nakamura Navarro Nieminen Novak Obradovic Okafor Oyelaran
Pacheco Petrakis Quispe Rahimi Ramaswamy Rautio Rossetti Saarinen Salgado Santoro
Schreiber Sokolova Strand Takeda Tanaka Tembo Trinh Uddin Valdivia Varga Vasquez Wallin
Westergaard Yamada Yilmaz Zamora Zielinski Brennan Coulibaly Duarte Engel Fonseca Gunnarsson
""".split()

PLACES = """
Ashford Barrowmere Bellhaven Brackenridge Calderon Caswell Dunmore Eastwick Elmsworth
Fairhollow Fenwick Glenrock Greystone Halcombe Harrowgate Hollins Ironbridge Kestrel
Kingsmere Larkspur Lindenfeld Marlow Meadowbrook Millbrook Northgate Oakhurst Pebblecreek
Quarry Ravenscar Redcliffe Rosedale Saltmarsh Silverlake Southmoor Stonebridge Thornbury
Underhill Valemont Westbury Whitcombe Willowby Yarrowdale Ambergate Blackwater Coldharbour
Drywell Emberton Foxley Galeford Hartwell Ivydale Juniper Knollwood Lowther Mossgiel
""".split()

COLORS = """amber azure cobalt coral crimson cyan ebony emerald indigo ivory jade lavender
lilac magenta maroon ochre olive pearl plum russet saffron scarlet sepia slate teal umber
vermilion violet""".split()

UNITS = ["kg", "g", "m", "cm", "L", "mL", "pcs", "boxes", "rolls", "pairs"]
DEPARTMENTS = ["Accounts", "Facilities", "Research", "Logistics", "Legal", "Support",
               "Procurement", "Archives", "Training", "Security", "Design", "Field Operations"]
SERVICES = ["auth", "billing", "search", "gateway", "inventory", "notifier", "scheduler",
            "reports", "uploads", "profile", "catalog", "payments", "ledger", "mailer"]


class Vocab:
    """The entity pools of one split."""

    def __init__(self, split, val_fraction):
        def part(kind, words, min_size=4):
            # Words that would spell an evaluation template ("memorize", "magic") never serve.
            words = [w for w in words if not sources.contains_banned(w) and w.lower() not in ("magic", "special")]
            val_words = [w for w in words if sources.split_of(f"vocab:{kind}:{w}", val_fraction) == "val"]
            if min(len(val_words), len(words) - len(val_words)) < min_size:
                # A partition too small to be useful (tiny lists or a tiny fraction): both
                # splits take a deterministic slice instead, still disjoint.
                ordered = sorted(words, key=lambda w: (hashlib.sha1(f"order:{kind}:{w}".encode()).hexdigest(), w))
                cut = max(min_size, int(len(words) * val_fraction))
                val_words = ordered[:cut]
            val_set = set(val_words)
            return sorted(w for w in words if (w in val_set) == (split == "val"))

        self.split = split
        self.first_names = part("first", FIRST_NAMES)
        self.surnames = part("sur", SURNAMES)
        self.places = part("place", PLACES)
        self.colors = part("color", COLORS)
        self.nouns = part("noun", [w for w in sources.read_word_list("nounlist.txt") if w.islower()]
                          or ["anchor", "barrel", "candle", "drum", "engine", "fabric", "gasket", "hinge"])
        self.adjectives = part("adj", sources.read_word_list("adjectivelist.txt")
                               or ["brisk", "calm", "dusty", "eager", "faint", "glossy", "humble", "icy"])
        self.verbs = part("verb", sources.read_word_list("verblist.txt")
                          or ["build", "carry", "draw", "fetch", "gather", "hold", "join", "keep"])
        self.departments = DEPARTMENTS
        self.services = SERVICES
        self.units = UNITS

    # Entities are drawn with the document's own random generator.
    def person(self, rng):
        return f"{rng.choice(self.first_names)} {rng.choice(self.surnames)}"

    def people(self, rng, count):
        """`count` distinct names; middle initials keep them distinct when the pool is small."""
        seen, out = set(), []
        for attempt in range(count * 40):
            first, last = rng.choice(self.first_names), rng.choice(self.surnames)
            name = f"{first} {last}"
            if name in seen or attempt >= count * 2:
                name = f"{first} {rng.choice('ABCDEFGHJKLMNPRSTVW')}. {last}"
            if name not in seen:
                seen.add(name)
                out.append(name)
            if len(out) == count:
                break
        return out

    def product(self, rng):
        return f"{rng.choice(self.adjectives)} {rng.choice(self.nouns)}"

    def code(self, rng, prefix, digits=4):
        return f"{prefix}-{rng.randrange(10 ** (digits - 1), 10 ** digits)}"

    def hex_id(self, rng, length=8):
        return "".join(rng.choice("0123456789abcdef") for _ in range(length))

    def identifier(self, rng):
        """A snake_case name for code: verb_adjective_noun or verb_noun."""
        noun = rng.choice(self.nouns).replace("-", "_").lower()
        if rng.random() < 0.4:
            return f"{rng.choice(self.verbs).lower()}_{rng.choice(self.adjectives).replace('-', '_').lower()}_{noun}"
        return f"{rng.choice(self.verbs).lower()}_{noun}"

    def phone(self, rng):
        return f"+{rng.randrange(1, 99)} {rng.randrange(100, 999)} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
