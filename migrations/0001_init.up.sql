-- The first schema: teams and local users with the bearer tokens fly holds; workers as the
-- registry sees them; one-off builds with their events; the containers and volumes the web
-- node knows of on each worker, for placement and garbage collection.

-- Periodic jobs (GC, worker states): whichever web node finds one due takes it, under an
-- advisory lock, and records when it ran, so several nodes never run the same pass twice.
CREATE TABLE components (
  name text PRIMARY KEY,
  last_ran timestamptz
);

CREATE TABLE teams (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  -- Concourse's team auth: {"owner": {"users": ["local:admin"], "groups": []}, "member": …}
  auth jsonb NOT NULL DEFAULT '{}'
);
INSERT INTO teams (name) VALUES ('main');

CREATE TABLE users (
  username text PRIMARY KEY,
  -- "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>"
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE access_tokens (
  -- SHA-256 of the bearer token: the token itself is never stored.
  token_hash text PRIMARY KEY,
  username text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL
);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

CREATE TABLE workers (
  name text PRIMARY KEY,
  address text NOT NULL,
  platform text NOT NULL DEFAULT 'linux',
  tags text[] NOT NULL DEFAULT '{}',
  team_id bigint REFERENCES teams (id) ON DELETE CASCADE,
  resource_types jsonb NOT NULL DEFAULT '[]',
  version text NOT NULL DEFAULT '',
  active_containers integer NOT NULL DEFAULT 0,
  active_volumes integer NOT NULL DEFAULT 0,
  active_tasks integer NOT NULL DEFAULT 0,
  start_time bigint NOT NULL DEFAULT 0,
  ephemeral boolean NOT NULL DEFAULT false,
  state text NOT NULL CHECK (state IN ('running', 'stalled', 'landing', 'landed', 'retiring')),
  heartbeat_interval_ms bigint NOT NULL,
  ttl_ms bigint NOT NULL,
  -- The last beat plus the time-to-live: past it a running worker is stalled.
  expires_at timestamptz NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE builds (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  team_id bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  status text NOT NULL
    CHECK (status IN ('pending', 'started', 'succeeded', 'failed', 'errored', 'aborted')),
  plan jsonb,
  created_by text,
  create_time timestamptz NOT NULL DEFAULT now(),
  start_time timestamptz,
  end_time timestamptz,
  aborted boolean NOT NULL DEFAULT false,
  -- A finished build's containers stay for `fly intercept` until then.
  interceptible_until timestamptz,
  -- Keeps events (and their ids) in order under concurrent writers.
  next_event_id integer NOT NULL DEFAULT 0
);
CREATE INDEX builds_team_id ON builds (team_id, id DESC);

CREATE TABLE build_events (
  build_id bigint NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
  event_id integer NOT NULL,
  type text NOT NULL,
  version text NOT NULL,
  -- The event's "data" object as JSON text, sent to watchers as it is stored.
  payload text NOT NULL,
  PRIMARY KEY (build_id, event_id)
);

CREATE TABLE containers (
  id bigserial PRIMARY KEY,
  handle text NOT NULL UNIQUE,
  worker_name text NOT NULL REFERENCES workers (name) ON DELETE CASCADE,
  state text NOT NULL CHECK (state IN ('creating', 'created', 'destroying', 'failed')),
  team_id bigint REFERENCES teams (id) ON DELETE SET NULL,
  -- The owner: while it needs the container, the container is kept.
  build_id bigint REFERENCES builds (id) ON DELETE SET NULL,
  plan_id text NOT NULL DEFAULT '',
  -- Concourse's container metadata: type, step_name, attempt, working_directory, user, …
  meta jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Set when the worker's beat no longer lists it.
  missing_since timestamptz
);
CREATE INDEX containers_worker_name ON containers (worker_name);
CREATE INDEX containers_build_id ON containers (build_id);

CREATE TABLE volumes (
  id bigserial PRIMARY KEY,
  handle text NOT NULL UNIQUE,
  worker_name text NOT NULL REFERENCES workers (name) ON DELETE CASCADE,
  state text NOT NULL CHECK (state IN ('creating', 'created', 'destroying', 'failed')),
  team_id bigint REFERENCES teams (id) ON DELETE SET NULL,
  type text NOT NULL
    CHECK (type IN ('container', 'resource', 'resource-type', 'resource-certs', 'task-cache',
                    'artifact')),
  -- A copy-on-write child keeps its parent: volumes go leaves first.
  parent_id bigint REFERENCES volumes (id),
  -- Owners: the container it is mounted in, or the build whose artifact it is.
  container_id bigint REFERENCES containers (id) ON DELETE SET NULL,
  build_id bigint REFERENCES builds (id) ON DELETE SET NULL,
  path text NOT NULL DEFAULT '',
  meta jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  missing_since timestamptz
);
CREATE INDEX volumes_worker_name ON volumes (worker_name);
CREATE INDEX volumes_parent_id ON volumes (parent_id);
CREATE INDEX volumes_container_id ON volumes (container_id);
