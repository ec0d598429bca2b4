import { fireEvent, render, screen, waitFor } from '@solidjs/testing-library';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { App } from '../App';
import { session, setSession } from '../api/client';
import { setLocale } from '../lib/i18n';
import { adminSession, at, server } from '../test/server';

describe('login form', () => {
  it('has labelled fields, a password input, and asks for both values', async () => {
    setLocale('zh-CN');
    setSession(null);
    at('/login');
    render(() => <App />);
    const user = await screen.findByLabelText('用户名');
    const pass = screen.getByLabelText('密码');
    expect(user.tagName).toBe('INPUT');
    expect(pass.getAttribute('type')).toBe('password');
    fireEvent.click(screen.getByRole('button', { name: '登录' }));
    expect((await screen.findByRole('alert')).textContent).toBe('请输入用户名和密码');
  });

  it('shows the failure on 401 and stays signed out', async () => {
    setLocale('en');
    setSession(null);
    server.use(
      http.post('*/api/auth/login', () =>
        HttpResponse.json(
          { error: 'Unauthorized', details: 'bad', code: 'INVALID_CREDENTIALS' },
          { status: 401 },
        ),
      ),
    );
    at('/login');
    render(() => <App />);
    fireEvent.input(await screen.findByLabelText('Username'), { target: { value: 'admin' } });
    fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'wrong' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toBe('Wrong username or password');
    expect(session()).toBeNull();
  });

  it('signs in, keeps the token in sessionStorage and opens the resources page', async () => {
    setLocale('en');
    setSession(null);
    let sent: unknown;
    server.use(
      http.post('*/api/auth/login', async ({ request }) => {
        sent = await request.json();
        return HttpResponse.json(adminSession);
      }),
    );
    at('/login');
    render(() => <App />);
    fireEvent.input(await screen.findByLabelText('Username'), { target: { value: 'admin' } });
    fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'secret-password' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('heading', { name: 'Compute resources' })).toBeTruthy();
    expect(sent).toEqual({ username: 'admin', password: 'secret-password' });
    expect(JSON.parse(sessionStorage.getItem('iarnet.session') ?? '{}').token).toBe('jwt-admin');
    expect(await screen.findByText('local-docker')).toBeTruthy();
  });

  it('a 401 from the API ends the session and returns to the login page', async () => {
    setLocale('en');
    setSession(adminSession);
    server.use(
      http.get('*/api/resources', () =>
        HttpResponse.json(
          { error: 'Unauthorized', details: 'expired', code: 'UNAUTHORIZED' },
          { status: 401 },
        ),
      ),
    );
    at('/compute');
    render(() => <App />);
    expect(await screen.findByRole('button', { name: 'Sign in' })).toBeTruthy();
    await waitFor(() => expect(session()).toBeNull());
  });
});
