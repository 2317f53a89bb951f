// The baggageclaim binary end to end over gRPC on loopback: streams, peer-to-peer, bad
// requests, and kill -9 in the middle of a stream.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "baggageclaim/client.h"
#include "baggageclaim/mounts.h"
#include "common/fs.h"
#include "tests/server_process.h"
#include "tests/testutil.h"

namespace tarmac::baggageclaim {
namespace {

using tarmac::testing::bin_dir;
using tarmac::testing::is_root;
using tarmac::testing::mounts_under;
using tarmac::testing::run_host;
using tarmac::testing::TempDir;

// One baggageclaim process and a client of it.
class Server {
 public:
  explicit Server(const std::string& volumes, std::vector<std::string> extra = {})
      : process_([&] {
          std::vector<std::string> args = {bin_dir() + "/baggageclaim", "--volumes", volumes,
                                           "--bind-port", "0"};
          args.insert(args.end(), extra.begin(), extra.end());
          return args;
        }()) {}
  ~Server() { stop(SIGTERM); }

  std::string start() {
    if (std::string e = process_.start(); !e.empty()) return e;
    auto client = Client::connect(address());
    if (!client.ok()) return client.error().what();
    client_ = std::move(*client);
    return "";
  }
  int stop(int sig) {
    client_.reset();
    return process_.stop(sig);
  }

  Client& client() { return *client_; }
  bool connected() const { return client_ != nullptr; }
  std::string address() const { return process_.address(); }

 private:
  tarmac::testing::ServerProcess process_;
  std::unique_ptr<Client> client_;
};

class BaggageclaimServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (mounts)";
    server_ = std::make_unique<Server>(dir_.path() + "/volumes");
    ASSERT_EQ(server_->start(), "");
  }
  void TearDown() override {
    if (server_) destroy_all(*server_, dir_.path() + "/volumes");
    if (peer_) destroy_all(*peer_, dir_.path() + "/peer-volumes");
    server_.reset();
    peer_.reset();
    EXPECT_TRUE(unmount_under(dir_.path()).ok());
    EXPECT_TRUE(mounts_under(dir_.path()).empty());
  }

