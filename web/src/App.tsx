import { Navigate, Route, Router, type RouteSectionProps } from '@solidjs/router';
import { lazy } from 'solid-js';
import { Layout } from './components/Layout';
import { Toasts } from './components/ui';
import { LoginPage } from './pages/Login';

// Client routes. They avoid the API's own top-level paths (/run, /resources, /status), which
// the dashboard plugin never answers with the SPA.
export const ROUTES = {
  login: '/login',
  resources: '/compute',
  status: '/monitor',
  applications: '/applications',
  nodes: '/nodes',
  users: '/users',
  tokens: '/tokens',
} as const;

const ResourcesPage = lazy(() => import('./pages/Resources'));
const StatusPage = lazy(() => import('./pages/Status'));
const ApplicationsPage = lazy(() => import('./pages/Applications'));
const NodesPage = lazy(() => import('./pages/Nodes'));
const UsersPage = lazy(() => import('./pages/Users'));
const TokensPage = lazy(() => import('./pages/Tokens'));
const NotFound = lazy(() => import('./pages/NotFound'));

function Root(props: RouteSectionProps) {
  return (
    <>
      {props.children}
      <Toasts />
    </>
  );
}

export function App() {
  return (
    <Router root={Root}>
      <Route path={ROUTES.login} component={LoginPage} />
      <Route path="/" component={Layout}>
        <Route path="/" component={() => <Navigate href={ROUTES.resources} />} />
        <Route path={ROUTES.resources} component={ResourcesPage} />
        <Route path={ROUTES.applications} component={ApplicationsPage} />
        <Route path={ROUTES.status} component={StatusPage} />
        <Route path={ROUTES.nodes} component={NodesPage} />
        <Route path={ROUTES.users} component={UsersPage} />
        <Route path={ROUTES.tokens} component={TokensPage} />
        <Route path="*404" component={NotFound} />
      </Route>
    </Router>
  );
}
