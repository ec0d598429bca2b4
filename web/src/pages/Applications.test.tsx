import { fireEvent, render, screen, waitFor, within } from '@solidjs/testing-library';
import { HttpResponse, http } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from '../App';
import { setSession } from '../api/client';
import { progressLinesOf } from '../lib/app-events';
import { emptyAppForm, splitCommand, toCreateBody, validateApp } from '../lib/app-form';
import { setLocale } from '../lib/i18n';
import { adminSession, at, server } from '../test/server';

const app = (over: Record<string, unknown> = {}) => ({
  id: 'app_0123456789abcdef0123',
  name: 'hello',
  description: '',
  gitUrl: 'git://127.0.0.1:9418/hello',
  branch: 'main',
  hasGitToken: false,
  type: 'web',
  image: 'iarnet-test/busybox:latest',
  command: ['sleep', '300'],
  env: {},
  resources: { cpu: 0.1, memory: 0.05 },
  ports: [],
  status: 'idle',
  instances: 1,
  runningOn: [],
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
  ...over,
});

/** An /api/events stream the test can push events into. */
function eventStream() {
  const ref: { push?: (s: string) => void } = {};
  server.use(
    http.get('*/api/events', () => {
      const stream = new ReadableStream<Uint8Array>({
        start(ctrl) {
          const enc = new TextEncoder();
          ref.push = (s) => ctrl.enqueue(enc.encode(s));
          ref.push(': connected\n\n');
        },
      });
      return new HttpResponse(stream, { headers: { 'content-type': 'text/event-stream' } });
    }),
  );
  return ref;
}

const field = (label: string) => screen.getByLabelText(label) as HTMLInputElement;
const errorOf = (el: HTMLElement) => {
  const id = el.getAttribute('aria-describedby');
  return id ? document.getElementById(id)?.textContent : undefined;
};
const type = (label: string, value: string) => fireEvent.input(field(label), { target: { value } });

async function openCreate(list: unknown[] = []) {
  server.use(http.get('*/api/applications', () => HttpResponse.json(list)));
  at('/applications');
  render(() => <App />);
  fireEvent.click(await screen.findByRole('button', { name: 'New application' }));
  return screen.findByRole('dialog', { name: 'New application' });
}

beforeEach(() => {
  setLocale('en');
  setSession(adminSession);
});
afterEach(() => vi.unstubAllGlobals());

