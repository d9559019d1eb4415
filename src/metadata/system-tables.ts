import type { Migration } from '../db/migrations.js';

/** Per-app system tables (spec: metadata.md §1), created in every app database. */
export const APP_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'app system tables',
    async up(tx) {
      const ts = 'created_at TIMESTAMPTZ DEFAULT NOW(), updated_at TIMESTAMPTZ DEFAULT NOW()';
      const statements = [
        'CREATE EXTENSION IF NOT EXISTS pgcrypto',
        `CREATE TABLE IF NOT EXISTS _entities (name TEXT PRIMARY KEY, table_name TEXT NOT NULL UNIQUE,
          definition JSONB NOT NULL, ${ts})`,
        `CREATE TABLE IF NOT EXISTS _relations (name TEXT PRIMARY KEY,
          source TEXT NOT NULL REFERENCES _entities(name) ON DELETE CASCADE,
          target TEXT NOT NULL REFERENCES _entities(name) ON DELETE CASCADE,
          definition JSONB NOT NULL, ${ts})`,
        `CREATE TABLE IF NOT EXISTS _rules (id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
          entity TEXT NOT NULL REFERENCES _entities(name) ON DELETE CASCADE,
          hook TEXT NOT NULL DEFAULT 'before_write', type TEXT NOT NULL, definition JSONB NOT NULL,
          priority INT NOT NULL DEFAULT 0, active BOOLEAN NOT NULL DEFAULT true, ${ts})`,
        `CREATE TABLE IF NOT EXISTS _state_machines (id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
          entity TEXT NOT NULL REFERENCES _entities(name) ON DELETE CASCADE, field TEXT NOT NULL,
          definition JSONB NOT NULL, active BOOLEAN NOT NULL DEFAULT true, ${ts})`,
        `CREATE TABLE IF NOT EXISTS _workflows (id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
          name TEXT NOT NULL UNIQUE, trigger JSONB NOT NULL, context JSONB NOT NULL DEFAULT '{}',
          steps JSONB NOT NULL DEFAULT '[]', active BOOLEAN NOT NULL DEFAULT true, ${ts})`,
        `CREATE TABLE IF NOT EXISTS _workflow_instances (id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
          workflow_id UUID NOT NULL REFERENCES _workflows(id) ON DELETE CASCADE, workflow_name TEXT NOT NULL,
          status TEXT NOT NULL DEFAULT 'running', current_step TEXT NULL, current_step_deadline TIMESTAMPTZ NULL,
          context JSONB NOT NULL DEFAULT '{}', history JSONB NOT NULL DEFAULT '[]', ${ts})`,
        `CREATE TABLE IF NOT EXISTS _users (id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
          email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, roles TEXT[] DEFAULT '{}',
          active BOOLEAN DEFAULT true, ${ts})`,
        `CREATE TABLE IF NOT EXISTS _refresh_tokens (id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
          user_id UUID NOT NULL REFERENCES _users(id) ON DELETE CASCADE, token UUID NOT NULL UNIQUE,
          expires_at TIMESTAMPTZ NOT NULL, created_at TIMESTAMPTZ DEFAULT NOW())`,
        'CREATE INDEX IF NOT EXISTS idx_refresh_tokens_token ON _refresh_tokens(token)',
        'CREATE INDEX IF NOT EXISTS idx_refresh_tokens_expires ON _refresh_tokens(expires_at)',
        `CREATE TABLE IF NOT EXISTS _permissions (id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
          entity TEXT NOT NULL, action TEXT NOT NULL, roles TEXT[] NOT NULL DEFAULT '{}',
          conditions JSONB DEFAULT '[]', ${ts})`,
        `CREATE TABLE IF NOT EXISTS _webhooks (id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
          entity TEXT NOT NULL, hook TEXT NOT NULL DEFAULT 'after_write', url TEXT NOT NULL,
          method TEXT NOT NULL DEFAULT 'POST', headers JSONB DEFAULT '{}', condition TEXT DEFAULT '',
          async BOOLEAN NOT NULL DEFAULT true,
          retry JSONB DEFAULT '{"max_attempts":3,"backoff":"exponential"}',
          active BOOLEAN NOT NULL DEFAULT true, ${ts})`,
        `CREATE TABLE IF NOT EXISTS _webhook_logs (id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
          webhook_id UUID NOT NULL REFERENCES _webhooks(id) ON DELETE CASCADE, entity TEXT NOT NULL,
          hook TEXT NOT NULL, url TEXT NOT NULL, method TEXT NOT NULL, request_headers JSONB DEFAULT '{}',
          request_body JSONB DEFAULT '{}', response_status INT NULL, response_body TEXT DEFAULT '',
          status TEXT NOT NULL DEFAULT 'pending', attempt INT NOT NULL DEFAULT 0,
          max_attempts INT NOT NULL DEFAULT 3, next_retry_at TIMESTAMPTZ NULL, error TEXT DEFAULT '',
          idempotency_key TEXT NOT NULL, ${ts})`,
        'CREATE INDEX IF NOT EXISTS idx_webhook_logs_status ON _webhook_logs(status)',
        `CREATE INDEX IF NOT EXISTS idx_webhook_logs_retry ON _webhook_logs(next_retry_at) WHERE status = 'retrying'`,
        `CREATE TABLE IF NOT EXISTS _files (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), filename TEXT NOT NULL,
          storage_path TEXT NOT NULL, mime_type TEXT NOT NULL DEFAULT 'application/octet-stream',
          size BIGINT NOT NULL DEFAULT 0, uploaded_by UUID NULL, created_at TIMESTAMPTZ DEFAULT NOW())`,
        `CREATE TABLE IF NOT EXISTS _ui_configs (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), entity TEXT NOT NULL,
          scope TEXT NOT NULL DEFAULT 'default', config JSONB NOT NULL DEFAULT '{}', ${ts}, UNIQUE(entity, scope))`,
        `CREATE TABLE IF NOT EXISTS _invites (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), email TEXT NOT NULL,
          roles TEXT[] DEFAULT '{}', token TEXT NOT NULL UNIQUE, expires_at TIMESTAMPTZ NOT NULL,
          accepted_at TIMESTAMPTZ NULL, invited_by UUID NULL, created_at TIMESTAMPTZ DEFAULT NOW())`,
        'CREATE INDEX IF NOT EXISTS idx_invites_token ON _invites(token)',
        'CREATE INDEX IF NOT EXISTS idx_invites_email ON _invites(email)',
        `CREATE TABLE IF NOT EXISTS _events (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), trace_id TEXT,
          span_id TEXT, parent_span_id TEXT, event_type TEXT, source TEXT, component TEXT, action TEXT,
          entity TEXT, record_id TEXT, user_id TEXT, duration_ms DOUBLE PRECISION, status TEXT,
          metadata JSONB, created_at TIMESTAMPTZ DEFAULT NOW())`,
      ];
      for (const sql of statements) await tx.query(sql);
    },
  },
  {
    version: 2,
    name: 'outbox for post-commit effects',
    async up(tx) {
      await tx.query(`CREATE TABLE IF NOT EXISTS _outbox (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        kind TEXT NOT NULL,
        payload JSONB NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        claimed_at TIMESTAMPTZ NULL,
        processed_at TIMESTAMPTZ NULL,
        error TEXT NULL)`);
      await tx.query('CREATE INDEX IF NOT EXISTS idx_outbox_pending ON _outbox(kind, created_at) WHERE processed_at IS NULL');
    },
  },
  {
    version: 3,
    name: 'workflow instance trigger, depth, error; deadline and pending indexes',
    async up(tx) {
      await tx.query(`ALTER TABLE _workflow_instances
        ADD COLUMN IF NOT EXISTS trigger JSONB NOT NULL DEFAULT '{}',
        ADD COLUMN IF NOT EXISTS depth INT NOT NULL DEFAULT 1,
        ADD COLUMN IF NOT EXISTS error TEXT NULL`);
      await tx.query(`CREATE INDEX IF NOT EXISTS idx_workflow_instances_deadline ON _workflow_instances(current_step_deadline)
        WHERE status = 'running' AND current_step_deadline IS NOT NULL`);
      await tx.query(`CREATE INDEX IF NOT EXISTS idx_workflow_instances_running ON _workflow_instances(created_at) WHERE status = 'running'`);
    },
  },
  {
    version: 4,
    name: 'webhook log indexes',
    async up(tx) {
      // The logs API lists by webhook and newest first; deleting a webhook cascades to its logs.
      await tx.query('CREATE INDEX IF NOT EXISTS idx_webhook_logs_webhook ON _webhook_logs(webhook_id)');
      await tx.query('CREATE INDEX IF NOT EXISTS idx_webhook_logs_created ON _webhook_logs(created_at DESC)');
      await tx.query(`CREATE INDEX IF NOT EXISTS idx_webhook_logs_pending ON _webhook_logs(created_at) WHERE status = 'pending'`);
    },
  },
  {
    version: 5,
    name: 'record history and audit log',
    async up(tx) {
      // Entries are only ever inserted (in the writes' own transactions) and pruned by age; `id` orders
      // entries of one instant (a write and its cascades share one clock).
      await tx.query(`CREATE TABLE IF NOT EXISTS _history (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        entity TEXT NOT NULL,
        record_id TEXT NULL,
        action TEXT NOT NULL,
        changes JSONB NOT NULL,
        actor_kind TEXT NOT NULL,
        actor_id TEXT NULL,
        actor_email TEXT NULL,
        at TIMESTAMPTZ NOT NULL)`);
      // One record's history; the whole log by time (also retention); one actor's entries.
      await tx.query('CREATE INDEX IF NOT EXISTS idx_history_record ON _history(entity, record_id, at DESC, id DESC)');
      await tx.query('CREATE INDEX IF NOT EXISTS idx_history_at ON _history(at DESC, id DESC)');
      await tx.query('CREATE INDEX IF NOT EXISTS idx_history_actor ON _history(actor_id, at DESC, id DESC)');
    },
  },
  {
    version: 6,
    name: 'realtime change feed',
    async up(tx) {
      // Changes captured in the writes' own transactions, in capture order; a sequencer moves the
      // committed ones to the log (spec: realtime.md; see src/realtime/sequencer.ts).
      await tx.query(`CREATE TABLE IF NOT EXISTS _realtime_pending (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        entity TEXT NOT NULL,
        action TEXT NOT NULL,
        record_id TEXT NULL,
        row JSONB NOT NULL,
        changed TEXT[] NULL,
        at TIMESTAMPTZ NOT NULL,
        by TEXT NULL)`);
      // The event ids: assigned only by the sequencer, under its lock, so they follow commit order.
      await tx.query('CREATE SEQUENCE IF NOT EXISTS _realtime_event_id');
      await tx.query(`CREATE TABLE IF NOT EXISTS _realtime_log (
        id BIGINT PRIMARY KEY,
        entity TEXT NOT NULL,
        action TEXT NOT NULL,
        record_id TEXT NULL,
        row JSONB NOT NULL,
        changed TEXT[] NULL,
        at TIMESTAMPTZ NOT NULL,
        by TEXT NULL,
        sequenced_at TIMESTAMPTZ NOT NULL)`);
      // pruned_through: every event id up to it is gone (a Last-Event-ID below it gets a reset).
      await tx.query(`CREATE TABLE IF NOT EXISTS _realtime_state (
        one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
        pruned_through BIGINT NOT NULL DEFAULT 0)`);
      await tx.query('INSERT INTO _realtime_state (one) VALUES (true) ON CONFLICT DO NOTHING');
      // Single-use subscription tickets, stored by their SHA-256 only.
      await tx.query(`CREATE TABLE IF NOT EXISTS _realtime_tickets (
        hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        roles TEXT[] NOT NULL,
        email TEXT NULL,
        platform BOOLEAN NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL)`);
    },
  },
  {
    version: 7,
    name: 'access-token revocation',
    async up(tx) {
      // Access tokens issued up to this instant are refused (spec: auth.md, revocation on disable and
      // password change); a re-enabled account's old tokens must stay revoked, so `active` cannot say it.
      await tx.query('ALTER TABLE _users ADD COLUMN IF NOT EXISTS tokens_revoked_at TIMESTAMPTZ NULL');
    },
  },
  {
    version: 8,
    name: 'append-ordered indexes of the history and webhook logs',
    async up(tx) {
      // History is read newest first by id (src/history/read.ts), so one record's and one actor's entries are
      // indexed by id too: a page is then read off the index without a sort. Ascending, because every new
      // entry goes to the end of its run, where a btree fills its pages; the DESC indexes of version 5 took
      // every insert at the front of the run, split their pages in halves, and grew to about twice the size.
      // `at` only bounds ranges (since/until, retention): the entries are appended in about `at` order, so a
      // BRIN index of a few pages serves them, where a btree cost an index entry per write.
      await tx.query('DROP INDEX IF EXISTS idx_history_record');
      await tx.query('DROP INDEX IF EXISTS idx_history_at');
      await tx.query('DROP INDEX IF EXISTS idx_history_actor');
      await tx.query('CREATE INDEX IF NOT EXISTS idx_history_record_id ON _history(entity, record_id, id)');
      await tx.query('CREATE INDEX IF NOT EXISTS idx_history_actor_id ON _history(actor_id, id)');
      await tx.query('CREATE INDEX IF NOT EXISTS idx_history_at_range ON _history USING brin (at)');
      // The delivery log is listed newest first too (created_at DESC, id DESC): read backwards, an ascending
      // index gives that order with the same append-at-the-end inserts.
      await tx.query('DROP INDEX IF EXISTS idx_webhook_logs_created');
      await tx.query('CREATE INDEX IF NOT EXISTS idx_webhook_logs_created_id ON _webhook_logs(created_at, id)');
    },
  },
  {
    version: 9,
    name: 'realtime captures without an index',
    async up(tx) {
      // Nothing looks a capture up by `seq`: the sequencer takes every committed one in one DELETE (a scan of a
      // table that holds only what the last run has not taken yet) and orders them in memory. The primary key
      // cost every captured write one more btree entry and its WAL, and vacuum its clean-up. The identity
      // column still numbers the captures uniquely.
      await tx.query('ALTER TABLE _realtime_pending DROP CONSTRAINT IF EXISTS _realtime_pending_pkey');
    },
  },
  {
    version: 10,
    name: 'realtime events numbered by snapshot',
    async up(tx) {
      // A change is written once: its capture is the event, stamped with its writer's transaction id, and a
      // sequencer run records one batch (its snapshot and the ids it gave) instead of moving every capture into
      // a log (src/realtime/sequencer.ts). Captures not numbered yet take the migration's transaction id: the
      // first run numbers them.
      await tx.query('ALTER TABLE _realtime_pending ADD COLUMN IF NOT EXISTS txid xid8 NOT NULL DEFAULT pg_current_xact_id()');
      await tx.query('ALTER TABLE _realtime_pending RENAME TO _realtime_events');
      await tx.query('CREATE INDEX IF NOT EXISTS idx_realtime_events_txid ON _realtime_events(txid)');
      await tx.query(`CREATE TABLE IF NOT EXISTS _realtime_batches (
        first BIGINT PRIMARY KEY,
        last BIGINT NOT NULL,
        snap pg_snapshot NOT NULL,
        since xid8 NOT NULL,
        running xid8[] NOT NULL,
        entities TEXT[] NOT NULL,
        sequenced_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())`);
      // Events already in the log count as pruned: a Last-Event-ID among them gets `reset`.
      await tx.query('UPDATE _realtime_state SET pruned_through = GREATEST(pruned_through, COALESCE((SELECT max(id) FROM _realtime_log), 0))');
      await tx.query('DROP TABLE _realtime_log');
      // An instance of the previous version still running captures into the old name: its changes are numbered
      // like the others (its own sequencer runs fail, the log they moved captures into being gone, and take nothing).
      await tx.query('CREATE VIEW _realtime_pending AS SELECT seq, entity, action, record_id, row, changed, at, by FROM _realtime_events');
    },
  },
];
