/** msw request handlers shared by the component tests; tests add their own with server.use(). */
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import type { Session } from '../api/client';

export const adminSession: Session = {
  token: 'jwt-admin',
  expiresAt: new Date(Date.now() + 3600_000).toISOString(),
  user: { id: 'u1', username: 'admin', role: 'admin' },
};

export const localDocker = {
  id: 'r-local',
  name: 'local-docker',
  type: 'docker' as const,
  url: 'unix:///var/run/docker.sock',
  status: 'connected' as const,
  cpu: { total: 8, used: 0.5, available: 7.5 },
  memory: { total: 16, used: 1, available: 15 },
  storage: { total: 100, used: 0, available: 100 },
  tags: [],
  hasToken: false,
  credentials: {
    hasCa: false,
    hasCert: false,
    hasKey: false,
    tlsSkipVerify: false,
    hasSshKey: false,
    hasSshPassword: false,
  },
  builtin: true,
  lastUpdated: '2026-01-01T00:00:00Z',
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
};

export const server = setupServer(
  http.get('*/api/resources', () => HttpResponse.json([localDocker])),
  // The Status page's application table; tests about applications answer their own list.
  http.get('*/api/status', () => HttpResponse.json([])),
  http.get('*/api/containers/:id/stats', () =>
    HttpResponse.json({
      cpuPercent: 1.5,
      memoryBytes: 3 * 1024 * 1024,
      memoryLimitBytes: 64 * 1024 * 1024,
      networkRxBytes: 0,
      networkTxBytes: 0,
      blockReadBytes: 0,
      blockWriteBytes: 0,
      at: '2026-01-01T00:00:00Z',
    }),
  ),
  http.get(
    '*/api/events',
    () => new HttpResponse(': connected\n\n', { headers: { 'content-type': 'text/event-stream' } }),
  ),
);

/** Put the browser (jsdom) at `path` before rendering the app; the router reads window.location. */
export function at(path: string): void {
  window.history.replaceState(null, '', path);
}
