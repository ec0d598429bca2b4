/**
 * Options shared by the three serveStatic adapters (`@hono/node-server/serve-static`, `hono/bun`,
 * `hono/deno`). All three join `root` and the request path with `node:path`, so an absolute root
 * works as is, whatever the process's working directory.
 */
export function staticOptions(root: string, prefix?: string) {
  const base = prefix?.replace(/\/+$/, '') ?? '';
  return {
    root,
    rewriteRequestPath: (path: string): string => {
      if (!base) return path;
      if (path === base) return '/';
      // `/static/x` → `/x`; `/staticx` does not belong to the prefix `/static`.
      return path.startsWith(`${base}/`) ? path.slice(base.length) : path;
    },
  };
}
