// The volume store on real mounts (run as root): every strategy on every driver, with and
// without idmapped mounts, restarts, refusals and concurrency.
#include "baggageclaim/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include <cstring>
#include <fstream>
#include <latch>
#include <sstream>
#include <thread>

#include "baggageclaim/mounts.h"
#include "baggageclaim/record.h"
#include "common/fs.h"
#include "common/mountinfo.h"

namespace tarmac::baggageclaim {
namespace {

struct Mode {
  std::string driver;
  bool idmap;
};

std::string mode_name(const ::testing::TestParamInfo<Mode>& info) {
  return info.param.driver + (info.param.idmap ? "_idmapped" : "_chowned");
}

void write(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

std::string read(const std::string& path) {
  auto s = fs::read_file(path);
  return s.ok() ? *s : "<" + s.error().what() + ">";
}

uid_t owner(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? st.st_uid : static_cast<uid_t>(-1);
}

// A tar stream of one file, made with the host's tar (a peer, not our own writer).
std::string tar_of(const std::string& name, const std::string& content, uid_t uid) {
  auto dir = fs::make_temp_dir("bc-tar-src");
  write(*dir + "/" + name, content);
  (void)::chown((*dir + "/" + name).c_str(), uid, uid);
  std::string out = *dir + ".tar";
  std::string cmd = "tar -C " + *dir + " -cf " + out + " " + name;
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  auto data = fs::read_file(out);
  (void)fs::remove_all(*dir);
  ::unlink(out.c_str());
  return data.ok() ? *data : std::string();
}

tar::ReadFn reader_of(const std::string& data) {
  auto sent = std::make_shared<bool>(false);
  return [&data, sent]() -> Result<std::string_view> {
    if (*sent) return std::string_view();
    *sent = true;
    return std::string_view(data);
  };
}

std::vector<std::string> mounts_below(const std::string& prefix) {
  std::vector<std::string> found;
  auto mounts = read_mountinfo();
  EXPECT_TRUE(mounts.ok());
  if (mounts.ok())
    for (const auto& m : *mounts)
      if (m.path.rfind(prefix + "/", 0) == 0) found.push_back(m.path);
  return found;
}

class StoreTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (mounts)";
    auto dir = fs::make_temp_dir("bc-store");
    ASSERT_TRUE(dir.ok());
    root_ = *dir;
    open();
  }

  void TearDown() override {
    // Destroying every volume must leave none of their mounts behind: checked before the
    // blanket unmount below, which is only there so a failing test cannot leak into the next.
    if (store_) {
      std::vector<std::string> handles;
      for (const auto& v : store_->list()) handles.push_back(v.handle);
      auto failed = store_->destroy_many(handles);
      for (const auto& [handle, why] : failed) ADD_FAILURE() << "destroy " << handle << ": " << why;
      store_->finish_removals();
      // The store's own idmapped view of its root stays while it is open (and is mounted
      // again on the next open).
      std::vector<std::string> expected;
      if (store_->idmapped()) expected.push_back(root_ + "/volumes/idmapped");
      EXPECT_EQ(mounts_below(root_), expected);
    }
    store_.reset();
    if (root_.empty()) return;
    EXPECT_TRUE(unmount_under(root_).ok());
    (void)fs::remove_all(root_);
  }

  StoreOptions options() const {
    StoreOptions o;
    o.root = root_ + "/volumes";
    o.driver = GetParam().driver;
    o.idmap = GetParam().idmap;
    o.max_layers = max_layers_;
    o.legacy_overlay_mounts = legacy_mounts_;
    return o;
  }

  void open() {
    auto s = Store::open(options());
    ASSERT_TRUE(s.ok()) << s.error().what();
    store_ = std::move(*s);
    ASSERT_EQ(store_->driver_name(), GetParam().driver);
    ASSERT_EQ(store_->idmapped(), GetParam().idmap);
  }

  // A restart as after a reboot: the process goes and every mount with it.
  void reboot() {
    store_.reset();
    ASSERT_TRUE(unmount_under(root_ + "/volumes").ok());
    open();
  }

  Volume create(const std::string& handle, Strategy strategy = {}, bool privileged = true,
                Properties props = {}) {
    CreateSpec spec;
    spec.handle = handle;
    spec.strategy = std::move(strategy);
    spec.privileged = privileged;
    spec.properties = std::move(props);
    auto v = store_->create(spec);
    EXPECT_TRUE(v.ok()) << v.error().what();
    return v.ok() ? *v : Volume{};
  }

  static Strategy cow(const std::string& parent) {
    Strategy s;
    s.kind = Strategy::Kind::kCow;
    s.parent = parent;
    return s;
  }

  // Whether a volume of that name is being made (or was left half made): in init/ or one of
  // its shards.
  bool in_init(const std::string& name) {
    std::string init = root_ + "/volumes/init";
    if (fs::exists(init + "/" + name)) return true;
    auto shards = fs::list_dir(init);
    EXPECT_TRUE(shards.ok());
    for (const auto& shard : shards.ok() ? *shards : std::vector<std::string>())
      if (fs::exists(init + "/" + shard + "/" + name)) return true;
    return false;
  }

