import { fireEvent, render, screen, waitFor, within } from '@solidjs/testing-library';
import { HttpResponse, http } from 'msw';
import { createSignal } from 'solid-js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from '../App';
import { setSession } from '../api/client';
import { setLocale } from '../lib/i18n';
import { adminSession, at, server } from '../test/server';
import { type ApplicationStatus, AppStatusTable } from './AppStatusTable';

const WEB = 'app_00000000000000000001';
const API = 'app_00000000000000000002';

function app(id: string, name: string, over: Partial<ApplicationStatus> = {}): ApplicationStatus {
  return {
    id,
    name,
    status: 'running',
    applicationStatus: 'running',
    uptime: '2h 5m',
    uptimeSeconds: 7500,
    instances: 2,
    desiredInstances: 2,
    runningOn: ['node-a', 'node-b'],
    cpu: 42.5,
    memory: 12,
    network: 2048,
    storage: 0,
    metrics: {},
    health: 'healthy',
    healthChecks: [],
    logs: [],
    lastUpdated: '2026-01-01T00:00:00Z',
    ...over,
  };
}

const unhealthy = app(API, 'api', {
  status: 'warning',
  statusReason: 'health check failing',
  health: 'unhealthy',
  cpu: 130,
  healthChecks: [
    {
      name: 'http /healthz',
      status: 'fail',
      state: 'unhealthy',
      lastCheck: '2026-01-01T00:00:00Z',
      instanceId: 'i1',
      consecutiveFailures: 3,
      message: 'HTTP 500',
    },
  ],
});

const viewerSession = { ...adminSession, user: { ...adminSession.user, role: 'viewer' as const } };
const rowOf = (id: string) =>
  screen.getAllByTestId('app-row').find((r) => r.getAttribute('data-id') === id) as HTMLElement;

beforeEach(() => {
  setLocale('en');
  setSession(adminSession);
});
afterEach(() => vi.unstubAllGlobals());

describe('application status table', () => {
  it('shows each status with its tone, CPU and memory bars, network rate, nodes and health', async () => {
    server.use(
      http.get('*/api/status', () =>
        HttpResponse.json([
          app(WEB, 'web'),
          unhealthy,
          app('app_00000000000000000003', 'batch', { status: 'deploying', instances: 0, runningOn: [] }),
          app('app_00000000000000000004', 'old', { status: 'stopped', instances: 0 }),
          app('app_00000000000000000005', 'broken', { status: 'error' }),
        ]),
      ),
    );
    render(() => <AppStatusTable tick={0} />);
    await screen.findByText('web');
    expect(screen.getByRole('table', { name: 'Application status' })).toBeTruthy();
    const tones = screen
      .getAllByTestId('app-status')
      .map((s) => [s.textContent, s.getAttribute('data-tone')]);
    expect(tones).toEqual([
      ['Running', 'ok'],
      ['Warning', 'warn'],
      ['Deploying', 'busy'],
      ['Stopped', 'idle'],
      ['Error', 'error'],
    ]);

    const web = rowOf(WEB);
    const cpu = within(web).getByRole('progressbar', { name: 'CPU web' });
    expect(cpu.getAttribute('aria-valuenow')).toBe('42.5');
    expect(cpu.getAttribute('aria-valuemax')).toBe('100');
    expect(within(web).getByRole('progressbar', { name: 'Memory web' }).getAttribute('aria-valuenow')).toBe(
      '12',
    );
    expect(web.textContent).toContain('2 KiB/s');
    expect(web.textContent).toContain('2h 5m');
    expect(web.textContent).toContain('2/2 instances');
    expect(within(web).getByText('node-a')).toBeTruthy();
    expect(within(web).getByText('node-b')).toBeTruthy();
    expect(within(web).getByTestId('app-health').textContent).toBe('Healthy');

    // Over 100 % of the allotted CPU: the bar is full, the text tells the real figure.
    const api = rowOf(API);
    const over = within(api).getByRole('progressbar', { name: 'CPU api' });
    expect(over.getAttribute('aria-valuenow')).toBe('100');
    expect(over.getAttribute('aria-valuetext')).toBe('130%');
  });

  it('warns about an unhealthy application and says which check fails', async () => {
    server.use(http.get('*/api/status', () => HttpResponse.json([app(WEB, 'web'), unhealthy])));
    render(() => <AppStatusTable tick={0} />);
    await screen.findByText('api');
    const row = rowOf(API);
    expect(row.getAttribute('data-status')).toBe('warning');
    expect(row.textContent).toContain('health check failing');
    const health = within(row).getByTestId('app-health');
    expect(health.getAttribute('data-health')).toBe('unhealthy');
    expect(health.textContent).toBe('Unhealthy');
    expect(health.getAttribute('title')).toBe('http /healthz: HTTP 500');
    expect(within(rowOf(WEB)).getByTestId('app-health').getAttribute('title')).toBeNull();
  });

  it('stops an application only after confirmation, then re-reads the list', async () => {
    let stops = 0;
    let reads = 0;
    server.use(
      http.get('*/api/status', () => {
        reads++;
        return HttpResponse.json([app(WEB, 'web', stops ? { status: 'stopped', instances: 0 } : {})]);
      }),
      http.post(`*/api/applications/${WEB}/stop`, () => {
        stops++;
        return HttpResponse.json({ id: WEB, name: 'web', status: 'stopped' });
      }),
    );
    const asked: string[] = [];
    let answer = false;
    vi.stubGlobal('confirm', (q: string) => {
      asked.push(q);
      return answer;
    });
    render(() => <AppStatusTable tick={0} />);
    await screen.findByText('web');
    const stop = () => within(rowOf(WEB)).getByRole('button', { name: 'Stop web' });

    fireEvent.click(stop());
    expect(asked).toEqual(['Stop every instance of application “web”?']);
    await new Promise((r) => setTimeout(r, 50));
    expect(stops).toBe(0);

    answer = true;
    fireEvent.click(stop());
    await waitFor(() => expect(rowOf(WEB).getAttribute('data-status')).toBe('stopped'));
    expect(stops).toBe(1);
    expect(reads).toBe(2);
    expect((stop() as HTMLButtonElement).disabled).toBe(true);
  });

  it('restarts without asking', async () => {
    let restarted = false;
    server.use(
      http.get('*/api/status', () => HttpResponse.json([app(WEB, 'web')])),
      http.post(`*/api/applications/${WEB}/restart`, () => {
        restarted = true;
        return HttpResponse.json({ id: WEB, name: 'web', status: 'running' });
      }),
    );
    const confirm = vi.fn(() => false);
    vi.stubGlobal('confirm', confirm);
    render(() => <AppStatusTable tick={0} />);
    await screen.findByText('web');
    fireEvent.click(within(rowOf(WEB)).getByRole('button', { name: 'Restart web' }));
    await waitFor(() => expect(restarted).toBe(true));
    expect(confirm).not.toHaveBeenCalled();
  });

  it('gives a viewer the logs but no restart or stop', async () => {
    setSession(viewerSession);
    server.use(http.get('*/api/status', () => HttpResponse.json([app(WEB, 'web')])));
    render(() => <AppStatusTable tick={0} />);
    await screen.findByText('web');
    const row = rowOf(WEB);
    expect(within(row).getByRole('button', { name: 'Logs web' })).toBeTruthy();
    expect(within(row).queryByRole('button', { name: 'Restart web' })).toBeNull();
    expect(within(row).queryByRole('button', { name: 'Stop web' })).toBeNull();
  });

  it('re-reads when the page ticks (auto refresh, refresh button)', async () => {
    let reads = 0;
    server.use(
      http.get('*/api/status', () => {
        reads++;
        return HttpResponse.json([app(WEB, 'web', { uptime: `${reads}m` })]);
      }),
    );
    const [tick, setTick] = createSignal(0);
    render(() => <AppStatusTable tick={tick()} />);
    await screen.findByText('1m');
    setTick(1);
    await screen.findByText('2m');
    expect(reads).toBe(2);
  });

  it('opens the merged instance logs with a level filter', async () => {
    server.use(
      http.get('*/api/status', () => HttpResponse.json([app(WEB, 'web')])),
      http.get(`*/api/applications/${WEB}/logs`, ({ request }) => {
        expect(new URL(request.url).searchParams.get('tail')).toBe('200');
        const line = (message: string, level: string, source: string) => ({
          timestamp: '2026-01-01T00:00:01Z',
          stream: 'stdout',
          level,
          message,
          source,
          instanceId: source,
        });
        return HttpResponse.json({
          items: [line('listening', 'info', 'web-1'), line('db down', 'error', 'web-2')],
        });
      }),
    );
    render(() => <AppStatusTable tick={0} />);
    await screen.findByText('web');
    fireEvent.click(within(rowOf(WEB)).getByRole('button', { name: 'Logs web' }));
    expect(screen.getByRole('dialog', { name: 'Logs: web' })).toBeTruthy();
    const log = screen.getByRole('log', { name: 'Logs' });
    await waitFor(() => expect(log.textContent).toContain('[web-2] db down'));
    expect(log.textContent).toContain('[web-1] listening');
    fireEvent.change(screen.getByLabelText('Log level'), { target: { value: 'error' } });
    expect(log.textContent).toContain('db down');
    expect(log.textContent).not.toContain('listening');
  });
});