describe('application form: client-side checks match the server', () => {
  it('requires a name and a Git URL or an image, and marks the fields invalid', async () => {
    let posted = false;
    server.use(
      http.post('*/api/applications', () => {
        posted = true;
        return HttpResponse.json(app(), { status: 201 });
      }),
    );
    const dialog = await openCreate();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(field('Name').getAttribute('aria-invalid')).toBe('true'));
    expect(errorOf(field('Name'))).toBe('Required');
    expect(errorOf(field('Image'))).toBe('Give a Git repository URL, an image, or both');
    expect(document.activeElement).toBe(field('Name'));

    type('Name', 'Bad_Name');
    type('Image', 'Not An Image');
    type('CPU (cores)', '0');
    type('Instances', '1.5');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(errorOf(field('Name'))).toMatch(/lower-case letters/));
    expect(errorOf(field('Image'))).toMatch(/image reference/);
    expect(errorOf(field('CPU (cores)'))).toBe('Must be greater than 0');
    expect(errorOf(field('Instances'))).toBe('Must be a whole number');
    expect(posted).toBe(false);
  });

  it('checks env names, health check timing and unclosed quotes like the server', () => {
    const f = {
      ...emptyAppForm(),
      name: 'web-1',
      image: 'nginx:1.27',
      command: "sh -c 'echo hi",
      env: [
        { name: '1BAD', value: 'x', secret: false },
        { name: 'OK', value: 'y', secret: true },
      ],
      healthCheck: true,
      hcPort: '8080',
      hcInterval: '5',
      hcTimeout: '10',
      hcPath: 'health',
    };
    const e = validateApp(f);
    expect(e.env?.key).toBe('app.v.envName');
    expect(e.hcTimeout?.key).toBe('app.v.timeout');
    expect(e.hcPath?.key).toBe('app.v.slash');
    expect(e.command?.key).toBe('app.v.quote');
    expect(splitCommand(`sh -c "echo 'hi there'"`)).toEqual(['sh', '-c', "echo 'hi there'"]);
    const body = toCreateBody({
      ...f,
      command: 'sleep 300',
      env: [{ name: 'OK', value: 'y', secret: true }],
    });
    expect(body.command).toEqual(['sleep', '300']);
    expect(body.env).toEqual({ OK: { value: 'y', secret: true } });
    expect(body.healthCheck).toEqual({ path: 'health', port: 8080, interval: 5, timeout: 10 });
  });

  it('shows the server’s field errors at their fields', async () => {
    let body: Record<string, unknown> = {};
    server.use(
      http.post('*/api/applications', async ({ request }) => {
        body = (await request.json()) as Record<string, unknown>;
        return HttpResponse.json(
          {
            error: 'Bad request',
            details: 'The request body is invalid',
            code: 'VALIDATION_FAILED',
            fields: [
              { path: 'name', message: 'an application with this name exists' },
              { path: 'resources.memory', message: 'memory must be at most 65536' },
            ],
          },
          { status: 400 },
        );
      }),
    );
    const dialog = await openCreate();
    type('Name', 'hello');
    type('Image', 'iarnet-test/busybox:latest');
    type('Command', 'sleep 300');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add variable' }));
    fireEvent.input(screen.getByLabelText('Name 1'), { target: { value: 'TOKEN' } });
    fireEvent.input(screen.getByLabelText('Value 1'), { target: { value: 's3cret' } });
    fireEvent.click(within(screen.getByTestId('env-row')).getByRole('checkbox'));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(errorOf(field('Name'))).toBe('an application with this name exists'));
    expect(errorOf(field('Memory (GB)'))).toBe('memory must be at most 65536');
    expect(field('Name').getAttribute('aria-invalid')).toBe('true');
    expect(body).toMatchObject({
      name: 'hello',
      image: 'iarnet-test/busybox:latest',
      command: ['sleep', '300'],
      env: { TOKEN: { value: 's3cret', secret: true } },
      resources: { cpu: 0.5, memory: 0.5 },
      instances: 1,
    });
    expect((screen.getByLabelText('Value 1') as HTMLInputElement).type).toBe('password');
  });

  it('quick import: parse-git prefills the form, then creates the application', async () => {
    let parsed: Record<string, unknown> = {};
    let created: Record<string, unknown> = {};
    server.use(
      http.post('*/api/applications/parse-git', async ({ request }) => {
        parsed = (await request.json()) as Record<string, unknown>;
        return HttpResponse.json({
          name: 'shop-api',
          type: 'api',
          runtime: 'node',
          defaultPort: 3000,
          commitHash: 'a'.repeat(40),
          branch: 'main',
          hasDockerfile: false,
          detectedType: 'api',
        });
      }),
      http.post('*/api/applications', async ({ request }) => {
        created = (await request.json()) as Record<string, unknown>;
        return HttpResponse.json(app({ ...created, id: 'app_00000000000000000001' }), { status: 201 });
      }),
    );
    const dialog = await openCreate();
    type('Git repository URL', 'https://git.example.com/team/shop-api.git');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Inspect repository' }));
    expect((await screen.findByTestId('git-detected')).textContent).toBe(
      'Detected: node, API service, port 3000',
    );
    expect(parsed).toEqual({ gitUrl: 'https://git.example.com/team/shop-api.git' });
    expect(field('Name').value).toBe('shop-api');
    expect((screen.getByLabelText('Type') as HTMLSelectElement).value).toBe('api');
    expect(field('Commit').value).toBe('a'.repeat(40));
    expect((screen.getByLabelText('Container port 1') as HTMLInputElement).value).toBe('3000');

    type('Image', 'iarnet-test/busybox:latest');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    const card = await screen.findByTestId('app-card');
    expect(card.getAttribute('data-name')).toBe('shop-api');
    expect(created).toMatchObject({
      name: 'shop-api',
      type: 'api',
      gitUrl: 'https://git.example.com/team/shop-api.git',
      branch: 'main',
      commitHash: 'a'.repeat(40),
      image: 'iarnet-test/busybox:latest',
      ports: [{ containerPort: 3000, protocol: 'TCP' }],
    });
  });

  it('shows a Git failure of parse-git at the URL field', async () => {
    server.use(
      http.post('*/api/applications/parse-git', () =>
        HttpResponse.json(
          { error: 'Bad request', details: 'repository not found', code: 'GIT_NOT_FOUND' },
          { status: 400 },
        ),
      ),
    );
    const dialog = await openCreate();
    type('Git repository URL', 'https://git.example.com/none.git');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Inspect repository' }));
    await waitFor(() => expect(errorOf(field('Git repository URL'))).toBe('repository not found'));
  });
});

