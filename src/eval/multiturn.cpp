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

Result<MultiTurnSample> make_multiturn_sample(size_t target_tokens, int n_facts, uint64_t seed, size_t index,
                                              const TokenCounter& counter) {
  if (n_facts < 1 || n_facts > 12) {
    return Status::error("multiturn: between 1 and 12 facts per document");
  }
  std::mt19937_64 rng(seed * 1000003ull + index * 7919ull + 17);
  MultiTurnSample s;
  s.id = "multiturn_s" + std::to_string(seed) + "_" + std::to_string(index);
  const std::string intro =
      "Below is a travel log. Some entries are notes of facts (codes, passwords, names, rooms); remember them, you "
      "will be asked.\n\n";
  // Sentence count from the measured length of a sample of filler.
  std::string probe;
  for (int i = 0; i < 50; ++i) probe += filler_sentence(rng) + " ";
  const double per_sentence = std::max<double>(1.0, (double)counter(probe) / 50.0);
  const size_t n_sentences = (size_t)std::max<double>(4.0 * n_facts, (double)target_tokens / per_sentence);
  std::vector<std::string> sentences(n_sentences);
  for (auto& x : sentences) x = filler_sentence(rng);

  // Kinds in a shuffled cycle; subjects (vault, gate, owner, company) drawn without repeats.
  std::vector<int> kinds = {0, 1, 2, 3};
  std::shuffle(kinds.begin(), kinds.end(), rng);
  const int subject_offset = std::uniform_int_distribution<int>(0, 7)(rng);
  std::vector<std::string> taken;
  std::vector<Fact> facts;
  for (int i = 0; i < n_facts; ++i) facts.push_back(make_fact(kinds[(size_t)i % 4], subject_offset + i / 4, rng, taken));
  std::vector<double> depths((size_t)n_facts);
  // Fact i in the i-th of n_facts equal slices, at a random point inside it; inserted from
  // the last so that earlier positions stay valid.
  for (int i = 0; i < n_facts; ++i) depths[(size_t)i] = (i + std::uniform_real_distribution<double>(0.15, 0.85)(rng)) / n_facts;
  for (int i = n_facts - 1; i >= 0; --i) {
    sentences.insert(sentences.begin() + (long)(depths[(size_t)i] * (double)sentences.size()), facts[(size_t)i].statement);
  }
  s.document = intro;
  for (size_t i = 0; i < sentences.size(); ++i) s.document += (i ? " " : "") + sentences[i];
  // Trim filler from the end until the document fits (a fact is never removed).
  s.document_tokens = counter(s.document);
  while (s.document_tokens > target_tokens) {
    // About as many sentences as the overshoot, one at least, counted again after each cut.
    const size_t drop = 1 + (size_t)((double)(s.document_tokens - target_tokens) / per_sentence);
    size_t cut = s.document.size();
    for (size_t k = 0; k < drop && cut != std::string::npos && cut > 0; ++k) cut = s.document.rfind(". ", cut - 1);
    if (cut == std::string::npos || s.document.find("Note:", cut) != std::string::npos) break;
    s.document.resize(cut + 1);
    s.document_tokens = counter(s.document);
  }
  for (int q : question_order(n_facts, rng)) {
    s.questions.push_back(facts[(size_t)q].question);
    s.answer_prefixes.push_back(facts[(size_t)q].answer_prefix);
    s.answers.push_back(facts[(size_t)q].answer);
    s.depths.push_back(depths[(size_t)q]);
  }
  return s;
}

}  // namespace fm::eval