describe('status page with applications', () => {
  it('re-reads the application table on application:status, not on build output', async () => {
    let reads = 0;
    let status: ApplicationStatus['status'] = 'deploying';
    let push: ((s: string) => void) | undefined;
    server.use(
      http.get('*/api/status', () => {
        reads++;
        return HttpResponse.json([app(WEB, 'web', { status })]);
      }),
      http.get('*/api/containers', () => HttpResponse.json({ items: [], total: 0 })),
      http.get(`${location.origin}/resources`, () =>
        HttpResponse.json({
          limits: { cpu: 4, memory: 8, gpu: 0 },
          current: { cpu: 0, memory: 0, gpu: 0 },
          available: { cpu: 4, memory: 8, gpu: 0 },
          utilization: { cpu: 0, memory: 0, gpu: 0 },
        }),
      ),
      http.get('*/api/events', () => {
        const stream = new ReadableStream<Uint8Array>({
          start(ctrl) {
            const enc = new TextEncoder();
            push = (s) => ctrl.enqueue(enc.encode(s));
            push(': connected\n\n');
          },
        });
        return new HttpResponse(stream, { headers: { 'content-type': 'text/event-stream' } });
      }),
    );
    at('/monitor');
    render(() => <App />);
    const row = await screen.findByTestId('app-row');
    expect(row.getAttribute('data-status')).toBe('deploying');
    await waitFor(() => expect(push).toBeDefined());
    const before = reads;

    push?.(
      `id: 1\nevent: application:build\ndata: {"type":"application:build","data":{"lines":["step 1"]}}\n\n`,
    );
    await new Promise((r) => setTimeout(r, 400));
    expect(reads).toBe(before);

    status = 'running';
    push?.(
      `id: 2\nevent: application:status\ndata: {"type":"application:status","data":{"applicationId":"${WEB}","status":"running"}}\n\n`,
    );
    await waitFor(() => expect(screen.getByTestId('app-row').getAttribute('data-status')).toBe('running'), {
      timeout: 3000,
    });
    expect(reads).toBe(before + 1);
  });
});