  // The lower layers of the volume's mount, as the kernel shows them (0 for a bind mount).
  size_t stack_depth(const std::string& handle) {
    std::string target = root_ + "/volumes/live/" + handle + "/volume";
    auto info = fs::read_file("/proc/self/mountinfo");
    EXPECT_TRUE(info.ok());
    size_t depth = 0;  // the last mount at the target is the one seen
    std::istringstream lines(info.ok() ? *info : "");
    for (std::string line; std::getline(lines, line);) {
      std::istringstream fields(line);
      std::string id, parent, dev, root, mount_point;
      fields >> id >> parent >> dev >> root >> mount_point;
      if (mount_point != target) continue;
      // Super options: lowerdir=a:b:c, or with lowerdir+ (6.8+) one lowerdir+=x per layer.
      depth = 0;
      for (size_t at = line.find("lowerdir"); at != std::string::npos;
           at = line.find("lowerdir", at + 1)) {
        size_t i = at + 8;
        if (line.compare(i, 2, "+=") == 0) {
          ++depth;
        } else if (line.compare(i, 1, "=") == 0) {
          ++depth;
          for (++i; i < line.size() && line[i] != ',' && line[i] != ' '; ++i) {
            if (line[i] == '\\')
              ++i;  // an escaped ':' or ',' in a path
            else if (line[i] == ':')
              ++depth;
          }
        }
      }
    }
    return depth;
  }

