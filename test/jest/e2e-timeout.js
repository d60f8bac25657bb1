// Jest reads `testTimeout` from the top-level config only (a project's own value is
// ignored), so the e2e project sets its longer timeout here: a fresh embedded Postgres
// alone can take ~5 s to open, the default 5 s budget for a hook.
jest.setTimeout(60_000);
