#include "core/json.h"

#include <gtest/gtest.h>

namespace fm {

TEST(Json, ParsesNestedValuesAndEscapes) {
  auto v = json::parse(R"({"a": [1, -2.5e1, true, null], "b": {"c": "x\"\u00e9\ud83d\ude00"}})");
  ASSERT_TRUE(v) << v.status().message();
  const json::Value* a = v->get("a");
  ASSERT_TRUE(a && a->is_array());
  EXPECT_EQ(a->array[1].number, -25.0);
  EXPECT_TRUE(a->array[2].boolean);
  EXPECT_TRUE(a->array[3].is_null());
  EXPECT_EQ(v->get("b")->get("c")->string, "x\"\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(Json, RejectsMalformedInputWithTheOffset) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "\"abc", "tru", "01x", "[1] 2",
                          "\"\\q\"", "{\"a\":}"}) {
    auto v = json::parse(bad);
    EXPECT_FALSE(v) << bad;
    if (!v) EXPECT_NE(v.status().message().find("at byte"), std::string::npos);
  }
  std::string deep(10000, '[');
  EXPECT_FALSE(json::parse(deep));
}

}  // namespace fm
