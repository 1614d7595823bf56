// How wrangler itself resolves environments of wrangler.toml, inheritance from the top
// level included. Prints `{"<env>": {...}}` as JSON on stdout; on stderr, wrangler's own
// warnings for each environment follow a line `== <env>`.
// Run from the repository root: `node tests/deploy/wrangler_config.cjs <env>...`.
"use strict";

const { unstable_readConfig: readConfig } = require("wrangler");

const envs = process.argv.slice(2);
if (envs.length === 0) {
  console.error("usage: wrangler_config.cjs <env>...");
  process.exit(2);
}
const resolved = {};
for (const env of envs) {
  console.error(`== ${env}`);
  // `top`: the top level, as a bare `wrangler deploy` (no --env) would read it.
  const config = readConfig({ config: "wrangler.toml", env: env === "top" ? undefined : env });
  const picked = {};
  for (const key of [
    "name",
    "main",
    "compatibility_date",
    "build",
    "routes",
    "route",
    "triggers",
    "vars",
    "workers_dev",
    "preview_urls",
  ]) {
    picked[key] = config[key] ?? null;
  }
  resolved[env] = picked;
}
process.stdout.write(JSON.stringify(resolved));
