// Request parsing and the streamed text: what a client may get wrong is named in the error,
// and a stream never sends a stop string or half a UTF-8 character.
#include <gtest/gtest.h>

#include "server/api_request.h"
#include "server/text_stream.h"

namespace fm::server {
namespace {

GenerationRequest ok(std::string_view body, bool chat = true) {
  auto r = parse_generation_request(body, chat);
  EXPECT_TRUE(std::holds_alternative<GenerationRequest>(r)) << body;
  return std::holds_alternative<GenerationRequest>(r) ? std::get<GenerationRequest>(r) : GenerationRequest{};
}

ApiError bad(std::string_view body, bool chat = true) {
  auto r = parse_generation_request(body, chat);
  EXPECT_TRUE(std::holds_alternative<ApiError>(r)) << body;
  return std::holds_alternative<ApiError>(r) ? std::get<ApiError>(r) : ApiError{};
}

TEST(ApiRequest, ReadsAChatRequest) {
  GenerationRequest r = ok(R"({"model":"m","messages":[{"role":"developer","content":"be brief"},
      {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
      "max_tokens":7,"temperature":0,"top_p":0.5,"top_k":3,"seed":9,"stop":["x","y"],"stream":true,
      "stream_options":{"include_usage":true},"session":"conv-1","logprobs":false,"user":"u"})");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_EQ(r.max_tokens, 7);
  EXPECT_EQ(r.sampling.temperature, 0.0f);
  EXPECT_EQ(r.sampling.top_k, 3);
  EXPECT_EQ(r.sampling.seed, 9u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(r.stream && r.include_usage);
  EXPECT_EQ(r.session, "conv-1");
}

TEST(ApiRequest, DefaultsAreLlamaServers) {
  GenerationRequest r = ok(R"({"prompt":"hi"})", false);
  EXPECT_EQ(r.prompt, "hi");
  EXPECT_EQ(r.max_tokens, -1);
  EXPECT_FLOAT_EQ(r.sampling.temperature, kDefaultTemperature);
  EXPECT_EQ(r.sampling.top_k, kDefaultTopK);
}

TEST(ApiRequest, NamesTheFieldThatIsWrong) {
  EXPECT_EQ(bad("{").param, "");
  EXPECT_EQ(bad("[]").message, "the body must be a JSON object");
  EXPECT_EQ(bad(R"({"messages":[]})").param, "messages");
  EXPECT_EQ(bad(R"({"messages":"hi"})").param, "messages");
  EXPECT_EQ(bad(R"({"messages":[{"role":"robot","content":"x"}]})").param, "messages[0].role");
  EXPECT_EQ(bad(R"({"messages":[{"role":"user"}]})").param, "messages[0].content");
  EXPECT_EQ(bad(R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})").param, "messages[0].content");
  const char* msg = R"("messages":[{"role":"user","content":"x"}])";
  for (std::string field : {R"("max_tokens":0)", R"("max_tokens":2.5)", R"("max_tokens":"9")",
                            R"("max_tokens":99999999999)", R"("temperature":-1)", R"("temperature":"hot")",
                            R"("top_p":0)", R"("top_k":-2)", R"("n":2)", R"("stop":5)", R"("stop":["a","b","c","d","e"])",
                            R"("stop":[""])", R"("stream":1)", R"("session":"../etc")", R"("session":"")",
                            R"("model":3)", R"("stream_options":{"include_usage":"yes"})"}) {
    const std::string body = std::string("{") + msg + "," + field + "}";
    const ApiError e = bad(body);
    EXPECT_EQ(e.http_status, 400) << body;
    EXPECT_FALSE(e.param.empty()) << body;
  }
  EXPECT_EQ(bad(R"({"prompt":""})", false).param, "prompt");
  EXPECT_EQ(bad(R"({"prompt":[1,2]})", false).param, "prompt");
  EXPECT_EQ(bad("{\"prompt\":\"\xff\"}", false).message, "the body is not valid JSON (or not valid UTF-8)");
}

TEST(ApiRequest, LogprobsInBothShapes) {
  const char* msg = R"({"messages":[{"role":"user","content":"x"}])";
  EXPECT_EQ(ok(std::string(msg) + "}").logprobs, -1);
  EXPECT_EQ(ok(std::string(msg) + R"(,"logprobs":true})").logprobs, 0);
  EXPECT_EQ(ok(std::string(msg) + R"(,"logprobs":true,"top_logprobs":20})").logprobs, 20);
  EXPECT_EQ(bad(std::string(msg) + R"(,"logprobs":false,"top_logprobs":3})").param, "top_logprobs");
  EXPECT_EQ(bad(std::string(msg) + R"(,"top_logprobs":3})").param, "top_logprobs");
  EXPECT_EQ(bad(std::string(msg) + R"(,"logprobs":true,"top_logprobs":21})").param, "top_logprobs");
  EXPECT_EQ(bad(std::string(msg) + R"(,"logprobs":1})").param, "logprobs");
  EXPECT_EQ(ok(R"({"prompt":"x","logprobs":5})", false).logprobs, 5);
  EXPECT_EQ(ok(R"({"prompt":"x","logprobs":null})", false).logprobs, -1);
  EXPECT_EQ(bad(R"({"prompt":"x","logprobs":6})", false).param, "logprobs");
  EXPECT_EQ(bad(R"({"prompt":"x","logprobs":true})", false).param, "logprobs");
}

TEST(ApiRequest, ErrorBodyIsOpenAiShaped) {
  EXPECT_EQ(error_body(ApiError::invalid("no", "max_tokens", "c")),
            R"({"error":{"code":"c","message":"no","param":"max_tokens","type":"invalid_request_error"}})");
}

TEST(TextStream, HoldsBackAPossibleStopStringAndCutsAtIt) {
  TextStream s({"STOP"});
  EXPECT_EQ(s.append("hello S"), "hello ");
  EXPECT_EQ(s.append("T"), "");
  EXPECT_EQ(s.append("x"), "STx");  // not a stop string after all
  EXPECT_EQ(s.append(" ST"), " ");
  EXPECT_EQ(s.append("OP and more"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.append("more"), "");
  EXPECT_EQ(s.flush(), "");
}

TEST(TextStream, NeverSplitsAUtf8Character) {
  TextStream s({});
  const std::string euro = "\xE2\x82\xAC";
  EXPECT_EQ(s.append("a" + euro.substr(0, 1)), "a");
  EXPECT_EQ(s.append(euro.substr(1, 1)), "");
  EXPECT_EQ(s.append(euro.substr(2)), euro);
  EXPECT_EQ(s.append("\xF0\x9F"), "");
  EXPECT_EQ(s.flush(), "");  // a character that can never complete is dropped
  EXPECT_EQ(sanitize_utf8("a\xFFz"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(incomplete_utf8_tail("ab\xE2\x82"), 2u);
  EXPECT_EQ(incomplete_utf8_tail("ab" + euro), 0u);
}

TEST(SessionName, OnlySafeFileNames) {
  EXPECT_TRUE(valid_session_name("user-1:chat_2.v3"));
  for (std::string name : std::vector<std::string>{"", ".hidden", "a/b", "a b", std::string(129, 'x'), "..", "x\n"}) {
    EXPECT_FALSE(valid_session_name(name)) << name;
  }
}

}  // namespace
}  // namespace fm::server
