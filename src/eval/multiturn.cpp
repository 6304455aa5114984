#include "eval/multiturn.h"

#include <algorithm>
#include <random>

namespace fm::eval {
namespace {

template <size_t N>
const char* pick(std::mt19937_64& rng, const char* const (&list)[N]) {
  return list[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

// Word lists for the filler: a travel log of small, forgettable events.
const char* const kPeople[] = {"Marta", "Tomas", "Ines", "Kofi", "Yuki", "Pavel", "Leila", "Oscar", "Nadia",
                               "Rafael", "Sunita", "Henrik", "Amara", "Viktor", "Greta", "Malik"};
const char* const kPlaces[] = {"the ferry terminal", "a hillside vineyard", "the old observatory", "a fish market",
                               "the botanical garden", "a mountain hut", "the river docks", "a night bazaar",
                               "the clock tower", "a quiet monastery", "the tram depot", "a salt marsh"};
const char* const kActions[] = {"sketched", "photographed", "argued about", "walked past", "waited near",
                                "bought tea at", "got lost near", "read a guidebook at", "had lunch at",
                                "watched the rain at"};
const char* const kWeather[] = {"under a grey sky", "in bright sunshine", "in a light drizzle", "on a windy afternoon",
                                "at dusk", "early in the morning", "in thick fog", "after a storm"};
// Facts of four kinds with answers of different shapes (a code, a word, a name, a room
// number), so that a model cannot answer a question by copying its previous answer.
const char* const kVaults[] = {"amber", "cobalt", "crimson", "jade", "ivory", "violet", "copper", "silver",
                               "scarlet", "teal", "onyx", "saffron"};
const char* const kGates[] = {"north", "harbour", "orchard", "quarry", "chapel", "mill", "lantern", "cedar"};
const char* const kPasswords[] = {"buttercup", "thunderbolt", "marmalade", "periscope", "juniper", "lighthouse",
                                  "tangerine", "avalanche", "porcupine", "velvet", "kettledrum", "snowdrop"};
const char* const kOwners[] = {"Aunt Beatrix", "Captain Orwell", "Doctor Fenwick", "Uncle Ambrose", "Madame Roux",
                               "Professor Quill", "Sister Agatha", "Mister Pembroke"};
const char* const kPetNames[] = {"Biscuit", "Pepperoni", "Marigold", "Rasputin", "Noodle", "Galileo",
                                 "Clementine", "Waffles", "Bartholomew", "Pistachio"};
const char* const kCompanies[] = {"Hartwell Shipping", "Osprey Analytics", "Bluefin Foods", "Granite Insurance",
                                  "Kestrel Motors", "Lumen Textiles", "Northgate Bank", "Willow Pharma"};

struct Fact {
  std::string statement, question, answer_prefix, answer;
};

// The i-th fact of a kind; `taken` holds answers already used in this document.
Fact make_fact(int kind, int i, std::mt19937_64& rng, std::vector<std::string>& taken) {
  auto fresh = [&](auto make) {
    std::string a;
    do a = make();
    while (std::find(taken.begin(), taken.end(), a) != taken.end());
    taken.push_back(a);
    return a;
  };
  auto number = [&](int lo, int hi) { return std::to_string(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  Fact f;
  switch (kind) {
    case 0: {
      const std::string v = kVaults[i % 12];
      f.answer = fresh([&] { return number(100000, 999999); });
      f.statement = "Note: the pass code of the " + v + " vault is " + f.answer + ".";
      f.question = "What is the pass code of the " + v + " vault?";
      f.answer_prefix = "The pass code of the " + v + " vault is";
      break;
    }
    case 1: {
      const std::string g = kGates[i % 8];
      f.answer = fresh([&] { return std::string(pick(rng, kPasswords)); });
      f.statement = "Note: the password for the " + g + " gate is " + f.answer + ".";
      f.question = "What is the password for the " + g + " gate?";
      f.answer_prefix = "The password for the " + g + " gate is";
      break;
    }
    case 2: {
      const std::string o = kOwners[i % 8];
      f.answer = fresh([&] { return std::string(pick(rng, kPetNames)); });
      f.statement = "Note: " + o + "'s parrot is called " + f.answer + ".";
      f.question = "What is " + o + "'s parrot called?";
      f.answer_prefix = o + "'s parrot is called";
      break;
    }
    default: {
      const std::string c = kCompanies[i % 8];
      f.answer = fresh([&] { return number(100, 899); });
      f.statement = "Note: the meeting with " + c + " is in room " + f.answer + ".";
      f.question = "In which room is the meeting with " + c + "?";
      f.answer_prefix = "The meeting with " + c + " is in room";
      break;
    }
  }
  return f;
}

std::string filler_sentence(std::mt19937_64& rng) {
  std::string s = std::string(pick(rng, kPeople)) + " " + pick(rng, kActions) + " " + pick(rng, kPlaces) + " " +
                  pick(rng, kWeather);
  const int hour = std::uniform_int_distribution<int>(6, 22)(rng);
  return s + " and left around " + std::to_string(hour) + ":00.";
}

// Question order over facts 0..n-1 (in document order): no two consecutive questions about
// neighbouring facts, so each turn needs a part of the document the previous one did not.
std::vector<int> question_order(int n, std::mt19937_64& rng) {
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::shuffle(order.begin(), order.end(), rng);
    bool spread = true;
    for (int i = 1; i < n && spread; ++i) spread = std::abs(order[i] - order[i - 1]) > 1;
    if (spread || n < 4) return order;
  }
  return order;
}

}  // namespace

namespace {

// A travel log of about target_tokens tokens with `statements` (each marked "Note:") at
// spread depths: statement i in the i-th of n equal slices, at a random point inside it.
struct Document {
  std::string text;
  std::vector<double> depths;
  size_t tokens = 0;
};

Document document_with(const std::string& intro, const std::vector<std::string>& statements, size_t target_tokens,
                       std::mt19937_64& rng, const TokenCounter& counter) {
  const int n = (int)statements.size();
  // Sentence count from the measured length of a sample of filler.
  std::string probe;
  for (int i = 0; i < 50; ++i) probe += filler_sentence(rng) + " ";
  const double per_sentence = std::max<double>(1.0, (double)counter(probe) / 50.0);
  const size_t n_sentences = (size_t)std::max<double>(4.0 * n, (double)target_tokens / per_sentence);
  std::vector<std::string> sentences(n_sentences);
  for (auto& x : sentences) x = filler_sentence(rng);
  Document d;
  d.depths.resize((size_t)n);
  for (int i = 0; i < n; ++i) d.depths[(size_t)i] = (i + std::uniform_real_distribution<double>(0.15, 0.85)(rng)) / n;
  // From the last, so that earlier positions stay valid.
  for (int i = n - 1; i >= 0; --i) {
    sentences.insert(sentences.begin() + (long)(d.depths[(size_t)i] * (double)sentences.size()), statements[(size_t)i]);
  }
  auto join = [&] {
    d.text = intro;
    for (size_t i = 0; i < sentences.size(); ++i) d.text += (i ? " " : "") + sentences[i];
    d.tokens = counter(d.text);
  };
  // Drop filler from the end (never a statement) until the document fits, about as many
  // sentences as the overshoot each time, counted again after each cut.
  for (join(); d.tokens > target_tokens; join()) {
    size_t drop = 1 + (size_t)((double)(d.tokens - target_tokens) / per_sentence);
    bool dropped = false;
    for (size_t i = sentences.size(); i-- > 0 && drop > 0;) {
      if (sentences[i].rfind("Note:", 0) == 0) continue;
      sentences.erase(sentences.begin() + (long)i);
      --drop;
      dropped = true;
    }
    if (!dropped) break;  // only statements left
  }
  return d;
}

}  // namespace

Result<MultiTurnSample> make_multiturn_sample(size_t target_tokens, int n_facts, uint64_t seed, size_t index,
                                              const TokenCounter& counter) {
  if (n_facts < 1 || n_facts > 12) {
    return Status::error("multiturn: between 1 and 12 facts per document");
  }
  std::mt19937_64 rng(seed * 1000003ull + index * 7919ull + 17);
  MultiTurnSample s;
  s.id = "multiturn_s" + std::to_string(seed) + "_" + std::to_string(index);
  // Kinds in a shuffled cycle; subjects (vault, gate, owner, company) drawn without repeats.
  std::vector<int> kinds = {0, 1, 2, 3};
  std::shuffle(kinds.begin(), kinds.end(), rng);
  const int subject_offset = std::uniform_int_distribution<int>(0, 7)(rng);
  std::vector<std::string> taken, statements;
  std::vector<Fact> facts;
  for (int i = 0; i < n_facts; ++i) {
    facts.push_back(make_fact(kinds[(size_t)i % 4], subject_offset + i / 4, rng, taken));
    statements.push_back(facts.back().statement);
  }
  const Document d = document_with(
      "Below is a travel log. Some entries are notes of facts (codes, passwords, names, rooms); remember them, you "
      "will be asked.\n\n",
      statements, target_tokens, rng, counter);
  s.document = d.text;
  s.document_tokens = d.tokens;
  for (int q : question_order(n_facts, rng)) {
    s.questions.push_back(facts[(size_t)q].question);
    s.answer_prefixes.push_back(facts[(size_t)q].answer_prefix);
    s.answers.push_back(facts[(size_t)q].answer);
    s.depths.push_back(d.depths[(size_t)q]);
  }
  return s;
}

Result<TaskSample> make_long_answer_sample(size_t target_tokens, int n_keys, uint64_t seed, size_t index,
                                           const TokenCounter& counter) {
  if (n_keys < 2 || n_keys > 26) return Status::error("longanswer: between 2 and 26 lockers per document");
  std::mt19937_64 rng(seed * 1000033ull + index * 104729ull + 29);
  // Lockers A, B, C, ... (the first n_keys letters) in a shuffled order along the document,
  // so that the list asked for (alphabetical) walks back and forth through it rather than
  // front to back.
  std::vector<int> letters((size_t)n_keys);
  for (int i = 0; i < n_keys; ++i) letters[(size_t)i] = i;
  std::shuffle(letters.begin(), letters.end(), rng);
  std::vector<std::string> statements, codes((size_t)n_keys);
  for (int i = 0; i < n_keys; ++i) {
    std::string code;
    do code = std::to_string(std::uniform_int_distribution<int>(10000, 99999)(rng));
    while (std::find(codes.begin(), codes.end(), code) != codes.end());
    codes[(size_t)i] = code;
    statements.push_back(std::string("Note: the code of locker ") + (char)('A' + letters[(size_t)i]) + " is " + code + ".");
  }
  const Document d = document_with(
      "Below is a travel log. Some entries note the codes of lockers; remember them, you will be asked.\n\n",
      statements, target_tokens, rng, counter);
  std::vector<int> order((size_t)n_keys);
  for (int i = 0; i < n_keys; ++i) order[(size_t)i] = i;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return letters[(size_t)a] < letters[(size_t)b]; });
  TaskSample t;
  t.task = "locker_codes";
  t.id = "longanswer_s" + std::to_string(seed) + "_" + std::to_string(index);
  t.context = d.text;
  std::string names;
  for (size_t k = 0; k < order.size(); ++k) names += (k ? ", " : "") + std::string(1, (char)('A' + letters[(size_t)order[k]]));
  t.question = "\n\nGive the code of every locker in the log, in alphabetical order of the lockers (" + names +
               "), one sentence per locker, as the notes put it.";
  t.answer_prefix = std::string("The code of locker ") + (char)('A' + letters[(size_t)order[0]]) + " is";
  for (int k : order) t.answers.push_back(codes[(size_t)k]);
  // The same answer, teacher-forced: each code (scored) after its locker's sentence start.
  for (size_t k = 0; k < order.size(); ++k) {
    if (k > 0) {
      t.forced_reference.push_back({std::string(". The code of locker ") + (char)('A' + letters[(size_t)order[k]]) + " is", false});
    }
    t.forced_reference.push_back({" " + codes[(size_t)order[k]], true});
  }
  t.forced_reference.push_back({".", false});
  t.metric = Metric::kOrderedAll;
  t.max_new_tokens = 16 * n_keys + 32;  // about 8 tokens a line, with room to spare
  t.length_tokens = counter(t.context + t.question);
  return t;
}

}  // namespace fm::eval