  // Destroying every volume leaves none of their mounts: checked before the blanket unmount
  // in TearDown, which only keeps a failing test from leaking into the next.
  static void destroy_all(Server& server, const std::string& volumes) {
    if (!server.connected()) return;
    auto all = server.client().list();
    ASSERT_TRUE(all.ok()) << all.error().what();
    std::vector<std::string> handles;
    for (const auto& v : *all) handles.push_back(v.handle);
    auto failed = server.client().destroy_many(handles);
    ASSERT_TRUE(failed.ok()) << failed.error().what();
    for (const auto& [handle, why] : *failed) ADD_FAILURE() << "destroy " << handle << ": " << why;
    // A destroyed volume's files, mounts included, go in the background. The store's own
    // idmapped view of its root stays while it runs.
    std::vector<std::string> left;
    for (int i = 0; i < 500; ++i) {
      left.clear();
      for (const auto& m : mounts_under(volumes + "/"))
        if (m != volumes + "/idmapped") left.push_back(m);
      if (left.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(left, std::vector<std::string>{});
  }

  Volume create(Client& c, const std::string& handle, bool privileged = true) {
    CreateSpec spec;
    spec.handle = handle;
    spec.privileged = privileged;
    auto v = c.create(spec);
    EXPECT_TRUE(v.ok()) << v.error().what();
    return v.ok() ? *v : Volume{};
  }

  // A tar file of `tree` (a directory made by the test), with the host's tar.
  std::string host_tar(const std::string& tree, const std::string& flags = "-cf") {
    std::string out = dir_.path() + "/stream.tar";
    EXPECT_EQ(run_host("tar -C " + tree + " " + flags + " " + out + " ."), 0);
    auto data = fs::read_file(out);
    ::unlink(out.c_str());
    return data.ok() ? *data : "";
  }

  static tar::ReadFn chunks_of(const std::string& data, size_t chunk = 64 << 10) {
    auto offset = std::make_shared<size_t>(0);
    return [&data, offset, chunk]() -> Result<std::string_view> {
      size_t n = std::min(chunk, data.size() - *offset);
      std::string_view v(data.data() + *offset, n);
      *offset += n;
      return v;
    };
  }

  TempDir dir_{"bc-server"};
  std::unique_ptr<Server> server_, peer_;
};

TEST_F(BaggageclaimServerTest, StreamsInAndOutInEveryEncoding) {
  std::string tree = dir_.path() + "/tree";
  ASSERT_TRUE(fs::make_dirs(tree + "/sub").ok());
  ASSERT_TRUE(fs::write_file(tree + "/sub/file", std::string(300000, 'x')).ok());
  ASSERT_EQ(::symlink("sub/file", (tree + "/link").c_str()), 0);
  struct {
    tar::Encoding encoding;
    std::string flags;
  } cases[] = {{tar::Encoding::kRaw, "-cf"},
               {tar::Encoding::kGzip, "-czf"},
               {tar::Encoding::kZstd, "--zstd -cf"}};
  int n = 0;
  for (const auto& c : cases) {
    std::string handle = "v" + std::to_string(n++);
    Volume v = create(server_->client(), handle);
    std::string data = host_tar(tree, c.flags);
    ASSERT_TRUE(server_->client().stream_in(handle, "in/here", c.encoding, chunks_of(data)).ok());
    EXPECT_EQ(*fs::read_file(v.path + "/in/here/sub/file"), std::string(300000, 'x'));
    std::string out;
    auto s = server_->client().stream_out(handle, "in/here", c.encoding, [&](std::string_view d) {
      out.append(d);
      return ok_status();
    });
    ASSERT_TRUE(s.ok()) << s.error().what();
    // The host's tar reads what we wrote.
    std::string file = dir_.path() + "/out.tar", listing;
    ASSERT_TRUE(fs::write_file(file, out).ok());
    std::string x = c.flags.find("zstd") != std::string::npos ? "--zstd -tvf" : "-tvf";
    ASSERT_EQ(run_host("tar " + x + " " + file, &listing), 0);
    EXPECT_NE(listing.find("sub/file"), std::string::npos) << listing;
    EXPECT_NE(listing.find("link -> sub/file"), std::string::npos) << listing;
  }
}

TEST_F(BaggageclaimServerTest, BadRequestsGetErrorsAndTheServerKeepsServing) {
  Client& c = server_->client();
  auto missing = c.get("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errnum(), ENOENT);
  EXPECT_NE(missing.error().message().find("\"nope\""), std::string::npos);
  create(c, "v");
  std::string garbage(10000, '\x7f');
  auto s = c.stream_in("v", ".", tar::Encoding::kGzip, chunks_of(garbage));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errnum(), EINVAL) << s.error().what();
  s = c.stream_in("nope", ".", tar::Encoding::kRaw, chunks_of(garbage));
  EXPECT_EQ(s.error().errnum(), ENOENT) << s.error().what();
  // Over the limit: Concourse's 403, here RESOURCE_EXHAUSTED.
  std::string tree = dir_.path() + "/big";
  ASSERT_TRUE(fs::make_dirs(tree).ok());
  ASSERT_TRUE(fs::write_file(tree + "/f", std::string(1 << 20, 'b')).ok());
  std::string data = host_tar(tree);
  s = c.stream_in("v", ".", tar::Encoding::kRaw, chunks_of(data), 1000);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errnum(), EFBIG) << s.error().what();
  EXPECT_FALSE(fs::exists(c.get("v")->path + "/f"));
  EXPECT_TRUE(c.list().ok());
}

TEST_F(BaggageclaimServerTest, PeerToPeerStreamsStraightIntoTheOtherServer) {
  peer_ = std::make_unique<Server>(dir_.path() + "/peer-volumes");
  ASSERT_EQ(peer_->start(), "");
  Volume src = create(server_->client(), "src");
  ASSERT_TRUE(fs::make_dirs(src.path + "/out/dir").ok());
  ASSERT_TRUE(fs::write_file(src.path + "/out/dir/result", "built").ok());
  Volume dst = create(peer_->client(), "dst");
  auto s = server_->client().stream_p2p_out("src", "out", tar::Encoding::kZstd, peer_->address(),
                                            "dst", "input");
  ASSERT_TRUE(s.ok()) << s.error().what();
  EXPECT_EQ(*fs::read_file(dst.path + "/input/dir/result"), "built");
  s = server_->client().stream_p2p_out("src", "out", tar::Encoding::kRaw, peer_->address(),
                                       "missing", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("\"missing\""), std::string::npos) << s.error().what();
}

TEST_F(BaggageclaimServerTest, KillNineMidStreamInLeavesNoHalfVolume) {
  Volume target = create(server_->client(), "target");
  ASSERT_TRUE(fs::write_file(target.path + "/old", "before").ok());
  Volume other = create(server_->client(), "other");
  ASSERT_TRUE(fs::write_file(other.path + "/keep", "intact").ok());

  std::string tree = dir_.path() + "/incoming";
  ASSERT_TRUE(fs::make_dirs(tree).ok());
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(fs::write_file(tree + "/f" + std::to_string(i), std::string(4 << 20, 'n')).ok());
  std::string data = host_tar(tree);
  auto writer = server_->client().open_stream_in("target", ".", tar::Encoding::kRaw);
  ASSERT_TRUE(writer.ok());
  // Half the stream, then the server dies.
  for (size_t off = 0; off < data.size() / 2; off += 1 << 20)
    ASSERT_TRUE((*writer)->write(std::string_view(data).substr(off, 1 << 20)));
  // Let the server write some of it to disk before it goes.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server_->stop(SIGKILL);
  (void)(*writer)->finish();

  ASSERT_EQ(server_->start(), "");
  auto volumes = server_->client().list();
  ASSERT_TRUE(volumes.ok());
  EXPECT_EQ(volumes->size(), 2u);
  auto names = fs::list_dir(target.path);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"old"});
  EXPECT_EQ(*fs::read_file(target.path + "/old"), "before");
  EXPECT_EQ(*fs::read_file(other.path + "/keep"), "intact");
  // And the volume takes a whole stream afterwards.
  ASSERT_TRUE(
      server_->client().stream_in("target", ".", tar::Encoding::kRaw, chunks_of(data)).ok());
  EXPECT_TRUE(fs::exists(target.path + "/f7"));
}

