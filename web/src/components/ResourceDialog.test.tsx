import { fireEvent, render, screen, waitFor, within } from '@solidjs/testing-library';
import { HttpResponse, http } from 'msw';
import { beforeEach, describe, expect, it } from 'vitest';
import { App } from '../App';
import { setSession } from '../api/client';
import { setLocale } from '../lib/i18n';
import { checkUrl, emptyForm, toBody, toUpdateBody, validateResource } from '../lib/resource-form';
import { adminSession, at, server } from '../test/server';

async function openAddDialog() {
  at('/compute');
  render(() => <App />);
  fireEvent.click(await screen.findByRole('button', { name: 'Add resource' }));
  return screen.findByRole('dialog', { name: 'Add a compute resource' });
}
const input = (label: string) => screen.getByLabelText(label, { exact: false }) as HTMLInputElement;
const errorOf = (el: HTMLElement) => {
  const id = el.getAttribute('aria-describedby');
  return id ? document.getElementById(id)?.textContent : undefined;
};

beforeEach(() => {
  setLocale('en');
  setSession(adminSession);
});

describe('resource form (client-side checks match the server)', () => {
  it('requires a name and a URL and marks the fields invalid', async () => {
    const dialog = await openAddDialog();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    const name = input('Name');
    await waitFor(() => expect(name.getAttribute('aria-invalid')).toBe('true'));
    expect(errorOf(name)).toBe('Name is required');
    expect(errorOf(input('API server URL'))).toBe('URL is required');
    expect(document.activeElement).toBe(name);
  });

  it('checks URL schemes per type', async () => {
    const dialog = await openAddDialog();
    fireEvent.input(input('Name'), { target: { value: 'edge-1' } });
    fireEvent.input(input('API server URL'), { target: { value: 'http://10.0.0.5:2375' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() =>
      expect(errorOf(input('API server URL'))).toMatch(/docker URL must start with unix:\/\//),
    );

    fireEvent.change(input('Type'), { target: { value: 'kubernetes' } });
    fireEvent.input(input('API server URL'), { target: { value: 'http://k8s.example.com:6443' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(errorOf(input('API server URL'))).toMatch(/loopback/));
  });

  it('shows the token as a password field, and SSH fields (no token) for a vm', async () => {
    await openAddDialog();
    expect(input('Token').type).toBe('password');
    fireEvent.change(input('Type'), { target: { value: 'vm' } });
    await screen.findByLabelText('SSH user');
    expect(screen.queryByLabelText('Token', { exact: false })).toBeNull();
    expect(input('SSH password').type).toBe('password');
    expect(screen.getByLabelText('SSH port')).toBeTruthy();
    expect(screen.getByLabelText('SSH private key (PEM)')).toBeTruthy();
  });

  it('tests the connection and shows a failure without saving', async () => {
    let saved = false;
    server.use(
      http.post('*/api/resources/test', () => HttpResponse.json({ ok: false, error: 'connection refused' })),
      http.post('*/api/resources', () => {
        saved = true;
        return HttpResponse.json({}, { status: 201 });
      }),
    );
    const dialog = await openAddDialog();
    fireEvent.input(input('Name'), { target: { value: 'edge-1' } });
    fireEvent.input(input('API server URL'), { target: { value: 'tcp://127.0.0.1:9' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Test connection' }));
    expect(await within(dialog).findByText('Connection failed: connection refused')).toBeTruthy();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(saved).toBe(false);
  });

  it('shows server field errors at their fields', async () => {
    let body: unknown;
    server.use(
      http.post('*/api/resources', async ({ request }) => {
        body = await request.json();
        expect(new URL(request.url).searchParams.get('verify')).toBe('true');
        return HttpResponse.json(
          {
            error: 'Invalid resource',
            details: 'The resource settings are invalid',
            code: 'VALIDATION_FAILED',
            fields: [
              { path: 'name', message: 'a resource named edge-1 already exists' },
              { path: 'ssh.username', message: 'differs from the user in the URL' },
            ],
          },
          { status: 422 },
        );
      }),
    );
    const dialog = await openAddDialog();
    fireEvent.change(input('Type'), { target: { value: 'vm' } });
    fireEvent.input(input('Name'), { target: { value: 'edge-1' } });
    fireEvent.input(input('API server URL'), { target: { value: 'ssh://ops@10.0.0.5:22' } });
    fireEvent.input(await screen.findByLabelText('SSH user'), { target: { value: 'root' } });
    fireEvent.input(input('SSH password'), { target: { value: 'pw' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(errorOf(input('Name'))).toBe('a resource named edge-1 already exists'));
    expect(errorOf(input('SSH user'))).toBe('differs from the user in the URL');
    expect(input('SSH user').getAttribute('aria-invalid')).toBe('true');
    expect(body).toEqual({
      name: 'edge-1',
      type: 'vm',
      url: 'ssh://ops@10.0.0.5:22',
      ssh: { username: 'root', password: 'pw' },
    });
  });
});

describe('resource dialog: editing and keyboard', () => {
  it('edits the built-in engine by sending only the changed name', async () => {
    let body: unknown;
    server.use(
      http.put('*/api/resources/r-local', async ({ request }) => {
        body = await request.json();
        return HttpResponse.json({});
      }),
    );
    at('/compute');
    render(() => <App />);
    fireEvent.click(await screen.findByRole('button', { name: 'Edit local-docker' }));
    const dialog = await screen.findByRole('dialog', { name: 'Edit resource' });
    expect((input('API server URL') as HTMLInputElement).readOnly).toBe(true);
    fireEvent.input(input('Name'), { target: { value: 'local' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(body).toEqual({ name: 'local' }));
  });

  it('closes on Escape and gives focus back to the button that opened it', async () => {
    at('/compute');
    render(() => <App />);
    const opener = await screen.findByRole('button', { name: 'Add resource' });
    opener.focus();
    fireEvent.click(opener);
    const dialog = await screen.findByRole('dialog');
    expect(dialog.contains(document.activeElement)).toBe(true);
    fireEvent.keyDown(document.activeElement as Element, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(document.activeElement).toBe(opener);
  });
});

describe('resource form rules', () => {
  it('accepts what the server accepts', () => {
    expect(checkUrl('docker', 'unix:///var/run/docker.sock')).toBeUndefined();
    expect(checkUrl('docker', 'tcp://10.0.0.1:2375')).toBeUndefined();
    expect(checkUrl('docker', 'https://h.example:2376')).toBeUndefined();
    expect(checkUrl('kubernetes', 'https://k8s.example')).toBeUndefined();
    expect(checkUrl('kubernetes', 'http://127.0.0.1:8001')).toBeUndefined();
    expect(checkUrl('vm', 'ssh://ops@h.example')).toBeUndefined();
  });
  it('refuses what the server refuses', () => {
    expect(checkUrl('docker', 'tcp://10.0.0.1')?.key).toBe('v.urlInvalid'); // no port
    expect(checkUrl('docker', 'tcp://10.0.0.1:2375/path')?.key).toBe('v.urlInvalid');
    expect(checkUrl('docker', 'tcp://u:p@10.0.0.1:2375')?.key).toBe('v.urlInvalid');
    expect(checkUrl('docker', 'ssh://h:22')?.key).toBe('v.urlScheme');
    expect(checkUrl('vm', 'tcp://h:22')?.key).toBe('v.urlScheme');
    expect(checkUrl('docker', 'unix://relative.sock')?.key).toBe('v.urlInvalid');
    expect(checkUrl('docker', 'tcp://h :2375')?.key).toBe('v.urlInvalid');
    expect(validateResource({ ...emptyForm(), name: 'x'.repeat(64), url: 'tcp://h:1' }).name?.key).toBe(
      'v.nameTooLong',
    );
    const vm = { ...emptyForm(), type: 'vm' as const, name: 'v', url: 'ssh://h.example' };
    expect(validateResource(vm).sshUser?.key).toBe('v.sshUser');
    expect(validateResource({ ...vm, sshUser: 'ops', sshPort: '70000' }).sshPort?.key).toBe('v.sshPort');
    expect(validateResource({ ...vm, sshUser: 'ops', sshKey: 'not a key' }).sshKey?.key).toBe('v.pem');
  });
  it('keeps stored SSH secrets when editing a vm without new ones', () => {
    const original = {
      ...emptyForm(),
      type: 'vm' as const,
      name: 'v',
      url: 'ssh://ops@h:22',
      sshUser: 'ops',
    };
    expect(toUpdateBody({ ...original, description: 'x' }, original)).toEqual({ description: 'x' });
    expect(toUpdateBody({ ...original, sshPassword: 'new' }, original)).toEqual({
      ssh: { username: 'ops', password: 'new' },
    });
  });
  it('builds the API body', () => {
    expect(toBody({ ...emptyForm(), name: ' a ', url: 'tcp://h:1', token: 't' })).toEqual({
      name: 'a',
      type: 'docker',
      url: 'tcp://h:1',
      token: 't',
    });
  });
});
