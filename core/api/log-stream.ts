/**
 * Log lines as Server-Sent Events (`log` per line, `end` when the source ends, `error` when it
 * breaks): the one implementation behind every `follow=true` log route. Errors inside a stream
 * never reach the error handler, so callers check what can fail (reachability) before calling.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AppEnv } from '../kernel/plugin.ts';

export function streamLogLines(
  c: Context<AppEnv>,
  lines: (signal: AbortSignal) => AsyncIterable<unknown>,
  logContext: Record<string, unknown>,
): Response {
  const abort = new AbortController();
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => abort.abort());
    try {
      for await (const line of lines(abort.signal)) {
        await stream.writeSSE({ event: 'log', data: JSON.stringify(line) });
      }
      await stream.writeSSE({ event: 'end', data: '{}' });
    } catch (err) {
      if (!abort.signal.aborted) {
        c.get('logger').warn({ err, ...logContext }, 'log stream ended with an error');
        await stream.writeSSE({
          event: 'error',
          data: JSON.stringify({ error: 'The log stream was interrupted' }),
        });
      }
    }
  });
}
