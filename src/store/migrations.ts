/**
 * SQLite schema migrations, applied in order once each (version = index + 1).
 * Never edit a migration that has shipped: add a new one.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    workdir TEXT NOT NULL,
    spec_file TEXT,
    parent_run_id TEXT,
    parent_task_id TEXT,
    created_at INTEGER NOT NULL,
    ended_at INTEGER,
    engine_pid INTEGER
  );
  CREATE INDEX runs_parent_task ON runs (parent_task_id);
  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id),
    name TEXT NOT NULL,
    node TEXT,
    parent_id TEXT,
    status TEXT NOT NULL,
    pool TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    command TEXT,
    params TEXT NOT NULL,
    item TEXT,
    exit_code INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    cached INTEGER NOT NULL DEFAULT 0,
    output_dir TEXT NOT NULL,
    metrics TEXT,
    error TEXT,
    cache_key TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    ended_at INTEGER
  );
  CREATE INDEX tasks_run ON tasks (run_id);
  CREATE INDEX tasks_parent ON tasks (parent_id);
  CREATE INDEX tasks_cache_key ON tasks (cache_key);
  CREATE TABLE attempts (
    task_id TEXT NOT NULL REFERENCES tasks (id),
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    pid INTEGER,
    pid_start TEXT,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    exit_code INTEGER,
    signal TEXT,
    reason TEXT,
    message TEXT,
    log_path TEXT NOT NULL,
    PRIMARY KEY (task_id, number)
  );
  CREATE TABLE outputs (
    task_id TEXT NOT NULL REFERENCES tasks (id),
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (task_id, path)
  );
  CREATE INDEX outputs_sha ON outputs (sha256);
  `,
  `
  ALTER TABLE tasks ADD COLUMN cache_parts TEXT;
  CREATE TABLE file_hashes (
    key TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    checked_at INTEGER NOT NULL
  );
  `,
  `
  ALTER TABLE runs ADD COLUMN options TEXT;
  `,
  `
  ALTER TABLE tasks ADD COLUMN submit TEXT;
  ALTER TABLE tasks ADD COLUMN idempotency_key TEXT;
  CREATE INDEX tasks_idempotency ON tasks (idempotency_key);
  CREATE TABLE task_deps (
    task_id TEXT NOT NULL REFERENCES tasks (id),
    needs_task_id TEXT NOT NULL REFERENCES tasks (id),
    condition TEXT NOT NULL,
    PRIMARY KEY (task_id, needs_task_id)
  );
  CREATE INDEX task_deps_needs ON task_deps (needs_task_id);
  `,
  `
  DROP INDEX tasks_cache_key;
  CREATE INDEX tasks_cache_key ON tasks (cache_key, ended_at);
  `,
  `
  CREATE UNIQUE INDEX tasks_idempotency_name ON tasks (idempotency_key, name) WHERE idempotency_key IS NOT NULL;
  `,
  // Every random-keyed index costs each finished task a page write of its own: outputs are
  // never looked up by hash, and only tasks with a cache key are ever looked up by it.
  `
  DROP INDEX outputs_sha;
  DROP INDEX tasks_cache_key;
  CREATE INDEX tasks_cache_key ON tasks (cache_key, ended_at) WHERE cache_key IS NOT NULL;
  `,
  // The runs list pages newest first (by creation time, then id), optionally of one pipeline.
  `
  CREATE INDEX runs_created ON runs (created_at, id);
  CREATE INDEX runs_pipeline_created ON runs (pipeline, created_at, id);
  `,
  // Which task computed the result a cached task reused (null for older rows and other tasks).
  `
  ALTER TABLE tasks ADD COLUMN cached_from TEXT;
  `,
  // Ids no longer sort in creation order: runs list by creation time, then insertion order
  // (the rowid that ends every index entry).
  `
  DROP INDEX runs_created;
  DROP INDEX runs_pipeline_created;
  CREATE INDEX runs_created_at ON runs (created_at);
  CREATE INDEX runs_pipeline_created_at ON runs (pipeline, created_at);
  `,
  // Why a run failed when no task says it (it could not be planned or resumed).
  `
  ALTER TABLE runs ADD COLUMN error TEXT;
  `,
  // What the executor needs to find an attempt again (its opaque handle: `local:PID:START`, a job id).
  `
  ALTER TABLE attempts ADD COLUMN handle TEXT;
  `,
  // Engines sharing a store: each one's lease, the engine driving each run, and the pool slots
  // held by running tasks (counted across engines).
  `
  CREATE TABLE engines (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    lease_expires_at INTEGER NOT NULL
  );
  ALTER TABLE runs ADD COLUMN engine_id TEXT;
  CREATE TABLE slots (
    task_id TEXT PRIMARY KEY,
    pool TEXT NOT NULL,
    engine_id TEXT NOT NULL,
    acquired_at INTEGER NOT NULL
  );
  CREATE INDEX slots_pool ON slots (pool);
  CREATE INDEX slots_engine ON slots (engine_id);
  `, // Task search (GET /tasks?name=&label=): submitted tasks' labels, one row each, and the
  // orders the search walks. Metric series: every point a task appended to $BATON_METRICS.
  `
  CREATE TABLE task_labels (
    task_id TEXT NOT NULL REFERENCES tasks (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (key, value, task_id)
  ) WITHOUT ROWID;
  INSERT OR IGNORE INTO task_labels (task_id, key, value)
    SELECT t.id, j.key, CAST(j.value AS TEXT) FROM tasks t, json_each(t.submit, '$.labels') j
    WHERE t.submit IS NOT NULL AND json_type(t.submit, '$.labels') = 'object';
  CREATE INDEX tasks_created_at ON tasks (created_at);
  CREATE INDEX tasks_name_created_at ON tasks (name, created_at);
  CREATE TABLE metric_points (
    task_id TEXT NOT NULL REFERENCES tasks (id),
    attempt INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    step REAL,
    value TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (task_id, attempt, seq)
  ) WITHOUT ROWID;
  `,
  // Releases: each version a `release:` node recorded, and its files (by content hash).
  `
  CREATE TABLE releases (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (name, version)
  );
  CREATE UNIQUE INDEX releases_task ON releases (task_id);
  CREATE TABLE release_files (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (name, version, path)
  );
  `,
  // Task I/O: the container image a task is meant for (`image:`; null when none is given).
  `
  ALTER TABLE tasks ADD COLUMN image TEXT;
  `,
  // Gates: a task's approval (JSON: state, message, requested at, by, at, comment).
  `
  ALTER TABLE tasks ADD COLUMN approval TEXT;
  `,
  // Messages between engines sharing the file (sqlite-bus.ts): the messages of the last minute
  // (AUTOINCREMENT: a seq is never given twice, so a reader never misses one), and who listens.
  `
  CREATE TABLE bus (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    message TEXT NOT NULL
  );
  CREATE INDEX bus_at ON bus (at);
  CREATE TABLE bus_members (
    member TEXT PRIMARY KEY,
    seen_at INTEGER NOT NULL
  );
  `,
  // Takeover: servers look for running root runs every second (listRunningRoots); an index of
  // the running ones only, so that the look costs the same with 100,000 ended runs.
  `
  CREATE INDEX runs_running ON runs (created_at) WHERE status = 'running';
  `, // Why a task recorded `running` still waits where its executor put it (a Slurm job pending).
  `
  ALTER TABLE tasks ADD COLUMN queue_reason TEXT;
  `,
  `
  CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    event TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    next_attempt_at INTEGER,
    engine_id TEXT,
    request TEXT
  );
  CREATE INDEX notifications_run ON notifications (run_id, created_at);
  CREATE INDEX notifications_pending ON notifications (created_at) WHERE status = 'pending';
  `,
  // Triggers: each trigger's state (paused, last fire, last run; an API-created one's definition),
  // and its fires, one row per (trigger, slot): the row is the claim, so a fire starts one run.
  `
  CREATE TABLE triggers (
    name TEXT PRIMARY KEY,
    definition TEXT,
    paused INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_slot_at INTEGER,
    last_run_id TEXT
  );
  CREATE TABLE trigger_fires (
    trigger_name TEXT NOT NULL,
    slot TEXT NOT NULL,
    slot_at INTEGER,
    at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    run_id TEXT,
    message TEXT,
    PRIMARY KEY (trigger_name, slot)
  );
  CREATE INDEX trigger_fires_at ON trigger_fires (trigger_name, at);
  `,
  // Remote agents: attempts they may claim and who holds which (sqlite-agents.ts).
  `
  CREATE TABLE agent_claims (
    key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    pool TEXT NOT NULL,
    work TEXT NOT NULL,
    state TEXT NOT NULL,
    agent TEXT,
    token TEXT,
    lease_until INTEGER,
    claimed_at INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX agent_claims_open ON agent_claims (pool, created_at) WHERE state = 'open';
  CREATE INDEX agent_claims_claimed ON agent_claims (agent) WHERE state = 'claimed';
  CREATE TABLE agents (
    name TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pools TEXT NOT NULL,
    slots INTEGER NOT NULL,
    resources TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    seen_at INTEGER NOT NULL
  );
  `,
  // Per-agent tokens (`baton agent token create`): only their sha256 is kept (sqlite-agents.ts).
  `
  CREATE TABLE agent_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    pools TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
  );
  `,
  // Only computed results are looked up by cache key (a cached task points at what computed
  // it): a cached rerun of 10,000 tasks no longer adds 10,000 entries to the index, nor writes
  // the pages they land on. Cached tasks keep their key, unindexed.
  `
  DROP INDEX tasks_cache_key;
  CREATE INDEX tasks_cache_key ON tasks (cache_key, ended_at) WHERE cache_key IS NOT NULL AND cached = 0;
  `,
];

/**
 * PostgreSQL schema migrations (postgres-store.ts), numbered like SQLite's: migration N here
 * brings the schema to what SQLite's migration N does, so one version means one schema in both.
 * Times are BIGINT milliseconds, JSON is TEXT (as in SQLite), and `seq` (an identity column)
 * keeps the insertion order that SQLite's rowid gives.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    pipeline TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    workdir TEXT NOT NULL,
    spec_file TEXT,
    parent_run_id TEXT,
    parent_task_id TEXT,
    created_at BIGINT NOT NULL,
    ended_at BIGINT,
    engine_pid INTEGER
  );
  CREATE INDEX runs_parent_task ON runs (parent_task_id);
  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    run_id TEXT NOT NULL REFERENCES runs (id),
    name TEXT NOT NULL,
    node TEXT,
    parent_id TEXT,
    status TEXT NOT NULL,
    pool TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    command TEXT,
    params TEXT NOT NULL,
    item TEXT,
    exit_code INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    cached INTEGER NOT NULL DEFAULT 0,
    output_dir TEXT NOT NULL,
    metrics TEXT,
    error TEXT,
    cache_key TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    ended_at BIGINT
  );
  CREATE INDEX tasks_run ON tasks (run_id);
  CREATE INDEX tasks_parent ON tasks (parent_id);
  CREATE INDEX tasks_cache_key ON tasks (cache_key);
  CREATE TABLE attempts (
    task_id TEXT NOT NULL REFERENCES tasks (id),
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    pid INTEGER,
    pid_start TEXT,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    exit_code INTEGER,
    signal TEXT,
    reason TEXT,
    message TEXT,
    log_path TEXT NOT NULL,
    PRIMARY KEY (task_id, number)
  );
  CREATE TABLE outputs (
    task_id TEXT NOT NULL REFERENCES tasks (id),
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (task_id, path)
  );
  CREATE INDEX outputs_sha ON outputs (sha256);
  `,
  `
  ALTER TABLE tasks ADD COLUMN cache_parts TEXT;
  CREATE TABLE file_hashes (
    key TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    checked_at BIGINT NOT NULL
  );
  `,
  `
  ALTER TABLE runs ADD COLUMN options TEXT;
  `,
  `
  ALTER TABLE tasks ADD COLUMN submit TEXT;
  ALTER TABLE tasks ADD COLUMN idempotency_key TEXT;
  CREATE INDEX tasks_idempotency ON tasks (idempotency_key);
  CREATE TABLE task_deps (
    task_id TEXT NOT NULL REFERENCES tasks (id),
    needs_task_id TEXT NOT NULL REFERENCES tasks (id),
    condition TEXT NOT NULL,
    PRIMARY KEY (task_id, needs_task_id)
  );
  CREATE INDEX task_deps_needs ON task_deps (needs_task_id);
  `,
  `
  DROP INDEX tasks_cache_key;
  CREATE INDEX tasks_cache_key ON tasks (cache_key, ended_at);
  `,
  `
  CREATE UNIQUE INDEX tasks_idempotency_name ON tasks (idempotency_key, name) WHERE idempotency_key IS NOT NULL;
  `,
  `
  DROP INDEX outputs_sha;
  DROP INDEX tasks_cache_key;
  CREATE INDEX tasks_cache_key ON tasks (cache_key, ended_at) WHERE cache_key IS NOT NULL;
  `,
  `
  CREATE INDEX runs_created ON runs (created_at, seq);
  CREATE INDEX runs_pipeline_created ON runs (pipeline, created_at, seq);
  `,
  `
  ALTER TABLE tasks ADD COLUMN cached_from TEXT;
  `,
  // SQLite's indexes end in the rowid; here they name `seq`, so the ones of migration 8 stay.
  `
  SELECT 1;
  `,
  `
  ALTER TABLE runs ADD COLUMN error TEXT;
  `,
  `
  ALTER TABLE attempts ADD COLUMN handle TEXT;
  `,
  `
  CREATE TABLE engines (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    lease_expires_at BIGINT NOT NULL
  );
  ALTER TABLE runs ADD COLUMN engine_id TEXT;
  CREATE TABLE slots (
    task_id TEXT PRIMARY KEY,
    pool TEXT NOT NULL,
    engine_id TEXT NOT NULL,
    acquired_at BIGINT NOT NULL
  );
  CREATE INDEX slots_pool ON slots (pool);
  CREATE INDEX slots_engine ON slots (engine_id);
  `,
  `
  CREATE TABLE task_labels (
    task_id TEXT NOT NULL REFERENCES tasks (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (key, value, task_id)
  );
  INSERT INTO task_labels (task_id, key, value)
    SELECT t.id, j.key, j.value FROM tasks t, jsonb_each_text(t.submit::jsonb -> 'labels') j
    WHERE t.submit IS NOT NULL AND jsonb_typeof(t.submit::jsonb -> 'labels') = 'object'
    ON CONFLICT DO NOTHING;
  CREATE INDEX tasks_created_at ON tasks (created_at, seq);
  CREATE INDEX tasks_name_created_at ON tasks (name, created_at, seq);
  CREATE TABLE metric_points (
    task_id TEXT NOT NULL REFERENCES tasks (id),
    attempt INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    step DOUBLE PRECISION,
    value TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (task_id, attempt, seq)
  );
  `,
  `
  CREATE TABLE releases (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
  );
  CREATE UNIQUE INDEX releases_task ON releases (task_id);
  CREATE TABLE release_files (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (name, version, path)
  );
  `,
  `
  ALTER TABLE tasks ADD COLUMN image TEXT;
  `,
  `
  ALTER TABLE tasks ADD COLUMN approval TEXT;
  `,
  // Messages go through LISTEN/NOTIFY (postgres-bus.ts): no message table, only who listens.
  `
  CREATE TABLE bus_members (
    member TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
  );
  `,
  `
  CREATE INDEX runs_running ON runs (created_at) WHERE status = 'running';
  `, // Why a task recorded `running` still waits where its executor put it (a Slurm job pending).
  `
  ALTER TABLE tasks ADD COLUMN queue_reason TEXT;
  `,
  `
  CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    event TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    next_attempt_at BIGINT,
    engine_id TEXT,
    request TEXT
  );
  CREATE INDEX notifications_run ON notifications (run_id, created_at);
  CREATE INDEX notifications_pending ON notifications (created_at) WHERE status = 'pending';
  `,
  `
  CREATE TABLE triggers (
    name TEXT PRIMARY KEY,
    definition TEXT,
    paused INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_slot_at BIGINT,
    last_run_id TEXT
  );
  CREATE TABLE trigger_fires (
    trigger_name TEXT NOT NULL,
    slot TEXT NOT NULL,
    slot_at BIGINT,
    at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    run_id TEXT,
    message TEXT,
    PRIMARY KEY (trigger_name, slot)
  );
  CREATE INDEX trigger_fires_at ON trigger_fires (trigger_name, at);
  `,
  // Remote agents: attempts they may claim and who holds which (postgres-agents.ts).
  `
  CREATE TABLE agent_claims (
    key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    pool TEXT NOT NULL,
    work TEXT NOT NULL,
    state TEXT NOT NULL,
    agent TEXT,
    token TEXT,
    lease_until BIGINT,
    claimed_at BIGINT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    created_at BIGINT NOT NULL
  );
  CREATE INDEX agent_claims_open ON agent_claims (pool, created_at) WHERE state = 'open';
  CREATE INDEX agent_claims_claimed ON agent_claims (agent) WHERE state = 'claimed';
  CREATE TABLE agents (
    name TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pools TEXT NOT NULL,
    slots INTEGER NOT NULL,
    resources TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
  );
  `,
  // Per-agent tokens (`baton agent token create`): only their sha256 is kept (postgres-agents.ts).
  `
  CREATE TABLE agent_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    pools TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
  );
  `,
  // Only computed results are looked up by cache key (a cached task points at what computed
  // it): a cached rerun of 10,000 tasks no longer adds 10,000 entries to the index, nor writes
  // the pages they land on. Cached tasks keep their key, unindexed.
  `
  DROP INDEX tasks_cache_key;
  CREATE INDEX tasks_cache_key ON tasks (cache_key, ended_at) WHERE cache_key IS NOT NULL AND cached = 0;
  `,
];
