#pragma once

#include <optional>
#include <string>
#include <vector>

#include "atc/db/pool.h"
#include "common/result.h"

namespace tarmac::atc::db {

struct ArtifactRecord {
  int64_t id = 0;
  std::string name;  // "" for an upload
  std::string team;
  int64_t build_id = 0;  // 0: not claimed yet
  int64_t created_at = 0;
  // The volume holding it (set once it is complete).
  std::string volume_handle, worker_name;
};

// Worker artifacts (Concourse's worker_artifacts): uploads become inputs of a one-off build,
// task outputs become downloads. Each owns one volume, kept while the artifact row lives.
class ArtifactStore {
 public:
  explicit ArtifactStore(Pool& pool) : pool_(pool) {}

  // An upload of `team` into a new volume on `worker`, recorded (volume 'creating') before
  // the volume is made, so the GC removes it if the upload never completes.
  Result<ArtifactRecord> begin_upload(const std::string& team, const std::string& worker,
                                      const std::string& volume_handle);
  // The volume holds the whole upload.
  Status complete_upload(const ArtifactRecord& artifact);
  // The upload failed: the artifact goes, its volume is left to the GC.
  Status fail_upload(const ArtifactRecord& artifact);

  // A complete artifact (its volume created).
  Result<std::optional<ArtifactRecord>> find(int64_t id);
  Result<std::vector<ArtifactRecord>> for_build(int64_t build_id);
  // A task's output volume kept as the build's artifact `name`.
  Result<ArtifactRecord> keep_output(int64_t build_id, const std::string& name,
                                     const std::string& volume_handle);

  // Removes artifacts no one needs: uploads no build claimed within `ttl_s`, and those of
  // builds that ended longer than `ttl_s` ago (their outputs were there to download). Returns
  // how many went.
  Result<int64_t> expire(int64_t ttl_s);

 private:
  Pool& pool_;
};

// Claims uploads for a build being created (in its transaction): each must be the team's,
// complete and unclaimed, else the error names it.
Status claim_artifacts(Connection& conn, int64_t build_id, const std::string& team,
                       const std::vector<int64_t>& ids);

}  // namespace tarmac::atc::db
