// tsc compiles only TypeScript; the SQL migrations (and the .proto files) that owners ship beside their code must sit
// next to the compiled files too, because each owner resolves its folder via import.meta.url.
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const copied = [];

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!statSync(path).isDirectory() || name === 'node_modules') continue;
    if (name === 'migrations') {
      const target = join(root, 'dist', relative(root, path));
      cpSync(path, target, { recursive: true });
      copied.push(relative(root, path));
    } else {
      walk(path);
    }
  }
}

for (const top of ['core', 'plugins', 'examples']) if (existsSync(join(root, top))) walk(join(root, top));
// The gRPC plugin loads its .proto at run time (proto-loader), from dist/proto in images without sources.
if (existsSync(join(root, 'proto'))) {
  cpSync(join(root, 'proto'), join(root, 'dist', 'proto'), {
    recursive: true,
    filter: (src) => !src.includes('generated'),
  });
  copied.push('proto');
}
if (copied.length) console.log(`copied migrations: ${copied.join(', ')}`);
