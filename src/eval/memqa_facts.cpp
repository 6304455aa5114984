#include "eval/memqa_facts.h"

#include <set>

namespace fm::eval {

std::string_view memqa_type_name(MemQaQuestionType type) {
  switch (type) {
    case MemQaQuestionType::kSingleSessionUser:
      return "single_session_user";
    case MemQaQuestionType::kSingleSessionAssistant:
      return "single_session_assistant";
    case MemQaQuestionType::kMultiSession:
      return "multi_session";
    case MemQaQuestionType::kKnowledgeUpdate:
      return "knowledge_update";
    case MemQaQuestionType::kTemporalReasoning:
      return "temporal_reasoning";
    case MemQaQuestionType::kAbstention:
      return "abstention";
  }
  return "unknown";
}

const std::vector<std::string>& memqa_decline_phrases() {
  static const std::vector<std::string> kPhrases = {
      "not mentioned",  "never mentioned",        "did not mention", "didn't mention",
      "no information", "not enough information", "don't know",      "do not know",
      "cannot answer",  "can't answer",           "not sure",        "no record",
      "unknown",        "not provided",           "don't have",      "do not have"};
  return kPhrases;
}

namespace memqa {
namespace {

// Value pools. Names and places were checked against the essay haystack so that filler
// rarely has to reject a sentence for naming them.
const std::vector<std::string> kPeople = {
    "Maya",   "Tobias", "Priya",   "Elena",  "Marcus", "Ingrid", "Rafael",  "Noor",
    "Declan", "Yuki",   "Beatriz", "Olu",    "Hannah", "Matteo", "Saoirse", "Kofi",
    "Lena",   "Arjun",  "Camille", "Viktor", "Amara",  "Jonas",  "Farah",   "Emil",
    "Rosa",   "Theo",   "Anika",   "Caleb",  "Mirela", "Dario"};
const std::vector<std::string> kSisterNames = {"Maya",    "Priya", "Elena",   "Ingrid",
                                               "Noor",    "Yuki",  "Beatriz", "Hannah",
                                               "Saoirse", "Lena",  "Camille", "Amara"};
const std::vector<std::string> kSurnames = {"Okafor",   "Lindqvist", "Moreau", "Takahashi",
                                            "Castillo", "Brennan",   "Novak",  "Haddad",
                                            "Petrov",   "Abernathy"};
const std::vector<std::string> kPetNames = {
    "Biscuit", "Pepper", "Mochi", "Juniper", "Waffles",  "Ziggy", "Clementine", "Nacho",
    "Pickles", "Otis",   "Maple", "Pretzel", "Sprocket", "Tofu",  "Gizmo"};
const std::vector<std::string> kCities = {
    "Lisbon",   "Denver",   "Osaka",     "Melbourne", "Toronto",    "Edinburgh",
    "Valencia", "Montreal", "Krakow",    "Nairobi",   "Dublin",     "Auckland",
    "Tucson",   "Bristol",  "Vancouver", "Marseille", "Minneapolis"};
const std::vector<std::string> kJobs = {"nurse",      "civil engineer",     "graphic designer",
                                        "pharmacist", "data analyst",       "veterinary technician",
                                        "architect",  "physical therapist", "accountant",
                                        "sous chef",  "librarian",          "electrician",
                                        "translator", "paramedic",          "urban planner"};
const std::vector<std::string> kCars = {"Honda Civic", "Subaru Outback", "Toyota Prius",
                                        "Mazda Miata", "Ford Ranger",    "Volvo Wagon",
                                        "Kia Soul",    "Jeep Wrangler"};
const std::vector<std::string> kInstruments = {"cello",     "ukulele",   "banjo",
                                               "trumpet",   "saxophone", "harp",
                                               "accordion", "mandolin",  "clarinet"};
const std::vector<std::string> kMajors = {"marine biology", "art history", "mechanical engineering",
                                          "linguistics",    "geology",     "nutrition science"};
const std::vector<std::string> kAllergens = {"peanuts", "shellfish", "penicillin",
                                             "pollen",  "sesame",    "latex"};
const std::vector<std::string> kCuisines = {"Ethiopian", "Peruvian", "Korean",
                                            "Lebanese",  "Georgian", "Vietnamese"};
const std::vector<std::string> kCountries = {"Portugal", "Vietnam", "Morocco", "Iceland",
                                             "Peru",     "Greece",  "Croatia", "Chile",
                                             "Norway",   "Kenya",   "Mexico",  "Jordan"};
const std::vector<std::string> kSpecies = {"dog",     "cat",    "parrot", "rabbit",
                                           "hamster", "turtle", "ferret"};
const std::vector<std::string> kPurchases = {
    "kayak",           "telescope",       "espresso machine", "sewing machine", "standing desk",
    "air fryer",       "drone",           "camping tent",     "record player",  "rowing machine",
    "pressure cooker", "electric scooter"};
struct Event {
  std::string today_statement;  // completes "Today I ..."
  std::string past_phrase;      // completes "How many days ago did I ..."
  std::string name;             // "the pottery class"
};
const std::vector<Event> kEvents = {
    {"took my very first pottery class", "take my first pottery class", "the pottery class"},
    {"ran a half marathon along the river", "run the half marathon", "the half marathon"},
    {"went to a jazz concert downtown", "go to the jazz concert", "the jazz concert"},
    {"had my wisdom teeth removed", "have my wisdom teeth removed", "the wisdom teeth removal"},
    {"did a volunteer shift at the food bank", "volunteer at the food bank", "the food bank shift"},
    {"went on a guided birdwatching walk", "go birdwatching", "the birdwatching walk"},
    {"finished a beginner climbing course", "finish the climbing course", "the climbing course"},
    {"went to a glassblowing workshop", "go to the glassblowing workshop",
     "the glassblowing workshop"}};
const std::vector<std::string> kVegetables = {"carrots", "parsnips", "beets", "cauliflower",
                                              "sweet potatoes"};
const std::vector<std::string> kNamingProjects = {"sailboat", "food truck", "podcast",
                                                  "bakery",   "book club",  "chess team"};
const std::vector<std::string> kTrips = {"hiking weekend", "beach weekend", "ski trip",
                                         "camping trip"};
struct BikeCost {
  std::string item;
  int lo, hi;
};
const std::vector<BikeCost> kBikeCosts = {{"a new helmet", 35, 90},  {"lights", 15, 45},
                                          {"a tune-up", 40, 120},    {"new tires", 50, 110},
                                          {"a sturdy lock", 20, 60}, {"a padded saddle", 25, 80}};

const std::vector<std::string> kNumberWords = {"zero", "one",   "two",   "three", "four", "five",
                                               "six",  "seven", "eight", "nine",  "ten"};

const std::vector<std::string> kAcknowledgements = {"Thanks for sharing that.",
                                                    "Good to know!",
                                                    "That sounds like a lot to keep track of.",
                                                    "I appreciate you telling me.",
                                                    "Noted, that is helpful context.",
                                                    "Oh, how nice."};

std::vector<std::string> number_answers(int n) {
  std::vector<std::string> answers = {std::to_string(n)};
  if (n >= 0 && n < static_cast<int>(kNumberWords.size())) answers.push_back(kNumberWords[n]);
  return answers;
}

// The user's message carrying a fact, and a reply that acknowledges it with some prose.
Exchange user_states(const std::string& statement, Rng& rng, const FillerSource& filler,
                     const ReservedWords& reserved) {
  // Leads are whole sentences so the statement keeps its own capital letter.
  static const std::vector<std::string> kLeads = {"", "One thing I forgot. ",
                                                  "Oh, one more thing. ", "Quick update. ",
                                                  "Something small to mention. "};
  static const std::vector<std::string> kTails = {"", " Anyway, how are you?",
                                                  " Any thoughts on staying focused this week?",
                                                  " Just wanted to mention it."};
  Exchange e;
  e.user = {true, rng.pick(kLeads) + statement + rng.pick(kTails)};
  e.assistant = {false, rng.pick(kAcknowledgements) + " " + filler.sentences(rng, reserved, 1)};
  return e;
}

// A fact stated once; the single-session-user questions and the background.
struct StatedFact {
  std::string category;
  std::string value;      // words kept out of filler
  std::string statement;  // the user's words
  std::string question;
  std::vector<std::string> answers;
};

constexpr int kStatedFactKinds = 8;

StatedFact stated_fact(int kind, Rng& rng) {
  switch (kind) {
    case 0: {
      const std::string name = rng.pick(kSisterNames);
      return {"family",
              name,
              "My sister " + name + " is coming to stay with me next month.",
              "What is my sister's name?",
              {name}};
    }
    case 1: {
      const std::string name = rng.pick(kPetNames);
      return {"pet",
              name,
              "I have to get home soon to walk my dog, " + name + ".",
              "What is my dog's name?",
              {name}};
    }
    case 2: {
      const std::string city = rng.pick(kCities);
      return {"city",
              city,
              "I grew up in " + city + ", so I still miss it sometimes.",
              "In which city did I grow up?",
              {city}};
    }
    case 3: {
      const std::string instrument = rng.pick(kInstruments);
      return {"music",
              instrument,
              "I started taking " + instrument + " lessons on weekends.",
              "Which instrument am I taking lessons for?",
              {instrument, "the " + instrument}};
    }
    case 4: {
      const std::string major = rng.pick(kMajors);
      return {"education",
              major,
              "Back in college I majored in " + major + ".",
              "What did I major in at college?",
              {major}};
    }
    case 5: {
      const std::string allergen = rng.pick(kAllergens);
      return {"health",
              allergen,
              "I am allergic to " + allergen + ", so I always have to check labels.",
              "What am I allergic to?",
              {allergen}};
    }
    case 6: {
      const int minutes = rng.between(12, 75);
      const std::string m = std::to_string(minutes);
      return {"work",
              "commute",
              "My commute takes " + m + " minutes each way.",
              "How many minutes does my commute take each way?",
              {m, m + " minutes"}};
    }
    default: {
      const std::string cuisine = rng.pick(kCuisines);
      return {"food",
              cuisine,
              "If I could eat one kind of food forever it would be " + cuisine + " food.",
              "What kind of food is my favorite?",
              {cuisine, cuisine + " food"}};
    }
  }
}

// A fact that changes: the original statement, an optional later mention of the
// original, the update, and the question about the present value.
struct ChangingFact {
  std::string category;
  std::string old_value, new_value;
  std::string original, mention, update;
  std::string question;
  std::vector<std::string> answers;
};

constexpr int kChangingFactKinds = 6;

template <typename T>
std::pair<T, T> two_distinct(const std::vector<T>& items, Rng& rng) {
  const std::size_t a = rng.below(items.size());
  std::size_t b = rng.below(items.size() - 1);
  if (b >= a) ++b;
  return {items[a], items[b]};
}

ChangingFact changing_fact(int kind, Rng& rng) {
  switch (kind) {
    case 0: {
      auto [from, to] = two_distinct(kCities, rng);
      return {"city",
              from,
              to,
              "I have been living in " + from + " for about three years now.",
              "The farmers market here in " + from + " was packed this weekend.",
              "Big news: we finished the move from " + from + " and I live in " + to + " now.",
              "Which city do I live in now?",
              {to}};
    }
    case 1: {
      auto [from, to] = two_distinct(kJobs, rng);
      return {"work",
              from,
              to,
              "I work as " + with_article(from) + ", and the shifts can be long.",
              "Being " + with_article(from) + " wore me out this week.",
              "I left my job as " + with_article(from) + " and started working as " +
                  with_article(to) + " on Monday.",
              "What is my job now?",
              {to, with_article(to)}};
    }
    case 2: {
      auto [from, to] = two_distinct(kCars, rng);
      return {"car",
              from,
              to,
              "I drive a " + from + " to most places.",
              "The " + from + " needed new wiper blades again.",
              "I finally sold the " + from + ", so now I drive a " + to + ".",
              "What car do I drive now?",
              {to, "a " + to}};
    }
    case 3: {
      const int from = rng.between(1, 3), to = rng.between(4, 6);
      const std::string f = std::to_string(from), t = std::to_string(to);
      ChangingFact fact{"fitness",
                        f,
                        t,
                        "I go to the gym " + f + " times a week, no more.",
                        "Gym was fine this week, my usual " + f + " visits.",
                        "I have stepped it up: I now go to the gym " + t + " times a week.",
                        "How many times a week do I go to the gym now?",
                        number_answers(to)};
      return fact;
    }
    case 4: {
      auto [from, to] = two_distinct(kPeople, rng);
      return {"manager",
              from,
              to,
              "My manager, " + from + ", asked me to lead the next project.",
              "I had a long one-on-one with " + from + " about my goals.",
              from + " left the company, so " + to + " is my manager now.",
              "What is the name of my current manager?",
              {to}};
    }
    default: {
      const int from = rng.between(26, 34), to = from - rng.between(1, 3);
      const std::string f = std::to_string(from), t = std::to_string(to);
      return {"running",
              f,
              t,
              "My best 5K time so far is " + f + " minutes.",
              "Still chasing that " + f + " minute 5K, but my legs felt heavy.",
              "I set a new 5K personal best today: " + t + " minutes!",
              "What is my best 5K time, in minutes?",
              {t, t + " minutes"}};
    }
  }
}

// Background: stated facts from categories the question does not touch.
void add_background(QuestionPlan& plan, const std::set<std::string>& used_categories, Rng& rng,
                    const FillerSource& filler) {
  const int wanted = rng.between(3, 5);
  std::set<std::string> categories = used_categories;
  for (int attempt = 0; attempt < 64 && static_cast<int>(plan.background.size()) < wanted;
       ++attempt) {
    StatedFact fact = stated_fact(static_cast<int>(rng.below(kStatedFactKinds)), rng);
    if (categories.count(fact.category) || plan.reserved.hits(fact.statement)) continue;
    categories.insert(fact.category);
    plan.background.push_back(user_states(fact.statement, rng, filler, plan.reserved));
  }
}

void plan_single_session_user(QuestionPlan& plan, std::set<std::string>& used, Rng& rng,
                              const FillerSource& filler) {
  StatedFact fact = stated_fact(static_cast<int>(rng.below(kStatedFactKinds)), rng);
  used.insert(fact.category);
  plan.reserved.add(fact.value);
  plan.evidence.push_back(user_states(fact.statement, rng, filler, plan.reserved));
  plan.question = fact.question;
  plan.answers = fact.answers;
}

void plan_single_session_assistant(QuestionPlan& plan, std::set<std::string>& used, Rng& rng,
                                   const FillerSource& filler) {
  used.insert("assistant");
  Exchange e;
  e.user.from_user = true;
  e.assistant.from_user = false;
  switch (rng.below(4)) {
    case 0: {
      const std::string project = rng.pick(kNamingProjects);
      const std::string name = "The " + capitalized(filler.adjective(rng, plan.reserved)) + " " +
                               capitalized(filler.noun(rng, plan.reserved));
      plan.reserved.add(name.substr(4));
      e.user.text = "I need a name for my new " + project + ". Any ideas?";
      e.assistant.text = "How about \"" + name +
                         "\"? It is short, easy to remember, and a little playful. " +
                         filler.sentences(rng, plan.reserved, 1);
      plan.question = "What name did you suggest for my " + project + "?";
      plan.answers = {name, name.substr(4)};
      break;
    }
    case 1: {
      const std::string vegetable = rng.pick(kVegetables);
      const int minutes = rng.between(18, 55), degrees = 25 * rng.between(15, 18);
      plan.reserved.add(vegetable);
      e.user.text = "How long should I roast " + vegetable + " in the oven?";
      e.assistant.text = "Roast the " + vegetable + " at " + std::to_string(degrees) +
                         " degrees for about " + std::to_string(minutes) +
                         " minutes, turning them once halfway through.";
      plan.question = "For how many minutes did you tell me to roast the " + vegetable + "?";
      plan.answers = {std::to_string(minutes), std::to_string(minutes) + " minutes"};
      break;
    }
    case 2: {
      const std::string trip = rng.pick(kTrips);
      std::vector<std::string> items;
      while (items.size() < 4) {
        std::string item = filler.noun(rng, plan.reserved);
        plan.reserved.add(item);  // also keeps the four items distinct
        items.push_back(item);
      }
      e.user.text = "I am going on a " + trip + ". What are four things I should not forget?";
      e.assistant.text = "Here is a short list: 1. " + with_article(items[0]) + ", 2. " +
                         with_article(items[1]) + ", 3. " + with_article(items[2]) + ", 4. " +
                         with_article(items[3]) + ". Pack the heavy things first.";
      plan.question = "What was the third item on the list you gave me for my " + trip + "?";
      plan.answers = {items[2], with_article(items[2])};
      break;
    }
    default: {
      const std::string author = rng.pick(kPeople) + " " + rng.pick(kSurnames);
      const std::string title = "The " + capitalized(filler.adjective(rng, plan.reserved)) + " " +
                                capitalized(filler.noun(rng, plan.reserved));
      plan.reserved.add(author);
      plan.reserved.add(title.substr(4));
      e.user.text = "Can you recommend a novel for a long train ride?";
      e.assistant.text = "Try \"" + title + "\" by " + author +
                         ". It moves quickly and the ending stays with you.";
      plan.question = "Who is the author of the novel you recommended for my train ride?";
      plan.answers = {author};
      break;
    }
  }
  plan.evidence.push_back(std::move(e));
}

void plan_multi_session(QuestionPlan& plan, std::set<std::string>& used, Rng& rng,
                        const FillerSource& filler) {
  const int count = rng.between(2, 4);
  std::vector<std::string> statements;
  switch (rng.below(3)) {
    case 0: {
      used.insert("pet");
      plan.reserved.add("pet pets adopted adopt");
      std::vector<std::string> species = kSpecies, names = kPetNames;
      for (int i = 0; i < count; ++i) {
        const std::size_t s = rng.below(species.size()), n = rng.below(names.size());
        plan.reserved.add(species[s] + " " + names[n]);
        statements.push_back("We adopted " + with_article(species[s]) + " and named it " +
                             names[n] + ".");
        species.erase(species.begin() + static_cast<long>(s));
        names.erase(names.begin() + static_cast<long>(n));
      }
      plan.reserved.add("dog cat");  // neither may appear outside the adoption messages
      plan.question = "How many pets have I adopted, according to our chats?";
      plan.answers = number_answers(count);
      break;
    }
    case 1: {
      used.insert("travel");
      plan.reserved.add("trip trips country countries");
      std::vector<std::string> countries = kCountries;
      for (int i = 0; i < count; ++i) {
        const std::size_t c = rng.below(countries.size());
        plan.reserved.add(countries[c]);
        statements.push_back("I just got back from a trip to " + countries[c] + ".");
        countries.erase(countries.begin() + static_cast<long>(c));
      }
      plan.question = "How many different countries have I told you I traveled to?";
      plan.answers = number_answers(count);
      break;
    }
    default: {
      used.insert("bike");
      plan.reserved.add("bike bicycle cycling");
      std::vector<BikeCost> costs = kBikeCosts;
      int total = 0;
      for (int i = 0; i < count; ++i) {
        const std::size_t c = rng.below(costs.size());
        const int dollars = rng.between(costs[c].lo, costs[c].hi);
        total += dollars;
        statements.push_back("I spent $" + std::to_string(dollars) + " on " + costs[c].item +
                             " for my bike.");
        costs.erase(costs.begin() + static_cast<long>(c));
      }
      plan.question = "How much money have I spent on my bike in total, in dollars?";
      plan.answers = {"$" + std::to_string(total), std::to_string(total),
                      std::to_string(total) + " dollars"};
      break;
    }
  }
  for (const auto& s : statements)
    plan.evidence.push_back(user_states(s, rng, filler, plan.reserved));
}

void plan_knowledge_update(QuestionPlan& plan, std::set<std::string>& used, Rng& rng,
                           const FillerSource& filler) {
  ChangingFact fact = changing_fact(static_cast<int>(rng.below(kChangingFactKinds)), rng);
  used.insert(fact.category);
  plan.reserved.add(fact.old_value);
  plan.reserved.add(fact.new_value);
  plan.evidence.push_back(user_states(fact.original, rng, filler, plan.reserved));
  // Half the samples mention the old value again before the update, as people do.
  if (rng.below(2)) plan.evidence.push_back(user_states(fact.mention, rng, filler, plan.reserved));
  plan.evidence.push_back(user_states(fact.update, rng, filler, plan.reserved));
  plan.question = fact.question;
  plan.answers = fact.answers;
  plan.superseded_value = fact.old_value;
  plan.wrong_answers = {fact.old_value};
}

void plan_temporal(QuestionPlan& plan, std::set<std::string>& used, Rng& rng,
                   const FillerSource& filler) {
  used.insert("shopping");
  used.insert("events");
  const bool purchases = rng.below(2) == 0;
  std::string first_name, second_name, first_past, second_past;
  if (purchases) {
    auto [a, b] = two_distinct(kPurchases, rng);
    plan.reserved.add(a + " " + b + " bought buy");
    plan.evidence.push_back(
        user_states("I bought " + with_article(a) + " today.", rng, filler, plan.reserved));
    plan.evidence.push_back(
        user_states("I bought " + with_article(b) + " today.", rng, filler, plan.reserved));
    first_name = "the " + a;
    second_name = "the " + b;
    first_past = "buy the " + a;
    second_past = "buy the " + b;
  } else {
    auto [a, b] = two_distinct(kEvents, rng);
    plan.reserved.add(a.name.substr(4) + " " + b.name.substr(4));
    plan.evidence.push_back(
        user_states("Today I " + a.today_statement + ".", rng, filler, plan.reserved));
    plan.evidence.push_back(
        user_states("Today I " + b.today_statement + ".", rng, filler, plan.reserved));
    first_name = a.name;
    second_name = b.name;
    first_past = a.past_phrase;
    second_past = b.past_phrase;
  }
  switch (rng.below(3)) {
    case 0: {  // order: the evidence order is the session order
      const bool swap = rng.below(2) == 1;
      plan.question = std::string("Which came first, ") + (swap ? second_name : first_name) +
                      " or " + (swap ? first_name : second_name) + "?";
      plan.answers = {first_name, first_name.substr(4)};
      plan.wrong_answers = {second_name.substr(4)};
      break;
    }
    case 1:
      plan.question =
          purchases ? "How many days passed between the day I bought " + first_name +
                          " and the day I bought " + second_name + "?"
                    : "How many days passed between " + first_name + " and " + second_name + "?";
      plan.resolve_with_dates = [](const std::vector<Date>& dates, const Date&, QuestionPlan& p) {
        const long days = days_since_2000(dates[1]) - days_since_2000(dates[0]);
        p.answers = {std::to_string(days), std::to_string(days) + " days"};
      };
      break;
    default: {
      // Ask about one event only; the other stays as a distractor with its own date.
      const bool ask_second = rng.below(2) == 1;
      plan.question = "How many days ago did I " + (ask_second ? second_past : first_past) + "?";
      plan.resolve_with_dates = [ask_second](const std::vector<Date>& dates, const Date& today,
                                             QuestionPlan& p) {
        const long days = days_since_2000(today) - days_since_2000(dates[ask_second ? 1 : 0]);
        p.answers = {std::to_string(days), std::to_string(days) + " days"};
      };
      break;
    }
  }
  plan.max_new_tokens = 16;
}

// The history states a neighbouring fact (a sister, a dog, a kayak); the question asks
// about a subject that never appears anywhere in the history.
void plan_abstention(QuestionPlan& plan, std::set<std::string>& used, Rng& rng,
                     const FillerSource& filler) {
  struct Decoy {
    int stated_kind;  // a stated_fact kind, or -1 for a purchase
    std::string subject;
    std::string question;
  };
  static const std::vector<Decoy> kDecoys = {
      {0, "brother", "What is my brother's name?"},
      {0, "grandfather", "What was my grandfather's job?"},
      {1, "cat", "What is my cat's name?"},
      {2, "wife", "In which city did my wife grow up?"},
      {3, "violin", "How long have I been playing the violin?"},
      {5, "eczema", "What cream do I use for my eczema?"},
      {-1, "canoe", "How much did I pay for my canoe?"},
      {-1, "cruise", "Which ports did my cruise stop at?"}};
  const Decoy& decoy = rng.pick(kDecoys);
  plan.reserved.add(decoy.subject);
  plan.abstention_subject = decoy.subject;
  std::string statement;
  if (decoy.stated_kind >= 0) {
    StatedFact fact = stated_fact(decoy.stated_kind, rng);
    used.insert(fact.category);
    plan.reserved.add(fact.value);
    statement = fact.statement;
  } else {
    const std::string item = rng.pick(kPurchases);
    used.insert("shopping");
    plan.reserved.add(item);
    statement = "I bought " + with_article(item) + " today.";
  }
  plan.evidence.push_back(user_states(statement, rng, filler, plan.reserved));
  plan.question = decoy.question;
  plan.answers = memqa_decline_phrases();
  plan.metric = Metric::kAbstention;
  plan.max_new_tokens = 24;
}

}  // namespace

QuestionPlan plan_question(MemQaQuestionType type, Rng& rng, const FillerSource& filler) {
  QuestionPlan plan;
  plan.type = type;
  std::set<std::string> used;
  switch (type) {
    case MemQaQuestionType::kSingleSessionUser:
      plan_single_session_user(plan, used, rng, filler);
      break;
    case MemQaQuestionType::kSingleSessionAssistant:
      plan_single_session_assistant(plan, used, rng, filler);
      break;
    case MemQaQuestionType::kMultiSession:
      plan_multi_session(plan, used, rng, filler);
      break;
    case MemQaQuestionType::kKnowledgeUpdate:
      plan_knowledge_update(plan, used, rng, filler);
      break;
    case MemQaQuestionType::kTemporalReasoning:
      plan_temporal(plan, used, rng, filler);
      break;
    case MemQaQuestionType::kAbstention:
      plan_abstention(plan, used, rng, filler);
      break;
  }
  add_background(plan, used, rng, filler);
  return plan;
}

}  // namespace memqa
}  // namespace fm::eval
