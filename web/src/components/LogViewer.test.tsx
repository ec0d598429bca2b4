import { fireEvent, render, screen, waitFor } from '@solidjs/testing-library';
import { HttpResponse, http } from 'msw';
import { beforeEach, describe, expect, it } from 'vitest';
import { setSession } from '../api/client';
import { setLocale } from '../lib/i18n';
import type { Container } from '../pages/Status';
import { adminSession, server } from '../test/server';
import { LogViewer } from './LogViewer';

const container = {
  id: 'c0ffee',
  allocationId: 'a1',
  name: 'web-1',
  image: 'busybox',
  status: 'running',
  allocation: 'committed',
  resourceId: 'r',
  nodeId: 'n',
  createdAt: '2026-01-01T00:00:00Z',
  resources: { cpu: 0.1, memory: 0.05, gpu: 0 },
} as Container;

const line = (message: string, ts = '2026-01-01T00:00:01Z') => ({ stream: 'stdout', timestamp: ts, message });

beforeEach(() => {
  setLocale('en');
  setSession(adminSession);
});

describe('log viewer', () => {
  it('shows the last lines, filters them, and follows new ones over SSE', async () => {
    let push: ((s: string) => void) | undefined;
    let followUrl = '';
    server.use(
      http.get('*/api/containers/c0ffee/logs', ({ request }) => {
        const url = new URL(request.url);
        if (url.searchParams.get('follow') !== 'true') {
          return HttpResponse.json({ items: [line('booting'), line('listening on :80')] });
        }
        followUrl = url.search;
        const stream = new ReadableStream<Uint8Array>({
          start(ctrl) {
            const enc = new TextEncoder();
            push = (s) => ctrl.enqueue(enc.encode(s));
          },
        });
        return new HttpResponse(stream, { headers: { 'content-type': 'text/event-stream' } });
      }),
    );
    render(() => <LogViewer container={container} onClose={() => {}} />);
    expect(screen.getByRole('dialog', { name: 'Logs: web-1' })).toBeTruthy();
    const log = screen.getByRole('log', { name: 'Logs' });
    await waitFor(() => expect(log.textContent).toContain('listening on :80'));

    fireEvent.input(screen.getByLabelText('Search logs'), { target: { value: 'BOOT' } });
    expect(log.textContent).toContain('booting');
    expect(log.textContent).not.toContain('listening');
    fireEvent.input(screen.getByLabelText('Search logs'), { target: { value: '' } });

    fireEvent.click(screen.getByRole('switch', { name: 'Follow' }));
    await waitFor(() => expect(push).toBeDefined());
    expect(followUrl).toMatch(/since=\d+/);
    push?.(`event: log\ndata: ${JSON.stringify(line('GET / 200', '2026-01-01T00:00:05Z'))}\n\n`);
    await waitFor(() => expect(log.textContent).toContain('GET / 200'));
  });
});