TEST_F(BaggageclaimServerTest, KillNineMidCreateLeavesAWholeVolumeOrNone) {
  std::string tree = dir_.path() + "/import";
  ASSERT_TRUE(fs::make_dirs(tree).ok());
  for (int i = 0; i < 2000; ++i)
    ASSERT_TRUE(fs::write_file(tree + "/f" + std::to_string(i), std::string(20000, 'i')).ok());
  std::thread creator([&] {
    CreateSpec spec;
    spec.handle = "imported";
    spec.strategy.kind = Strategy::Kind::kImport;
    spec.strategy.import_path = tree;
    (void)server_->client().create(spec);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server_->stop(SIGKILL);
  creator.join();
  ASSERT_EQ(server_->start(), "");
  auto v = server_->client().get("imported");
  if (v.ok()) {
    EXPECT_EQ(fs::list_dir(v->path)->size(), 2000u);
  } else {
    EXPECT_EQ(v.error().errnum(), ENOENT);
  }
  // Nothing half made is left where volumes are made: init/ holds only its empty shards.
  std::string init = dir_.path() + "/volumes/init";
  auto shards = fs::list_dir(init);
  ASSERT_TRUE(shards.ok()) << shards.error().what();
  for (const std::string& shard : *shards) {
    EXPECT_EQ(shard[0], 's') << shard;
    auto held = fs::list_dir(init + "/" + shard);
    ASSERT_TRUE(held.ok()) << held.error().what();
    EXPECT_TRUE(held->empty()) << shard;
  }
}

// A chain of copies, each written after its child was made, read through after the server
// is killed (mounts stay) and after a stop and a reboot (mounts gone): every level sees its
// own writes and its ancestors', and copies again.
TEST_F(BaggageclaimServerTest, CowChainsSurviveAKillAndAReboot) {
  constexpr int kDepth = 8;
  auto level = [](int i) { return "level" + std::to_string(i); };
  for (int i = 0; i < kDepth; ++i) {
    CreateSpec spec;
    spec.handle = level(i);
    spec.privileged = true;
    if (i > 0) {
      spec.strategy.kind = Strategy::Kind::kCow;
      spec.strategy.parent = level(i - 1);
    }
    auto v = server_->client().create(spec);
    ASSERT_TRUE(v.ok()) << v.error().what();
    ASSERT_TRUE(fs::write_file(v->path + "/file" + std::to_string(i), level(i)).ok());
    ASSERT_TRUE(fs::write_file(v->path + "/top", level(i)).ok());
  }
  auto expect_chain = [&](const std::string& when) {
    for (int i = 0; i < kDepth; ++i) {
      auto v = server_->client().get(level(i));
      ASSERT_TRUE(v.ok()) << when << ": " << v.error().what();
      for (int j = 0; j < kDepth; ++j) {
        std::string file = v->path + "/file" + std::to_string(j);
        if (j <= i) {
          auto content = fs::read_file(file);
          EXPECT_TRUE(content.ok() && *content == level(j)) << when << ": " << file;
        } else {
          EXPECT_FALSE(fs::exists(file)) << when << ": " << file;
        }
      }
      EXPECT_EQ(*fs::read_file(v->path + "/top"), level(i)) << when;
    }
  };
  server_->stop(SIGKILL);
  ASSERT_EQ(server_->start(), "");
  expect_chain("after kill -9");
  EXPECT_EQ(server_->stop(SIGTERM), 0);
  ASSERT_TRUE(unmount_under(dir_.path() + "/volumes").ok());  // a reboot takes the mounts
  ASSERT_EQ(server_->start(), "");
  expect_chain("after a reboot");
  auto leaf = server_->client().get(level(kDepth - 1));
  ASSERT_TRUE(leaf.ok());
  ASSERT_TRUE(fs::write_file(leaf->path + "/after", "after").ok());
  CreateSpec spec;
  spec.handle = "after";
  spec.privileged = true;
  spec.strategy.kind = Strategy::Kind::kCow;
  spec.strategy.parent = level(kDepth - 1);
  auto c = server_->client().create(spec);
  ASSERT_TRUE(c.ok()) << c.error().what();
  EXPECT_EQ(*fs::read_file(c->path + "/after"), "after");
  EXPECT_EQ(*fs::read_file(c->path + "/file0"), level(0));
}

TEST_F(BaggageclaimServerTest, PropertiesPrivilegeAndBatchDestroyOverTheWire) {
  Client& c = server_->client();
  CreateSpec spec;
  spec.handle = "parent";
  spec.properties = {{"type", "resource"}};
  ASSERT_TRUE(c.create(spec).ok());
  spec.handle = "child";
  spec.strategy.kind = Strategy::Kind::kCow;
  spec.strategy.parent = "parent";
  spec.properties = {{"type", "task-cache"}};
  spec.privileged = false;
  auto child = c.create(spec);
  ASSERT_TRUE(child.ok()) << child.error().what();
  EXPECT_EQ(child->parent, "parent");
  EXPECT_FALSE(child->privileged);
  ASSERT_TRUE(c.set_property("child", "ttl", "60").ok());
  auto listed = c.list({{"type", "task-cache"}, {"ttl", "60"}});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].handle, "child");
  ASSERT_TRUE(c.set_privileged("child", true).ok());
  EXPECT_TRUE(c.get("child")->privileged);
  auto refused = c.destroy("parent");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errnum(), EBUSY);
  EXPECT_NE(refused.error().message().find("\"child\""), std::string::npos);
  auto failed = c.destroy_many({"parent", "child"});
  ASSERT_TRUE(failed.ok());
  EXPECT_TRUE(failed->empty());
  EXPECT_TRUE(c.list()->empty());
  // An empty strategy oneof and bad handles are the caller's mistake, not the server's.
  CreateSpec bad;
  bad.handle = "has space";
  auto r = c.create(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("\"has space\""), std::string::npos);
}

TEST_F(BaggageclaimServerTest, PlaintextIsRefusedOffLoopback) {
  std::string out;
  int rc = run_host(bin_dir() + "/baggageclaim --volumes " + dir_.path() +
                        "/v2 --bind-ip 0.0.0.0 --bind-port 0 2>&1",
                    &out);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("plaintext is for loopback addresses only"), std::string::npos) << out;
}

}  // namespace
}  // namespace tarmac::baggageclaim
