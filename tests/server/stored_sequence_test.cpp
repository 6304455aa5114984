// A sequence cut into content-keyed pages and a tail, and put back together: bit-exact;
// a corrupt, truncated, foreign or misfiled blob is an error, never different KV.
#include <gtest/gtest.h>

#include "kv/kv_contents.h"
#include "kv/kv_store.h"
#include "kv/kv_test_support.h"
#include "server/stored_sequence.h"

namespace fm::server {
namespace {

StoredSequence sample(int n_tokens) {
  const KvLayout L = test::small_kv_layout(4);
  KvStore store(L);
  for (int done = 0; done < n_tokens; done += 5) test::append_kv_block(store, std::min(5, n_tokens - done), 7);
  StoredSequence s;
  EXPECT_TRUE(read_kv_contents(store, s.contents).is_ok());
  for (int i = 0; i < n_tokens; ++i) s.tokens.push_back(100 + i * 3);
  s.pending = {9};
  s.last_logits = {1.5f, -2.0f, 3.25f};
  s.text = std::string("caf\xc3", 4);  // ends inside a UTF-8 character: kept as bytes
  return s;
}

// Encodes s as a store would, then decodes the tail and every page into a fresh copy.
Status round_trip(const StoredSequence& s, std::vector<std::string>& pages, std::string& tail, StoredSequence& out) {
  const auto hashes = page_prefix_hashes(s.tokens, s.contents.layout.chunk_tokens, 1234);
  pages.clear();
  for (size_t p = 0; p < hashes.size(); ++p) pages.push_back(encode_page(s.contents, (int64_t)p, hashes[p]));
  if (tail.empty()) tail = encode_tail(s);
  FM_RETURN_IF_ERROR(decode_tail(tail, s.contents.layout, 1 << 20, out));
  for (size_t p = 0; p < hashes.size(); ++p) FM_RETURN_IF_ERROR(decode_page(pages[p], (int64_t)p, hashes[p], out.contents));
  return Status::ok();
}

TEST(StoredSequence, PagesAndTailRebuildTheSequenceBitExactly) {
  const StoredSequence s = sample(23);  // 5 full pages of 4 and an open page of 3
  std::vector<std::string> pages;
  std::string tail;
  StoredSequence out;
  ASSERT_TRUE(round_trip(s, pages, tail, out).is_ok());
  EXPECT_EQ(pages.size(), 5u);
  EXPECT_EQ(out.text, s.text);
  EXPECT_EQ(out.tokens, s.tokens);
  EXPECT_EQ(out.pending, s.pending);
  EXPECT_EQ(out.last_logits, s.last_logits);
  EXPECT_EQ(out.contents.n_tokens, 23);
  EXPECT_EQ(out.contents.global_k, s.contents.global_k);
  EXPECT_EQ(out.contents.global_v, s.contents.global_v);
  EXPECT_EQ(out.contents.local_k, s.contents.local_k);
  EXPECT_EQ(out.contents.local_v, s.contents.local_v);
}

TEST(StoredSequence, EmptyPartsRoundTrip) {
  // No logits, no text, and a sequence that ends exactly on a page boundary (empty open page).
  StoredSequence s = sample(8);
  s.last_logits.clear();
  s.text.clear();
  std::vector<std::string> pages;
  std::string tail;
  StoredSequence out;
  ASSERT_TRUE(round_trip(s, pages, tail, out).is_ok());
  EXPECT_EQ(pages.size(), 2u);
  EXPECT_TRUE(out.last_logits.empty());
  EXPECT_TRUE(out.text.empty());
  EXPECT_EQ(out.contents.global_k, s.contents.global_k);
  EXPECT_EQ(out.contents.local_v, s.contents.local_v);
}

TEST(StoredSequence, APageIsKeyedByItsWholePrefix) {
  std::vector<int32_t> a = {1, 2, 3, 4, 5, 6, 7, 8}, b = a;
  b[0] = 99;  // same second page, other history: another page
  const auto ha = page_prefix_hashes(a, 4, 1), hb = page_prefix_hashes(b, 4, 1);
  ASSERT_EQ(ha.size(), 2u);
  EXPECT_NE(ha[1], hb[1]);
  EXPECT_EQ(ha, page_prefix_hashes(a, 4, 1));
  EXPECT_NE(ha, page_prefix_hashes(a, 4, 2));  // another model
}

TEST(StoredSequence, CorruptTruncatedOrMisfiledBlobsAreErrors) {
  const StoredSequence s = sample(13);
  std::vector<std::string> pages;
  std::string tail;
  StoredSequence out;
  ASSERT_TRUE(round_trip(s, pages, tail, out).is_ok());
  const auto hashes = page_prefix_hashes(s.tokens, 4, 1234);
  StoredSequence fresh;
  ASSERT_TRUE(decode_tail(tail, s.contents.layout, 1 << 20, fresh).is_ok());
  // Every byte of a page: flipped, it is refused.
  for (size_t i = 0; i < pages[1].size(); ++i) {
    std::string bad = pages[1];
    bad[i] ^= 0x10;
    EXPECT_FALSE(decode_page(bad, 1, hashes[1], fresh.contents).is_ok()) << "byte " << i;
  }
  EXPECT_FALSE(decode_page(pages[1].substr(0, pages[1].size() - 1), 1, hashes[1], fresh.contents).is_ok());
  EXPECT_FALSE(decode_page(pages[1], 2, hashes[2], fresh.contents).is_ok());  // another page's slot
  EXPECT_FALSE(decode_page(pages[1], 1, hashes[1] ^ 1, fresh.contents).is_ok());  // another prefix
  for (size_t i = 0; i < tail.size(); i += 7) {
    std::string bad = tail;
    bad[i] ^= 0x01;
    StoredSequence t;
    EXPECT_FALSE(decode_tail(bad, s.contents.layout, 1 << 20, t).is_ok()) << "byte " << i;
  }
  StoredSequence t;
  EXPECT_FALSE(decode_tail(tail.substr(0, tail.size() / 2), s.contents.layout, 1 << 20, t).is_ok());
  EXPECT_FALSE(decode_tail(tail, s.contents.layout, 12, t).is_ok());  // longer than the reader's context
  KvLayout other = s.contents.layout;
  other.chunk_tokens = 8;
  EXPECT_FALSE(decode_tail(tail, other, 1 << 20, t).is_ok());
}

}  // namespace
}  // namespace fm::server
