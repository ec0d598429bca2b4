/**
 * Progress lines from the event stream for the Applications page. The server's application
 * events (types starting with `application:`, e.g. build output and deploy steps) are still
 * growing, so this reads them tolerantly: any JSON shape, any extra type, never throwing.
 */
import type { SseMessage } from '../api/sse';

export interface ProgressLine {
  id: string;
  appId: string | undefined;
  type: string;
  at: string;
  text: string;
  level: 'info' | 'error';
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Progress lines for an `application:*` event (none for any other event). Build output arrives
 * batched as `data.lines` (one event per 250 ms or 100 lines): one progress line each.
 */
export function progressLinesOf(m: SseMessage): ProgressLine[] {
  if (!m.event.startsWith('application:')) return [];
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(m.data);
    if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    body = { data: { line: m.data } };
  }
  const data = (body.data && typeof body.data === 'object' ? body.data : body) as Record<string, unknown>;
  const appId = str(data.applicationId) ?? str(data.appId) ?? str(data.id);
  const batch = Array.isArray(data.lines) ? data.lines.filter((l): l is string => typeof l === 'string') : [];
  const texts = batch.length
    ? batch
    : [
        str(data.line) ??
          str(data.message) ??
          str(data.text) ??
          str(data.step) ??
          ([str(data.status), str(data.reason) ?? str(data.statusReason)].filter(Boolean).join(': ') ||
            m.event),
      ];
  const failed = /fail|error/i.test(m.event) || data.status === 'error' || data.stream === 'stderr';
  const id = m.id ?? `${m.event}-${Date.now()}-${Math.random()}`;
  const at = str(body.at) ?? new Date().toISOString();
  return texts.map((text, i) => ({
    id: texts.length > 1 ? `${id}.${i}` : id,
    appId,
    type: m.event,
    at,
    text,
    level: failed ? 'error' : 'info',
  }));
}

/** Events after which the application list may have changed. */
export function affectsApplications(type: string): boolean {
  return type.startsWith('application:') || type.startsWith('run:') || type === 'reset';
}
