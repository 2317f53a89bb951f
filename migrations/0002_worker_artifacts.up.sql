-- Artifacts: what `fly execute` uploads as inputs and downloads as outputs, as volumes on
-- workers. A volume that belongs to an artifact lives as long as the artifact row.
CREATE TABLE worker_artifacts (
  id bigserial PRIMARY KEY,
  name text NOT NULL DEFAULT '',
  team_id bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  -- An upload is claimed by the build that uses it; an output is made by its build.
  build_id bigint REFERENCES builds (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX worker_artifacts_build_id ON worker_artifacts (build_id);

ALTER TABLE volumes
  ADD COLUMN worker_artifact_id bigint REFERENCES worker_artifacts (id) ON DELETE SET NULL;
CREATE INDEX volumes_worker_artifact_id ON volumes (worker_artifact_id);
