import { render, screen } from '@solidjs/testing-library';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { App, ROUTES } from '../App';
import { setSession } from '../api/client';
import { setLocale } from '../lib/i18n';
import { adminSession, at, localDocker, server } from '../test/server';

const cluster = {
  ...localDocker,
  id: 'r-k8s',
  name: 'prod-cluster',
  type: 'kubernetes' as const,
  url: 'https://10.0.0.1:6443',
  builtin: false,
  cpu: { total: 8, used: 1, available: 7 },
  memory: { total: 16, used: 1, available: 15 },
  measured: { cpu: 0.2, memory: 0.125, at: '2026-01-01T00:00:00Z', scope: 'workloads' as const, count: 2 },
};

describe('resources page: measured usage', () => {
  it('shows what the cluster measured under the reservations, and nothing for a resource without metrics', async () => {
    setLocale('en');
    setSession(adminSession);
    server.use(http.get('*/api/resources', () => HttpResponse.json([localDocker, cluster])));
    at(ROUTES.resources);
    render(() => <App />);
    const cpu = await screen.findByTestId('resource-measured-cpu');
    expect(cpu.textContent).toBe('measured 0.20 cores');
    expect(cpu.getAttribute('title')).toContain('2 workloads');
    expect(screen.getByTestId('resource-measured-memory').textContent).toBe('measured 128 MiB');
    // One row has metrics, the local engine does not.
    expect(screen.getAllByTestId('resource-measured-cpu')).toHaveLength(1);
  });

  it('in Chinese', async () => {
    setLocale('zh-CN');
    setSession(adminSession);
    server.use(http.get('*/api/resources', () => HttpResponse.json([cluster])));
    at(ROUTES.resources);
    render(() => <App />);
    expect((await screen.findByTestId('resource-measured-cpu')).textContent).toBe('实测 0.20 核');
  });
});
