#include "common/mountinfo.h"

#include <gtest/gtest.h>

namespace tarmac {
namespace {

const char* kInfo =
    "26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "42 26 254:0 /tmp/x /tmp/x rw,relatime - ext4 /dev/vda rw\n"
    "43 42 254:0 /tmp/x /tmp/x rw,relatime shared:7 master:2 - ext4 /dev/vda rw\n"
    "44 26 0:38 / /tmp/with\\040space rw - tmpfs t rw\n";

TEST(MountInfoTest, FindsTheTopMountAndItsPropagation) {
  auto root = find_mount_point(kInfo, "/");
  ASSERT_TRUE(root.ok());
  ASSERT_TRUE(root->has_value());
  EXPECT_TRUE((*root)->shared);
  // Two mounts stacked at /tmp/x: the later one counts.
  auto x = find_mount_point(kInfo, "/tmp/x");
  ASSERT_TRUE(x.ok() && x->has_value());
  EXPECT_TRUE((*x)->shared);
  auto spaced = find_mount_point(kInfo, "/tmp/with space");
  ASSERT_TRUE(spaced.ok() && spaced->has_value());
  EXPECT_FALSE((*spaced)->shared);
  auto none = find_mount_point(kInfo, "/tmp");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(MountInfoTest, BrokenLinesNameTheirNumber) {
  for (const char* broken : {"26 1 254:0 / /\n", "26 1 254:0 / / rw shared:1 ext4 /dev/vda rw\n",
                             "1 2 3 4 5 6 7 8 9 -\n"}) {
    auto r = find_mount_point(std::string("26 1 254:0 / / rw - ext4 /dev/vda rw\n") + broken, "/");
    ASSERT_FALSE(r.ok()) << broken;
    EXPECT_NE(r.error().message().find("mountinfo line 2"), std::string::npos) << r.error().what();
  }
}

TEST(MountInfoTest, ThisProcessHasARoot) {
  auto root = find_mount_point("/");
  ASSERT_TRUE(root.ok()) << root.error().what();
  EXPECT_TRUE(root->has_value());
}

}  // namespace
}  // namespace tarmac
