#include "common/byte_pipe.h"

#include <gtest/gtest.h>

#include <thread>

namespace tarmac {
namespace {

TEST(BytePipeTest, CarriesEverythingInOrderThroughASmallPipe) {
  BytePipe pipe(16);
  std::string sent;
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) {
      std::string chunk = std::to_string(i) + ",";
      sent += chunk;
      ASSERT_TRUE(pipe.write(chunk).ok());
    }
    pipe.close();
  });
  std::string got;
  for (;;) {
    auto r = pipe.read();
    ASSERT_TRUE(r.ok());
    if (r->empty()) break;
    got += *r;
  }
  producer.join();
  EXPECT_EQ(got, sent);
}

TEST(BytePipeTest, TryWriteRefusesWhatDoesNotFitButTakesABigChunkWhenEmpty) {
  BytePipe pipe(8);
  EXPECT_TRUE(*pipe.try_write("0123456789"));  // empty: taken whole
  EXPECT_FALSE(*pipe.try_write("x"));
  std::string out;
  EXPECT_EQ(*pipe.try_read(out), BytePipe::Poll::kData);
  EXPECT_EQ(out, "0123456789");
  EXPECT_EQ(*pipe.try_read(out), BytePipe::Poll::kEmpty);
  pipe.close();
  EXPECT_EQ(*pipe.try_read(out), BytePipe::Poll::kEnd);
}

TEST(BytePipeTest, AProducerFailureReachesTheConsumer) {
  BytePipe pipe;
  ASSERT_TRUE(pipe.write("partial").ok());
  pipe.fail(Error("client went away", ECONNRESET));
  auto r = pipe.read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum(), ECONNRESET);
  std::string out;
  EXPECT_FALSE(pipe.try_read(out).ok());
}

// The waker hears of every change, so an event loop need not poll; none once cleared.
TEST(BytePipeTest, TheWakerHearsEveryChange) {
  BytePipe pipe(8);
  int woken = 0;
  pipe.set_waker([&] { ++woken; });
  ASSERT_TRUE(pipe.try_write("abc").ok());
  EXPECT_EQ(woken, 1);
  std::string out;
  ASSERT_TRUE(pipe.try_read(out).ok());
  EXPECT_EQ(woken, 2);
  pipe.abandon(Error("done"));
  EXPECT_EQ(woken, 3);
  pipe.set_waker(nullptr);
  pipe.close();
  EXPECT_EQ(woken, 3);
  pipe.set_waker([&] { ++woken; });
  pipe.fail(Error("a closed stream stays whole"));
  EXPECT_EQ(woken, 3);
}

TEST(BytePipeTest, AbandoningUnblocksAWaitingProducer) {
  BytePipe pipe(4);
  ASSERT_TRUE(pipe.write("full").ok());
  std::thread consumer([&] { pipe.abandon(Error("download cancelled")); });
  Status s = pipe.write("more");  // blocks until abandoned
  consumer.join();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "download cancelled");
  EXPECT_FALSE(pipe.try_write("x").ok());
}

}  // namespace
}  // namespace tarmac