describe('applications page', () => {
  it('counts statuses, deploys (showing deploying at once) and follows live progress events', async () => {
    let status = 'idle';
    let release: (() => void) | undefined;
    server.use(
      http.get('*/api/applications', () =>
        HttpResponse.json([
          app({ status }),
          app({ id: 'app_0123456789abcdef9999', name: 'db', status: 'error' }),
        ]),
      ),
      http.post('*/api/applications/:id/deploy', async () => {
        await new Promise<void>((r) => {
          release = r;
        });
        status = 'running';
        return HttpResponse.json(
          app({ status, runningOn: ['r-local'], lastDeployed: '2026-01-02T00:00:00Z' }),
        );
      }),
    );
    const events = eventStream();
    at('/applications');
    render(() => <App />);
    const card = () => screen.getAllByTestId('app-card').find((c) => c.dataset.name === 'hello')!;
    await waitFor(() => expect(screen.getAllByTestId('app-card')).toHaveLength(2));
    const stat = (name: string) =>
      within(screen.getByRole('region', { name })).getByTestId('stat-value').textContent;
    expect(stat('Total')).toBe('2');
    expect(stat('Error')).toBe('1');
    expect(stat('Stopped')).toBe('1');
    expect(within(card()).getByTestId('app-last-deployed').textContent).toBe('Never deployed');
    // An application in error may still hold instances: it offers deploy and stop.
    expect(screen.getByRole('button', { name: 'Deploy db' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Stop db' })).toBeTruthy();
    expect(within(card()).queryByRole('button', { name: 'Stop hello' })).toBeNull();

    fireEvent.click(within(card()).getByRole('button', { name: 'Deploy hello' }));
    await waitFor(() => expect(card().dataset.status).toBe('deploying'));
    expect(within(card()).getByTestId('app-status').textContent).toBe('Deploying');

    await waitFor(() => expect(events.push).toBeDefined());
    events.push?.(
      `id: 7\nevent: application:build\ndata: {"type":"application:build","at":"2026-01-02T00:00:00Z","data":{"applicationId":"app_0123456789abcdef0123","lines":["Step 1/3 : FROM busybox","Step 2/3 : COPY . /www"]}}\n\n`,
    );
    events.push?.(`id: 8\nevent: something:new\ndata: not json\n\n`);
    const progress = await screen.findByTestId('app-progress');
    expect(progress.textContent).toContain('[hello] Step 1/3 : FROM busybox');
    expect(progress.textContent).toContain('[hello] Step 2/3 : COPY . /www');
    expect(progress.querySelectorAll('li')).toHaveLength(2);

    release?.();
    await waitFor(() => expect(card().dataset.status).toBe('running'));
    expect(stat('Running')).toBe('1');
    expect(within(card()).getByTestId('app-last-deployed').textContent).toMatch(/^Last deployed: /);
    expect(within(card()).getByRole('button', { name: 'Stop hello' })).toBeTruthy();
  });

  it('re-reads the list when a run event arrives (a status change made elsewhere)', async () => {
    let status = 'running';
    server.use(http.get('*/api/applications', () => HttpResponse.json([app({ status })])));
    const events = eventStream();
    at('/applications');
    render(() => <App />);
    await waitFor(() => expect(screen.getByTestId('app-card').dataset.status).toBe('running'));
    await waitFor(() => expect(events.push).toBeDefined());
    status = 'stopped';
    events.push?.(`id: 2\nevent: run:stopped\ndata: {"type":"run:stopped","data":{}}\n\n`);
    await waitFor(() => expect(screen.getByTestId('app-card').dataset.status).toBe('stopped'));
  });

  it('stops after confirmation', async () => {
    let stopped = false;
    server.use(
      http.get('*/api/applications', () => HttpResponse.json([app({ status: 'running' })])),
      http.post('*/api/applications/:id/stop', () => {
        stopped = true;
        return HttpResponse.json(app({ status: 'stopped' }));
      }),
    );
    vi.stubGlobal('confirm', () => true);
    at('/applications');
    render(() => <App />);
    fireEvent.click(await screen.findByRole('button', { name: 'Stop hello' }));
    await waitFor(() => expect(screen.getByTestId('app-card').dataset.status).toBe('stopped'));
    expect(stopped).toBe(true);
  });

  it('reads progress events tolerantly', () => {
    expect(progressLinesOf({ event: 'run:started', data: '{}' })).toEqual([]);
    expect(progressLinesOf({ event: 'application:deploy:failed', data: 'oops' })).toMatchObject([
      { text: 'oops', level: 'error' },
    ]);
    expect(
      progressLinesOf({ event: 'application:status', data: '{"data":{"appId":"a1","status":"running"}}' }),
    ).toMatchObject([{ appId: 'a1', text: 'running', level: 'info' }]);
  });
});
