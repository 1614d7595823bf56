// vercel.json's routing compiled by Vercel's own code (@vercel/routing-utils, as the
// platform turns `rewrites`, `headers` and `cleanUrls` into routes), then, for each
// request path given, what those routes do with it. Prints JSON on stdout:
//   { "error": <Vercel's error or null>,
//     "paths": { "<path>": { "headers": {...}, "redirect": {status, location} | null,
//                            "rewrite": "<destination>" | null } } }
// Run: `node tests/deploy/vercel_routes.cjs vercel.json /api/v1/products /`.
//
// The evaluation is a small model of Vercel's router, enough for this config: routes
// before `handle: filesystem` add headers (`continue: true`) or redirect (`status`);
// after it, the first route with a `dest` that matches rewrites. Static files would be
// served at the filesystem step, before any rewrite.
"use strict";

const fs = require("node:fs");
const { getTransformedRoutes } = require("@vercel/routing-utils");

const [file, ...paths] = process.argv.slice(2);
const config = JSON.parse(fs.readFileSync(file, "utf8"));
const { routes, error } = getTransformedRoutes(config);
if (error) {
  process.stdout.write(JSON.stringify({ error, paths: {} }));
  process.exit(0);
}

// `$1` and `$name` in a `dest` or `Location`, filled from the `src` match.
function fill(template, match) {
  return template.replace(/\$(\d+|[A-Za-z_][A-Za-z0-9_]*)/g, (_, ref) => {
    const value = /^\d+$/.test(ref) ? match[Number(ref)] : match.groups?.[ref];
    return value ?? "";
  });
}

function route(path) {
  const result = { headers: {}, redirect: null, rewrite: null };
  let afterFilesystem = false;
  for (const r of routes) {
    if (r.handle) {
      afterFilesystem = afterFilesystem || r.handle === "filesystem";
      continue;
    }
    const match = new RegExp(r.src).exec(path);
    if (!match) continue;
    if (!afterFilesystem) {
      if (r.status >= 300 && r.status < 400) {
        result.redirect = { status: r.status, location: fill(r.headers.Location, match) };
        return result;
      }
      if (r.continue && r.headers) Object.assign(result.headers, r.headers);
      continue;
    }
    if (r.dest) {
      result.rewrite = fill(r.dest, match);
      return result;
    }
  }
  return result;
}

const out = { error: null, paths: {} };
for (const path of paths) out.paths[path] = route(path);
process.stdout.write(JSON.stringify(out));
