/**
 * Navigating while a page re-reads its data. A re-read started outside a navigation (the event
 * stream, the refresh timer, the refresh button) must not leave the shell showing the old page
 * after the router has moved on (seen in the end-to-end test: URL /applications, the Status page
 * still on screen, for good).
 */
import { fireEvent, render, screen, waitFor } from '@solidjs/testing-library';
import { delay, HttpResponse, http } from 'msw';
import { beforeEach, describe, expect, it } from 'vitest';
import { App } from '../App';
import { setSession } from '../api/client';
import { setLocale } from '../lib/i18n';
import { adminSession, at, localDocker, server } from '../test/server';

const quota = {
  limits: { cpu: 4, memory: 8, gpu: 0 },
  current: { cpu: 0, memory: 0, gpu: 0 },
  available: { cpu: 4, memory: 8, gpu: 0 },
  utilization: { cpu: 0, memory: 0, gpu: 0 },
};

/** The first read answers at once, every later one (a re-read) after `ms`. */
function slowAfterFirst<T>(body: T, ms = 150) {
  let reads = 0;
  return async () => {
    if (reads++ > 0) await delay(ms);
    return HttpResponse.json(body as never);
  };
}

beforeEach(() => {
  setLocale('zh-CN');
  setSession(adminSession);
  server.use(
    http.get('*/api/applications', () => HttpResponse.json([])),
    http.get('*/api/nodes', () => HttpResponse.json({ items: [] })),
    http.get('*/api/containers', () => HttpResponse.json({ items: [], total: 0 })),
    http.get('*/api/tokens', () => HttpResponse.json([])),
    http.get('*/api/users', () => HttpResponse.json([])),
  );
});

const nav = (name: string) => screen.getByRole('link', { name });

describe('navigation during a re-read', () => {
  it('leaves the Status page for Applications while the container list is re-read', async () => {
    server.use(
      http.get('*/api/containers', slowAfterFirst({ items: [], total: 0 })),
      http.get(`${location.origin}/resources`, slowAfterFirst(quota)),
    );
    at('/monitor');
    render(() => <App />);
    await screen.findByTestId('quota-summary');
    fireEvent.click(screen.getByRole('button', { name: '刷新' }));
    fireEvent.click(nav('应用管理'));
    expect(await screen.findByRole('heading', { name: '应用管理' }, { timeout: 3000 })).toBeTruthy();
    await waitFor(() => expect(location.pathname).toBe('/applications'));
    expect(screen.queryByRole('heading', { name: '运行状态监控' })).toBeNull();
  });

  it('leaves the Resources page for Nodes while the resource list is re-read', async () => {
    server.use(http.get('*/api/resources', slowAfterFirst([localDocker])));
    at('/compute');
    render(() => <App />);
    await screen.findByTestId('resource-row');
    fireEvent.click(screen.getByRole('button', { name: '刷新' }));
    fireEvent.click(nav('节点'));
    expect(await screen.findByRole('heading', { name: '节点管理' }, { timeout: 3000 })).toBeTruthy();
    expect(screen.queryByRole('heading', { name: '算力资源接入管理' })).toBeNull();
  });

  it('shows the last list, not the loading placeholder, while the Status page re-reads', async () => {
    server.use(
      http.get('*/api/containers', slowAfterFirst({ items: [], total: 0 }, 300)),
      http.get(`${location.origin}/resources`, slowAfterFirst(quota, 300)),
    );
    at('/monitor');
    render(() => <App />);
    await screen.findByTestId('quota-summary');
    fireEvent.click(screen.getByRole('button', { name: '刷新' }));
    await new Promise((r) => setTimeout(r, 100));
    expect(screen.getByRole('heading', { name: '运行状态监控' })).toBeTruthy();
    expect(screen.getByTestId('quota-summary')).toBeTruthy();
  });
});
