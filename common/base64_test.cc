#include "common/base64.h"

#include <gtest/gtest.h>

namespace tarmac {
namespace {

TEST(Base64Test, RoundTripsEveryLengthAndByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= all.size(); n += 1) {
    auto back = base64_decode(base64_encode(all.substr(0, n)));
    ASSERT_TRUE(back.has_value()) << n;
    EXPECT_EQ(*back, all.substr(0, n));
  }
  EXPECT_EQ(base64_encode("hi\n"), "aGkK");
  EXPECT_EQ(base64_encode("h"), "aA==");
}

TEST(Base64Test, RefusesWhatIsNotBase64) {
  EXPECT_FALSE(base64_decode("abc").has_value());       // length
  EXPECT_FALSE(base64_decode("ab!d").has_value());      // alphabet
  EXPECT_FALSE(base64_decode("a===").has_value());      // too much padding
  EXPECT_FALSE(base64_decode("aA==aA==").has_value());  // padding mid-way
}

}  // namespace
}  // namespace tarmac