  std::string root_;
  std::unique_ptr<Store> store_;
  int max_layers_ = 128;
  bool legacy_mounts_ = false;
};

TEST_P(StoreTest, EmptyVolumeIsAMountedWritableDirectory) {
  Volume v = create("v1", {}, true, {{"k", "v"}});
  EXPECT_EQ(v.path, store_->get("v1")->path);
  EXPECT_TRUE(*is_mount_point(v.path));
  write(v.path + "/f", "data");
  EXPECT_EQ(read(v.path + "/f"), "data");
  EXPECT_EQ(store_->list().size(), 1u);
  EXPECT_EQ(store_->list({{"k", "v"}}).size(), 1u);
  EXPECT_EQ(store_->list({{"k", "other"}}).size(), 0u);
  ASSERT_TRUE(store_->destroy("v1").ok());
  EXPECT_FALSE(fs::exists(v.path));
  EXPECT_EQ(store_->get("v1").error().errnum(), ENOENT);
}

TEST_P(StoreTest, BadHandlesAndUnknownParentsAreRefused) {
  CreateSpec spec;
  spec.handle = "../escape";
  auto r = store_->create(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("handle \"../escape\""), std::string::npos);
  spec.handle = "child";
  spec.strategy = cow("nope");
  r = store_->create(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("parent volume \"nope\" not found"), std::string::npos);
  create("dup");
  spec.handle = "dup";
  spec.strategy = {};
  EXPECT_EQ(store_->create(spec).error().errnum(), EEXIST);
  EXPECT_EQ(store_->destroy("missing").error().errnum(), ENOENT);
  EXPECT_FALSE(in_init("child"));
}

TEST_P(StoreTest, ServerMadeHandlesAreUuids) {
  Volume v = create("");
  EXPECT_EQ(v.handle.size(), 36u);
  EXPECT_EQ(v.handle[14], '4');
}

TEST_P(StoreTest, CopyOnWriteSeesParentAndStaysApart) {
  Volume p = create("p");
  write(p.path + "/shared", "from parent");
  ::mkdir((p.path + "/dir").c_str(), 0700);
  Volume c = create("c", cow("p"));
  EXPECT_EQ(c.parent, "p");
  EXPECT_EQ(read(c.path + "/shared"), "from parent");
  write(c.path + "/shared", "child wrote");
  write(p.path + "/later", "parent wrote after");
  EXPECT_EQ(read(p.path + "/shared"), "from parent");
  EXPECT_FALSE(fs::exists(c.path + "/later"));
  struct stat st {};
  ASSERT_EQ(::stat((c.path + "/dir").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_P(StoreTest, DeepChainsShareLayersAndSurviveAReboot) {
  std::string parent;
  for (int i = 0; i < 6; ++i) {
    std::string h = "level" + std::to_string(i);
    Volume v = parent.empty() ? create(h) : create(h, cow(parent));
    write(v.path + "/file" + std::to_string(i), h);
    write(v.path + "/top", h);
    parent = h;
  }
  if (GetParam().driver == "overlay") {
    // Nothing was copied: each level's writes live once, in its layers or upper.
    std::string leaf_upper = root_ + "/volumes/live/level5/upper";
    EXPECT_TRUE(fs::exists(leaf_upper + "/file5"));
    EXPECT_FALSE(fs::exists(leaf_upper + "/file0"));
    EXPECT_TRUE(fs::exists(root_ + "/volumes/live/level0/layers/0/file0"));
  }
  reboot();
  for (int i = 0; i < 6; ++i) {
    std::string path = store_->get("level" + std::to_string(i))->path;
    for (int j = 0; j <= i; ++j)
      EXPECT_EQ(read(path + "/file" + std::to_string(j)), "level" + std::to_string(j));
    EXPECT_EQ(read(path + "/top"), "level" + std::to_string(i));
    EXPECT_FALSE(fs::exists(path + "/file" + std::to_string(i + 1)));
  }
  // Still copy-on-write after the restart.
  Volume c = create("after", cow("level5"));
  write(c.path + "/top", "after");
  EXPECT_EQ(read(store_->get("level5")->path + "/top"), "level5");
}

// A volume written and copied again and again (a cache handed from build to build), and a
// chain of copies each written: past max_layers a parent's layers are flattened into one, and
// every snapshot still shows its parent exactly as it was, deletions included, after a reboot
// too.
TEST_P(StoreTest, StacksStopAtMaxLayersAndSnapshotsStayExact) {
  max_layers_ = 3;
  reboot();
  Volume base = create("base");
  write(base.path + "/gone", "soon");
  std::string chain = "base";
  auto check = [&](const std::string& handle, int i, bool gone_deleted) {
    std::string path = store_->get(handle)->path;
    EXPECT_EQ(read(path + "/n"), std::to_string(i)) << handle;
    for (int j = 0; j <= i + 1; ++j)
      EXPECT_EQ(fs::exists(path + "/f" + std::to_string(j)), j <= i) << handle << " f" << j;
    EXPECT_EQ(fs::exists(path + "/gone"), !gone_deleted) << handle;
  };
  for (int i = 0; i < 8; ++i) {
    write(base.path + "/n", std::to_string(i));
    write(base.path + "/f" + std::to_string(i), "f");
    if (i == 3) {
      ASSERT_EQ(::unlink((base.path + "/gone").c_str()), 0);
    }
    create("snap" + std::to_string(i), cow("base"));

    std::string link = "link" + std::to_string(i);
    Volume l = create(link, cow(chain));
    write(l.path + "/n", std::to_string(i));
    write(l.path + "/f" + std::to_string(i), "f");
    if (i == 3) {
      ASSERT_EQ(::unlink((l.path + "/gone").c_str()), 0);
    }
    chain = link;
  }
  auto check_all = [&] {
    for (int i = 0; i < 8; ++i) {
      check("snap" + std::to_string(i), i, i >= 3);
      check("link" + std::to_string(i), i, i >= 3);
    }
    check("base", 7, true);
  };
  check_all();
  // A child of a flattened parent keeps the ids as stored, and a change of privilege still
  // maps them.
  const uid_t id_base = 100000;
  // (base is as deep as allowed by now, with writes in its upper.)
  ASSERT_EQ(::chown((base.path + "/f7").c_str(), 1000, 1000), 0);
  Volume unpriv = create("unpriv", cow("base"), /*privileged=*/false);
  EXPECT_EQ(owner(unpriv.path + "/f7"), id_base + 1000);
  Volume priv = create("priv", cow("unpriv"), /*privileged=*/true);
  EXPECT_EQ(owner(priv.path + "/f7"), 1000u);
  if (GetParam().driver == "overlay") {
    for (const auto& v : store_->list()) {
      EXPECT_LE(stack_depth(v.handle), 3u) << v.handle;
      EXPECT_GE(stack_depth(v.handle), 1u) << v.handle;
    }
    // Every copy shares: a parent at the limit became one layer first (base names it).
    for (const auto& v : store_->list()) {
      if (v.handle.rfind("snap", 0) == 0 || v.handle == "unpriv") {
        EXPECT_TRUE(fs::list_dir(root_ + "/volumes/live/" + v.handle + "/upper")->empty())
            << v.handle;
      }
    }
    EXPECT_TRUE(fs::exists(root_ + "/volumes/live/base/base"));
  }
  reboot();
  check_all();
  // Still copy-on-write, and apart from its parent.
  Volume after = create("after", cow("link7"));
  write(after.path + "/n", "after");
  check("link7", 7, true);
}

// What only the overlay driver does (naive copies on every copy-on-write).
class OverlayStoreTest : public StoreTest {};
INSTANTIATE_TEST_SUITE_P(Drivers, OverlayStoreTest,
                         ::testing::Values(Mode{"overlay", true}, Mode{"overlay", false}),
                         mode_name);

// A parent at the limit has its layers copied once into one: the copies after it share that
// layer until the stack reaches the limit again.
TEST_P(OverlayStoreTest, AParentAtTheLimitIsFlattenedOnceNotCopiedPerChild) {
  max_layers_ = 3;
  reboot();
  Volume p = create("p");
  std::string dir = root_ + "/volumes/live/p";
  auto layers = [&] {
    auto names = fs::list_dir(dir + "/layers");
    return names.ok() ? names->size() : 0;
  };
  auto base = [&] {
    auto text = fs::read_file(dir + "/base");
    return text.ok() ? *text : std::string();
  };
  auto cycle = [&](int i) {
    write(p.path + "/f" + std::to_string(i), std::to_string(i));
    if (i == 3) {
      ASSERT_EQ(::unlink((p.path + "/f0").c_str()), 0);
    }
    create("c" + std::to_string(i), cow("p"));
  };
  for (int i = 0; i < 3; ++i) cycle(i);
  EXPECT_EQ(base(), "");  // three layers: at the limit, not over it
  EXPECT_EQ(stack_depth("p"), 3u);
  // A fourth would be one too many: layers 0-2 become layer 3, the upper is frozen above it.
  cycle(3);
  EXPECT_EQ(base(), "3");
  EXPECT_EQ(layers(), 5u);
  EXPECT_EQ(stack_depth("p"), 2u);
  EXPECT_EQ(stack_depth("c3"), 2u);
  for (int i = 0; i < 5; ++i) create("quiet" + std::to_string(i), cow("p"));
  EXPECT_EQ(layers(), 5u) << "a quiescent parent is shared, not copied again";
  EXPECT_EQ(base(), "3");
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(
        fs::list_dir(root_ + "/volumes/live/quiet" + std::to_string(i) + "/upper")->empty());
    EXPECT_EQ(stack_depth("quiet" + std::to_string(i)), 2u);
  }
  cycle(4);  // a freeze: three layers again
  EXPECT_EQ(base(), "3");
  EXPECT_EQ(stack_depth("p"), 3u);
  cycle(5);  // over again: layers 3-5 become 6 (3 kept as the base before it)
  EXPECT_EQ(base(), "6 3");
  EXPECT_EQ(stack_depth("p"), 2u);
  auto check = [&] {
    for (int i = 0; i <= 5; ++i) {
      std::string path = store_->get("c" + std::to_string(i))->path;
      for (int j = 0; j <= 6; ++j)
        EXPECT_EQ(fs::exists(path + "/f" + std::to_string(j)), j <= i && !(j == 0 && i >= 3))
            << "c" << i << " f" << j;
    }
    EXPECT_EQ(read(store_->get("c2")->path + "/f0"), "0");
    EXPECT_EQ(read(store_->get("quiet4")->path + "/f3"), "3");
    EXPECT_FALSE(fs::exists(store_->get("quiet4")->path + "/f0"));
    EXPECT_FALSE(fs::exists(p.path + "/f0"));
    EXPECT_EQ(read(p.path + "/f5"), "5");
  };
  check();
  reboot();
  check();
  // A second flatten cut off after writing its base, before moving its copy into place: the
  // base before it holds, and no later layer takes the cut-off one's number.
  store_.reset();
  ASSERT_TRUE(fs::write_file(dir + "/base", "50 6").ok());
  ASSERT_TRUE(fs::make_dirs(dir + "/flat/half").ok());
  reboot();
  check();
  EXPECT_FALSE(fs::exists(dir + "/flat"));
  EXPECT_EQ(stack_depth("p"), 2u);
  cycle(6);
  EXPECT_TRUE(fs::exists(dir + "/layers/51"));
  check();
  // The layers under the base stay with the volume (children share them; an old mount of the
  // volume held by a container may still stack them).
  for (int i = 0; i <= 5; ++i) ASSERT_TRUE(store_->destroy("c" + std::to_string(i)).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store_->destroy("quiet" + std::to_string(i)).ok());
  store_->finish_removals();
  for (int n : {0, 1, 2, 3, 4, 5})
    EXPECT_TRUE(fs::exists(dir + "/layers/" + std::to_string(n))) << n;
  EXPECT_EQ(read(store_->get("c6")->path + "/f6"), "6");
  EXPECT_FALSE(fs::exists(store_->get("c6")->path + "/f0"));
  reboot();
  EXPECT_EQ(read(store_->get("c6")->path + "/f3"), "3");
  EXPECT_EQ(read(p.path + "/f5"), "5");
  ASSERT_TRUE(store_->destroy("c6").ok());
  ASSERT_TRUE(store_->destroy("p").ok());
}

// A flatten cut off anywhere leaves the volume as it was: a base written before its layer
// was moved into place does not count (and no later layer takes its number), and what the
// flatten had copied is cleared.
TEST_P(OverlayStoreTest, AnInterruptedFlattenLeavesTheVolumeAsItWas) {
  Volume p = create("p");
  write(p.path + "/a", "a");
  create("c", cow("p"));
  write(p.path + "/b", "b");
  ASSERT_EQ(::unlink((p.path + "/a").c_str()), 0);
  store_.reset();
  std::string dir = root_ + "/volumes/live/p";
  ASSERT_TRUE(fs::write_file(dir + "/base", "7").ok());
  ASSERT_TRUE(fs::make_dirs(dir + "/flat/half-copied").ok());
  reboot();
  EXPECT_FALSE(fs::exists(p.path + "/a"));
  EXPECT_EQ(read(p.path + "/b"), "b");
  EXPECT_EQ(read(store_->get("c")->path + "/a"), "a");
  EXPECT_FALSE(fs::exists(dir + "/flat"));
  create("c2", cow("p"));
  EXPECT_TRUE(fs::exists(dir + "/layers/8")) << "the next layer goes above the cut-off base";
  EXPECT_EQ(read(store_->get("c2")->path + "/b"), "b");
  EXPECT_FALSE(fs::exists(store_->get("c2")->path + "/a"));
}

// A copy-on-write that flattens its parent, cut off before each change it makes to the
// parent's storage as a kill -9 would (the mounts kept): the store that opens next shows the
// parent and its children as they were, so does one after a reboot, and the next
// copy-on-write works.
TEST_P(OverlayStoreTest, AFlattenCutOffAnywhereLeavesEveryViewAsItWas) {
  max_layers_ = 3;
  reboot();
  auto check = [&](const std::string& p, const std::string& when) {
    std::string path = store_->get(p)->path;
    EXPECT_FALSE(fs::exists(path + "/f0")) << p << " " << when;
    for (int i = 1; i <= 3; ++i)
      EXPECT_EQ(read(path + "/f" + std::to_string(i)), std::to_string(i)) << p << " " << when;
    for (int c = 0; c < 3; ++c) {
      std::string child = store_->get(p + "-c" + std::to_string(c))->path;
      for (int i = 0; i <= 3; ++i)
        EXPECT_EQ(fs::exists(child + "/f" + std::to_string(i)), i <= c)
            << p << "-c" << c << " f" << i << " " << when;
    }
  };
  int crashed = 0;
  for (int k = 1; k < 60; ++k) {
    std::string p = "p" + std::to_string(k);
    Volume v = create(p);
    for (int i = 0; i < 3; ++i) {
      write(v.path + "/f" + std::to_string(i), std::to_string(i));
      create(p + "-c" + std::to_string(i), cow(p));
    }
    ASSERT_EQ(::unlink((v.path + "/f0").c_str()), 0);
    write(v.path + "/f3", "3");  // the next copy is one layer too many: a flatten, a freeze
    store_.reset();
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int steps = 0;
      StoreOptions o = options();
      o.cow_step = [&] {
        if (++steps == k) ::_exit(42);
      };
      auto store = Store::open(o);
      if (!store.ok()) ::_exit(2);
      CreateSpec spec;
      spec.handle = p + "-after";
      spec.strategy = cow(p);
      spec.privileged = true;
      ::_exit((*store)->create(spec).ok() ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    int code = WEXITSTATUS(status);
    ASSERT_TRUE(code == 0 || code == 42) << "k=" << k << " exit " << code;
    open();  // mounts kept, as after a kill -9 on a host that stays up
    check(p, "k=" + std::to_string(k) + ", mounts kept");
    reboot();
    check(p, "k=" + std::to_string(k) + ", rebooted");
    EXPECT_EQ(store_->get(p + "-after").ok(), code == 0) << "k=" << k;
    Volume next = create(p + "-next", cow(p));
    EXPECT_EQ(read(next.path + "/f3"), "3") << "k=" << k;
    EXPECT_FALSE(fs::exists(next.path + "/f0")) << "k=" << k;
    EXPECT_LE(stack_depth(p + "-next"), 3u) << "k=" << k;
    if (code == 0) break;
    ++crashed;
  }
  EXPECT_GE(crashed, 8) << "each step of the flatten and the freeze was cut";
}

// A base file that is not one or two layer numbers: which layers make the volume cannot be
// told, so it is removed whole at start rather than served wrong.
TEST_P(OverlayStoreTest, ABrokenBaseFileGetsTheVolumeRemoved) {
  const std::vector<std::string> broken = {"", "x", "1 2 3", "07", "-1", "1x", "99999999"};
  for (size_t i = 0; i < broken.size(); ++i) {
    std::string h = "v" + std::to_string(i);
    Volume v = create(h);
    write(v.path + "/f", "x");
    create(h + "-child", cow(h));
    ASSERT_TRUE(store_->destroy(h + "-child").ok());
  }
  store_.reset();
  for (size_t i = 0; i < broken.size(); ++i)
    ASSERT_TRUE(
        fs::write_file(root_ + "/volumes/live/v" + std::to_string(i) + "/base", broken[i]).ok());
  reboot();
  for (size_t i = 0; i < broken.size(); ++i)
    EXPECT_FALSE(store_->get("v" + std::to_string(i)).ok()) << "base \"" << broken[i] << "\"";
}

// A kernel before 6.8 takes an overlay's layers only in one page of mount options, about 50
// of a store's paths: past that a stack is flattened, well before max_layers.
TEST_P(StoreTest, StacksStopWhereTheKernelsOptionPageEnds) {
  legacy_mounts_ = true;
  reboot();
  const std::string base = std::string(36, 'b');  // as long as a uuid handle
  Volume v = create(base);
  for (int i = 0; i < 70; ++i) {
    write(v.path + "/n", std::to_string(i));
    create("snap" + std::to_string(i), cow(base));
  }
  for (int i = 0; i < 70; ++i)
    EXPECT_EQ(read(store_->get("snap" + std::to_string(i))->path + "/n"), std::to_string(i));
  reboot();
  EXPECT_EQ(read(store_->get("snap69")->path + "/n"), "69");
  EXPECT_EQ(read(store_->get(base)->path + "/n"), "69");
  if (GetParam().driver == "overlay") {
    EXPECT_LT(stack_depth(base), 60u);
  }
}

TEST(StoreOptionsTest, MaxLayersOutsideOneTo500IsRefused) {
  StoreOptions o;
  o.root = "/nonexistent/never-made";
  for (int bad : {0, 501}) {
    o.max_layers = bad;
    auto s = Store::open(o);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message().find("max_layers: expected 1 to 500, got " + std::to_string(bad)),
              std::string::npos)
        << s.error().what();
    EXPECT_FALSE(fs::exists(o.root));
  }
}

TEST_P(StoreTest, ParentWithChildrenIsNotDestroyed) {
  create("p");
  create("c1", cow("p"));
  create("c2", cow("c1"));
  auto s = store_->destroy("p");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errnum(), EBUSY);
  EXPECT_NE(s.error().message().find("\"c1\""), std::string::npos) << s.error().message();
  EXPECT_TRUE(store_->get("p").ok());
  // A batch goes leaves first.
  auto failed = store_->destroy_many({"p", "c1", "c2", "unknown"});
  EXPECT_TRUE(failed.empty());
  EXPECT_TRUE(store_->list().empty());
}

TEST_P(StoreTest, ImportCopiesADirectory) {
  auto src = fs::make_temp_dir("bc-import");
  ASSERT_TRUE(src.ok());
  write(*src + "/a", "alpha");
  ASSERT_EQ(::symlink("a", (*src + "/link").c_str()), 0);
  Strategy s;
  s.kind = Strategy::Kind::kImport;
  s.import_path = *src;
  Volume v = create("imported", s);
  EXPECT_EQ(read(v.path + "/a"), "alpha");
  char target[16] = {};
  EXPECT_EQ(::readlink((v.path + "/link").c_str(), target, sizeof target), 1);
  (void)fs::remove_all(*src);
  s.import_path = "/no/such/dir";
  CreateSpec spec;
  spec.handle = "broken";
  spec.strategy = s;
  auto r = store_->create(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("/no/such/dir"), std::string::npos);
  EXPECT_FALSE(store_->get("broken").ok());
  EXPECT_FALSE(in_init("broken"));
}

TEST_P(StoreTest, ImportExtractsATgz) {
  auto src = fs::make_temp_dir("bc-import");
  write(*src + "/inside", "tgz content");
  std::string tgz = *src + ".tgz";
  ASSERT_EQ(std::system(("tar -C " + *src + " -czf " + tgz + " inside").c_str()), 0);
  Strategy s;
  s.kind = Strategy::Kind::kImport;
  s.import_path = tgz;
  Volume v = create("fromtgz", s);
  EXPECT_EQ(read(v.path + "/inside"), "tgz content");
  (void)fs::remove_all(*src);
  ::unlink(tgz.c_str());
}

TEST_P(StoreTest, UnprivilegedVolumesShowContainerRootAsTheMappedHostId) {
  const uid_t base = 100000;
  Volume u = create("unpriv", {}, /*privileged=*/false);
  std::string data = tar_of("owned-by-root", "x", 0);
  ASSERT_TRUE(store_->stream_in("unpriv", ".", reader_of(data), {tar::Encoding::kRaw, 0}).ok());
  EXPECT_EQ(owner(u.path + "/owned-by-root"), base);
  EXPECT_EQ(owner(u.path), base);

  ASSERT_TRUE(store_->set_privileged("unpriv", true).ok());
  EXPECT_EQ(owner(u.path + "/owned-by-root"), 0u);
  ASSERT_TRUE(store_->set_privileged("unpriv", false).ok());
  EXPECT_EQ(owner(u.path + "/owned-by-root"), base);

  // Privileged parent, unprivileged child and back: same files, seen through each mapping.
  Volume p = create("priv", {}, true);
  std::string data2 = tar_of("f", "y", 1000);
  ASSERT_TRUE(store_->stream_in("priv", ".", reader_of(data2), {tar::Encoding::kRaw, 0}).ok());
  Volume c = create("unpriv-child", cow("priv"), false);
  EXPECT_EQ(owner(p.path + "/f"), 1000u);
  EXPECT_EQ(owner(c.path + "/f"), base + 1000);
  Volume g = create("priv-grandchild", cow("unpriv-child"), true);
  EXPECT_EQ(owner(g.path + "/f"), 1000u);

  // Streaming out gives container ids whatever the storage.
  std::string out;
  ASSERT_TRUE(store_
                  ->stream_out(
                      "unpriv-child", "f",
                      [&](std::string_view d) {
                        out.append(d);
                        return ok_status();
                      },
                      tar::Encoding::kRaw)
                  .ok());
  ASSERT_GE(out.size(), 512u);
  // ustar uid field: octal at offset 108.
  EXPECT_EQ(std::stoul(out.substr(108, 7), nullptr, 8), 1000u);
}

// File capabilities (an image's ping) survive a change of privilege, which without idmapped
// mounts chowns every file (and a chown removes them).
TEST_P(StoreTest, CapabilitiesSurviveAChangeOfPrivilege) {
  Volume v = create("caps", {}, /*privileged=*/true);
  write(v.path + "/ping", "ELF");
  std::string cap(20, '\0');
  uint32_t words[5] = {0x02000001, 1u << 13, 0, 0, 0};  // revision 2, cap_net_raw
  std::memcpy(cap.data(), words, sizeof(words));
  ASSERT_EQ(
      ::setxattr((v.path + "/ping").c_str(), "security.capability", cap.data(), cap.size(), 0), 0);
  for (bool privileged : {false, true}) {
    ASSERT_TRUE(store_->set_privileged("caps", privileged).ok());
    char value[64];
    ssize_t n = ::getxattr((v.path + "/ping").c_str(), "security.capability", value, sizeof(value));
    // Through an idmapped mount the kernel shows it as revision 3, with the root it maps.
    ASSERT_TRUE(n == 20 || n == 24) << "privileged " << privileged << ": " << std::strerror(errno);
    uint32_t permitted;
    std::memcpy(&permitted, value + 4, sizeof(permitted));
    EXPECT_EQ(permitted, 1u << 13);
  }
}

TEST_P(StoreTest, RestartRemovesUnfinishedVolumesAndKeepsLiveOnes) {
  Volume v = create("keep");
  write(v.path + "/f", "kept");
  store_.reset();
  // What a crash mid-create and mid-destroy leave behind.
  ASSERT_TRUE(fs::make_dirs(root_ + "/volumes/init/half/upper").ok());
  ASSERT_TRUE(fs::make_dirs(root_ + "/volumes/init/s3/half-in-a-shard/upper").ok());
  ASSERT_TRUE(fs::make_dirs(root_ + "/volumes/dead/gone/data").ok());
  ASSERT_TRUE(fs::make_dirs(root_ + "/volumes/live/garbled").ok());
  write(root_ + "/volumes/live/garbled/meta.json", "{not json");
  open();
  EXPECT_FALSE(fs::exists(root_ + "/volumes/init/half"));
  EXPECT_FALSE(in_init("half-in-a-shard"));
  EXPECT_TRUE(fs::exists(root_ + "/volumes/init/s15")) << "the shards are made again";
  store_->finish_removals();
  EXPECT_FALSE(fs::exists(root_ + "/volumes/dead/gone"));
  EXPECT_FALSE(fs::exists(root_ + "/volumes/live/garbled"));
  ASSERT_EQ(store_->list().size(), 1u);
  EXPECT_EQ(read(store_->get("keep")->path + "/f"), "kept");
}

TEST_P(StoreTest, PropertiesSurviveARestart) {
  create("p", {}, true, {{"a", "1"}});
  ASSERT_TRUE(store_->set_property("p", "b", "2").ok());
  EXPECT_EQ(store_->set_property("nope", "b", "2").error().errnum(), ENOENT);
  reboot();
  auto v = store_->get("p");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->properties, (Properties{{"a", "1"}, {"b", "2"}}));
}

// Volumes are written without syncs. A store that closes syncs them and says so; one that
// opens after the host went down while it was open (another boot, no close) drops them all,
// since their last writes may be lost. A store killed on a host that stays up keeps them.
TEST_P(StoreTest, VolumesOfAStoreTheHostWentDownWithAreDropped) {
  store_.reset();
  auto open_as = [&](const std::string& boot) {
    StoreOptions o;
    o.root = root_ + "/volumes";
    o.driver = GetParam().driver;
    o.idmap = GetParam().idmap;
    o.boot_id = boot;
    return Store::open(o);
  };
  // In a child that dies without closing the store (as the host going down would).
  auto crash_after_creating = [&](const std::string& boot, const std::string& handle) {
    pid_t pid = ::fork();
    if (pid == 0) {
      auto s = open_as(boot);
      bool ok = s.ok();
      if (ok) {
        CreateSpec spec;
        spec.handle = handle;
        spec.privileged = true;
        auto v = (*s)->create(spec);
        ok = v.ok() && fs::write_file(v->path + "/f", handle).ok();
      }
      ::_exit(ok ? 0 : 1);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  };
  // Mounts go with the host.
  auto host_restart = [&] { ASSERT_TRUE(unmount_under(root_ + "/volumes").ok()); };

  ASSERT_TRUE(crash_after_creating("boot-a", "killed"));
  {
    auto s = open_as("boot-a");  // the same boot: the page cache has every write
    ASSERT_TRUE(s.ok()) << s.error().what();
    auto v = (*s)->get("killed");
    ASSERT_TRUE(v.ok()) << v.error().what();
    EXPECT_EQ(read(v->path + "/f"), "killed");
    ASSERT_TRUE((*s)->destroy("killed").ok());
  }  // closed: synced

  ASSERT_TRUE(crash_after_creating("boot-a", "lost"));
  host_restart();
  {
    auto s = open_as("boot-b");
    ASSERT_TRUE(s.ok()) << s.error().what();
    EXPECT_TRUE((*s)->list().empty());
    EXPECT_FALSE((*s)->get("lost").ok());
    (*s)->finish_removals();
    EXPECT_TRUE(fs::list_dir(root_ + "/volumes/dead")->empty());
    CreateSpec spec;
    spec.handle = "synced";
    spec.privileged = true;
    auto v = (*s)->create(spec);
    ASSERT_TRUE(v.ok()) << v.error().what();
    write(v->path + "/f", "synced");
    // A child after a write: on overlay, the parent is remounted as an overlay (volatile)
    // over a new upper, whose work dir the next boot must mount again.
    CreateSpec first;
    first.handle = "first-child";
    first.strategy = cow("synced");
    ASSERT_TRUE((*s)->create(first).ok());
    write(v->path + "/h", "after the first child");
  }  // closed: synced
  host_restart();
  {
    auto s = open_as("boot-c");
    ASSERT_TRUE(s.ok()) << s.error().what();
    auto v = (*s)->get("synced");
    ASSERT_TRUE(v.ok()) << v.error().what();
    EXPECT_EQ(read(v->path + "/f"), "synced");
    EXPECT_EQ(read(v->path + "/h"), "after the first child");
    // Remounted after a volatile overlay: written and copied on write again.
    write(v->path + "/g", "again");
    CreateSpec child;
    child.handle = "child";
    child.strategy = cow("synced");
    auto c = (*s)->create(child);
    ASSERT_TRUE(c.ok()) << c.error().what();
    EXPECT_EQ(read(c->path + "/g"), "again");
    store_ = std::move(*s);
  }
}

// 100 threads released together, each creating a volume (every other one a COW of the same
// parent) and destroying it.
TEST_P(StoreTest, HundredParallelCreatesAndDestroys) {
  Volume base = create("base");
  write(base.path + "/f", "base");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::latch start(100);
  for (int t = 0; t < 100; ++t) {
    threads.emplace_back([&, t] {
      CreateSpec spec;
      spec.handle = "v" + std::to_string(t);
      if (t % 2) spec.strategy = cow("base");
      start.arrive_and_wait();
      auto v = store_->create(spec);
      if (!v.ok() || (t % 2 && read(v->path + "/f") != "base")) ++failures;
      if (!v.ok() || !store_->destroy(spec.handle).ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->list().size(), 1u);
  store_->finish_removals();
  EXPECT_TRUE(fs::list_dir(root_ + "/volumes/dead")->empty());
}

// A COW, copied (naive) or layered (overlay), keeps what a tree holds.
TEST_P(StoreTest, CowKeepsModesOwnersXattrsHardlinksSymlinksAndHoles) {
  Volume p = create("p");
  write(p.path + "/a", "linked");
  ASSERT_EQ(::link((p.path + "/a").c_str(), (p.path + "/b").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/passwd", (p.path + "/l").c_str()), 0);
  ASSERT_EQ(::chown((p.path + "/a").c_str(), 1234, 5678), 0);
  ASSERT_EQ(::chmod((p.path + "/a").c_str(), 04751), 0);
  ASSERT_EQ(::setxattr((p.path + "/a").c_str(), "user.tarmac", "v", 1, 0), 0);
  {
    std::ofstream sparse(p.path + "/sparse", std::ios::binary);
    sparse.seekp(64 << 20);
    sparse << "end";
  }
  Volume c = create("c", cow("p"));
  struct stat a {
  }, b{}, sparse{};
  ASSERT_EQ(::lstat((c.path + "/a").c_str(), &a), 0);
  ASSERT_EQ(::lstat((c.path + "/b").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
  EXPECT_EQ(a.st_uid, 1234u);
  EXPECT_EQ(a.st_gid, 5678u);
  EXPECT_EQ(a.st_mode & 07777, 04751u);
  char value[8] = {};
  EXPECT_EQ(::getxattr((c.path + "/a").c_str(), "user.tarmac", value, sizeof value), 1);
  EXPECT_EQ(std::string(value), "v");
  char target[64] = {};
  EXPECT_GT(::readlink((c.path + "/l").c_str(), target, sizeof target), 0);
  EXPECT_EQ(std::string(target), "/etc/passwd");
  ASSERT_EQ(::stat((c.path + "/sparse").c_str(), &sparse), 0);
  EXPECT_EQ(sparse.st_size, (64 << 20) + 3);
  EXPECT_LT(sparse.st_blocks * 512, 1 << 20) << "the hole was filled";
  EXPECT_EQ(read(c.path + "/sparse").substr(64 << 20), "end");
}

// Device nodes stream only into privileged volumes; refused, the stream names the entry and
// leaves the volume as it was.
TEST_P(StoreTest, DeviceNodesStreamOnlyIntoPrivilegedVolumes) {
  auto src = fs::make_temp_dir("bc-dev-src");
  ASSERT_TRUE(src.ok());
  ASSERT_EQ(::mknod((*src + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  std::string out = *src + ".tar";
  ASSERT_EQ(std::system(("tar -C " + *src + " -cf " + out + " null").c_str()), 0);
  auto data = fs::read_file(out);
  (void)fs::remove_all(*src);
  ::unlink(out.c_str());
  ASSERT_TRUE(data.ok());

  Volume u = create("unpriv", {}, /*privileged=*/false);
  // Host root is not mapped in an idmapped volume: what is there comes by a stream too.
  std::string keep = tar_of("keep", "kept", 0);
  ASSERT_TRUE(store_->stream_in("unpriv", ".", reader_of(keep), {tar::Encoding::kRaw, 0}).ok());
  Status refused = store_->stream_in("unpriv", ".", reader_of(*data), {tar::Encoding::kRaw, 0});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("\"null\""), std::string::npos)
      << refused.error().what();
  EXPECT_EQ(*fs::list_dir(u.path), std::vector<std::string>{"keep"});
  EXPECT_EQ(read(u.path + "/keep"), "kept");

  Volume p = create("priv", {}, /*privileged=*/true);
  Status accepted = store_->stream_in("priv", ".", reader_of(*data), {tar::Encoding::kRaw, 0});
  ASSERT_TRUE(accepted.ok()) << accepted.error().what();
  struct stat st {};
  ASSERT_EQ(::lstat((p.path + "/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
}

INSTANTIATE_TEST_SUITE_P(Drivers, StoreTest,
                         ::testing::Values(Mode{"overlay", true}, Mode{"overlay", false},
                                           Mode{"naive", true}, Mode{"naive", false}),
                         mode_name);

// detect: overlay where the volumes directory can hold overlay mounts, naive where it cannot
// (here: on an overlay, which the kernel refuses as an upper layer, as in a container whose
// root is one).
TEST(StoreDetectTest, OverlayWhereItMountsNaiveWhereItCannot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mounts)";
  auto dir = fs::make_temp_dir("bc-detect");
  ASSERT_TRUE(dir.ok());
  std::string d = *dir;
  auto open = [](const std::string& root, const std::string& driver) {
    StoreOptions o;
    o.root = root;
    o.driver = driver;
    o.idmap = false;
    return Store::open(o);
  };
  {
    auto plain = open(d + "/plain", "detect");
    ASSERT_TRUE(plain.ok()) << plain.error().what();
    EXPECT_EQ((*plain)->driver_name(), "overlay");
  }
  for (const char* sub : {"/l", "/u", "/w", "/on-overlay"})
    ASSERT_TRUE(fs::make_dirs(d + sub).ok());
  ASSERT_TRUE(overlay_mount({d + "/l"}, d + "/u", d + "/w", d + "/on-overlay").ok());
  {
    auto detected = open(d + "/on-overlay/volumes", "detect");
    ASSERT_TRUE(detected.ok()) << detected.error().what();
    EXPECT_EQ((*detected)->driver_name(), "naive");
    CreateSpec parent;
    parent.handle = "p";
    ASSERT_TRUE((*detected)->create(parent).ok());
    write(d + "/on-overlay/volumes/live/p/volume/f", "from p");
    CreateSpec child;
    child.handle = "c";
    child.strategy.kind = Strategy::Kind::kCow;
    child.strategy.parent = "p";
    auto c = (*detected)->create(child);
    ASSERT_TRUE(c.ok()) << c.error().what();
    EXPECT_EQ(read(c->path + "/f"), "from p");
    EXPECT_TRUE((*detected)->destroy_many({"c", "p"}).empty());
    (*detected)->finish_removals();
  }
  auto forced = open(d + "/on-overlay/forced", "overlay");
  ASSERT_FALSE(forced.ok());
  EXPECT_NE(forced.error().message().find("cannot hold overlay mounts"), std::string::npos)
      << forced.error().what();
  EXPECT_TRUE(unmount_under(d).ok());
  EXPECT_EQ(mounts_below(d), std::vector<std::string>{});
  (void)fs::remove_all(d);
}

}  // namespace
}  // namespace tarmac::baggageclaim
