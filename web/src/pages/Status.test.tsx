import { fireEvent, render, screen, waitFor, within } from '@solidjs/testing-library';
import { HttpResponse, http } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from '../App';
import { setSession } from '../api/client';
import { setLocale } from '../lib/i18n';
import { adminSession, at, server } from '../test/server';

const container = (status: string, allocation = 'committed') => ({
  id: 'c0ffee',
  allocationId: 'alloc-1',
  name: 'iarnet-alloc-1',
  image: 'iarnet-test/busybox:latest',
  status,
  allocation,
  resourceId: 'r-local',
  nodeId: 'n1',
  createdAt: '2026-01-01T00:00:00Z',
  resources: { cpu: 0.1, memory: 0.05, gpu: 0 },
});
const quota = {
  limits: { cpu: 4, memory: 8, gpu: 0 },
  current: { cpu: 0.1, memory: 0.05, gpu: 0 },
  available: { cpu: 3.9, memory: 7.95, gpu: 0 },
  utilization: { cpu: 2.5, memory: 0.6, gpu: 0 },
};

beforeEach(() => {
  setLocale('zh-CN');
  setSession(adminSession);
});

describe('status page', () => {
  it('re-reads the list when /api/events pushes a run event, and sends the bearer token', async () => {
    let items: unknown[] = [];
    let push: ((s: string) => void) | undefined;
    let auth = '';
    server.use(
      http.get('*/api/containers', () => HttpResponse.json({ items, total: items.length })),
      http.get(`${location.origin}/resources`, () => HttpResponse.json(quota)),
      http.get('*/api/events', ({ request }) => {
        auth = request.headers.get('authorization') ?? '';
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
    expect(await screen.findByRole('heading', { name: '运行状态监控' })).toBeTruthy();
    await screen.findByText('暂无数据');
    await waitFor(() => expect(push).toBeDefined());
    expect(auth).toBe('Bearer jwt-admin');
    items = [container('running')];
    push?.(`id: 1\nevent: run:started\ndata: {"type":"run:started"}\n\n`);
    const row = await screen.findByTestId('container-row', {}, { timeout: 3000 });
    expect(within(row).getByText('running')).toBeTruthy();
    expect((await within(row).findByTestId('live-usage')).textContent).toBe('CPU 1.5% · 3 MiB');
    const running = screen.getByRole('region', { name: '运行中' });
    expect(within(running).getByTestId('stat-value').textContent).toBe('1');
    expect(screen.getByTestId('quota-summary').textContent).toContain('0.10 / 4');
  });

  it('stops a container after confirmation and shows the new state', async () => {
    let stopped = false;
    server.use(
      http.get('*/api/containers', () => HttpResponse.json({ items: [container('running')], total: 1 })),
      http.get(`${location.origin}/resources`, () => HttpResponse.json(quota)),
      http.post('*/api/containers/c0ffee/stop', () => {
        stopped = true;
        return HttpResponse.json(container('exited', 'released'));
      }),
    );
    vi.stubGlobal('confirm', () => true);
    at('/monitor');
    render(() => <App />);
    const row = await screen.findByTestId('container-row');
    fireEvent.click(within(row).getByRole('button', { name: /停止/ }));
    await waitFor(() =>
      expect(screen.getByTestId('container-row').getAttribute('data-status')).toBe('exited'),
    );
    expect(stopped).toBe(true);
    vi.unstubAllGlobals();
  });

  it('a run placed on a peer can be stopped and restarted from here, its logs and use read', async () => {
    const calls: string[] = [];
    const remote = { ...container('remote'), name: 'on node-b', nodeId: 'node-b', remote: true };
    server.use(
      http.get('*/api/containers', () => HttpResponse.json({ items: [remote], total: 1 })),
      http.get(`${location.origin}/resources`, () => HttpResponse.json(quota)),
      http.get('*/api/containers/c0ffee/stats', () => {
        calls.push('stats');
        return HttpResponse.json({
          cpuPercent: 1,
          memoryBytes: 2 ** 20,
          memoryLimitBytes: 2 ** 27,
          networkRxBytes: 0,
          networkTxBytes: 0,
          blockReadBytes: 0,
          blockWriteBytes: 0,
          at: new Date().toISOString(),
        });
      }),
      http.post('*/api/containers/c0ffee/stop', () => {
        calls.push('stop');
        return HttpResponse.json({ ...remote, status: 'exited', allocation: 'released' });
      }),
      http.post('*/api/containers/c0ffee/restart', () => {
        calls.push('restart');
        return HttpResponse.json(remote);
      }),
    );
    vi.stubGlobal('confirm', () => true);
    at('/monitor');
    render(() => <App />);
    const row = await screen.findByTestId('container-row');
    expect((within(row).getByRole('button', { name: /日志/ }) as HTMLButtonElement).disabled).toBe(false);
    await waitFor(() => expect(calls).toContain('stats'));
    fireEvent.click(within(row).getByRole('button', { name: /停止/ }));
    await waitFor(() =>
      expect(screen.getByTestId('container-row').getAttribute('data-status')).toBe('exited'),
    );
    fireEvent.click(within(screen.getByTestId('container-row')).getByRole('button', { name: /重启/ }));
    await waitFor(() =>
      expect(screen.getByTestId('container-row').getAttribute('data-status')).toBe('remote'),
    );
    expect(calls.filter((c) => c !== 'stats')).toEqual(['stop', 'restart']);
    vi.unstubAllGlobals();
  });

  it('a stopped container can be started again with restart (no stop button)', async () => {
    let restarted = false;
    server.use(
      http.get('*/api/containers', () =>
        HttpResponse.json({ items: [container('exited', 'released')], total: 1 }),
      ),
      http.get(`${location.origin}/resources`, () => HttpResponse.json(quota)),
      http.post('*/api/containers/c0ffee/restart', () => {
        restarted = true;
        return HttpResponse.json(container('running'));
      }),
    );
    at('/monitor');
    render(() => <App />);
    const row = await screen.findByTestId('container-row');
    expect(within(row).queryByRole('button', { name: /停止/ })).toBeNull();
    fireEvent.click(within(row).getByRole('button', { name: /重启/ }));
    await waitFor(() =>
      expect(screen.getByTestId('container-row').getAttribute('data-status')).toBe('running'),
    );
    expect(restarted).toBe(true);
  });

  it('offers 10 s / 30 s / 1 min auto refresh', async () => {
    server.use(
      http.get('*/api/containers', () => HttpResponse.json({ items: [], total: 0 })),
      http.get(`${location.origin}/resources`, () => HttpResponse.json(quota)),
    );
    at('/monitor');
    render(() => <App />);
    const select = (await screen.findByLabelText('刷新间隔')) as HTMLSelectElement;
    expect([...select.options].map((o) => o.textContent)).toEqual(['10 秒', '30 秒', '1 分钟']);
    expect(screen.getByRole('switch', { name: '自动刷新' })).toBeTruthy();
  });
});
