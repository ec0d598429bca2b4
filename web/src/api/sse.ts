/**
 * Server-Sent Events over fetch + ReadableStream, so the Authorization header can be sent
 * (EventSource cannot). Reconnects with Last-Event-ID after a drop; stops on abort or 401.
 */
import { authHeader, setSession } from './client';

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

export interface SseOptions {
  onMessage: (m: SseMessage) => void;
  onOpen?: () => void;
  onError?: (err: unknown) => void;
  /** Reconnect after this many ms when the stream ends; 0 = do not reconnect. */
  retryMs?: number;
}

/** Parse an SSE byte stream into messages. Exported for tests. */
export function createSseParser(emit: (m: SseMessage) => void) {
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  return (chunk: string) => {
    buffer += chunk;
    let nl = buffer.search(/\r?\n/);
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer[nl] === '\r' ? 2 : 1));
      if (line === '') {
        if (data.length) emit({ id, event: event || 'message', data: data.join('\n') });
        event = '';
        data = [];
      } else if (!line.startsWith(':')) {
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
      }
      nl = buffer.search(/\r?\n/);
    }
  };
}

/** Open a stream; returns a function that closes it. */
export function openSse(path: string, opts: SseOptions): () => void {
  const ctrl = new AbortController();
  let lastId: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const retry = opts.retryMs ?? 3000;

  const connect = async () => {
    try {
      const headers: Record<string, string> = { Accept: 'text/event-stream', ...authHeader() };
      if (lastId) headers['Last-Event-ID'] = lastId;
      const res = await fetch(path, { headers, signal: ctrl.signal });
      if (res.status === 401) {
        setSession(null);
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      opts.onOpen?.();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const parse = createSseParser((m) => {
        if (m.id) lastId = m.id;
        opts.onMessage(m);
      });
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parse(value);
      }
      throw new Error('stream ended');
    } catch (err) {
      if (ctrl.signal.aborted) return;
      opts.onError?.(err);
      if (retry > 0) timer = setTimeout(connect, retry);
    }
  };
  void connect();
  return () => {
    clearTimeout(timer);
    ctrl.abort();
  };
}
