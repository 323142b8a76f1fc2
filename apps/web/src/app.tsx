import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useEffect } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { AdminPage } from './pages/admin';
import { AccountPage } from './pages/account';
import { AuthPage } from './pages/auth';
import { NewTestPage } from './pages/new-test';
import { QueuePage } from './pages/queue';
import { TestPage } from './pages/test-page';
import { TestsListPage } from './pages/tests-list';
import { useLiveState } from './live-connection';
import { useStore } from './lib/store';
import { endSession, session } from './session';

function Redirect({ to }: { to: string }) {
  const { route } = useLocation();
  useEffect(() => route(to, true), [to]);
  return null;
}

/** Pages that need a signed-in user send everyone else to the sign-in page. */
function SignedIn({ children }: { children: ComponentChildren }) {
  const current = useStore(session);
  return current ? <>{children}</> : <Redirect to="/signin" />;
}

function ConnectionBadge() {
  const state = useLiveState();
  if (state === null || state === 'open') return null;
  return (
    <span class="conn" role="status" data-testid="connection-state">
      {state === 'reconnecting' ? 'reconnecting…' : 'connecting…'}
    </span>
  );
}

function Header() {
  const current = useStore(session);
  const { path, route } = useLocation();
  const link = (href: string, text: string) => (
    <a href={href} aria-current={path === href || path.startsWith(`${href}/`) ? 'page' : undefined}>
      {text}
    </a>
  );
  return (
    <header class="top">
      <a href="/" class="brand">
        Crucible
      </a>
      {current && (
        <nav aria-label="Main">
          {link('/tests', 'Tests')}
          {link('/new', 'New test')}
          {link('/queue', 'Queue')}
          {link('/account', 'Account')}
          {current.user.role === 'admin' && link('/admin', 'Admin')}
        </nav>
      )}
      <div class="who">
        <ConnectionBadge />
        {current ? (
          <>
            <span class="muted">{current.user.email}</span>
            <button
              type="button"
              class="link"
              onClick={async () => {
                await endSession();
                route('/signin');
              }}
            >
              Sign out
            </button>
          </>
        ) : (
          <a href="/signin">Sign in</a>
        )}
      </div>
    </header>
  );
}

function NotFound() {
  return (
    <main>
      <h1>Not found</h1>
      <p>
        <a href="/">Home</a>
      </p>
    </main>
  );
}

const guarded =
  <P extends object>(Page: (props: P) => ComponentChildren) =>
  (props: P) => (
    <SignedIn>
      <Page {...props} />
    </SignedIn>
  );

const Home = () => <Redirect to={session.get() ? '/tests' : '/signin'} />;
const SignInRoute = () => <AuthPage mode="signin" />;
const SignUpRoute = () => <AuthPage mode="signup" />;
const AccountRoute = guarded(AccountPage);
// The account page was the API-keys page: old links and bookmarks still land on it.
const KeysRoute = () => <Redirect to="/account" />;
const NewRoute = guarded(NewTestPage);
const TestRoute = guarded(({ id }: { id: string }) => <TestPage id={id} />);
const TestsRoute = guarded(TestsListPage);
const QueueRoute = guarded(QueuePage);
const AdminRoute = guarded(AdminPage);

export function App() {
  return (
    <LocationProvider>
      <a href="#content" class="skip">
        Skip to content
      </a>
      <Header />
      <div id="content">
        <Router>
          <Route path="/" component={Home} />
          <Route path="/signin" component={SignInRoute} />
          <Route path="/signup" component={SignUpRoute} />
          <Route path="/account" component={AccountRoute} />
          <Route path="/keys" component={KeysRoute} />
          <Route path="/new" component={NewRoute} />
          <Route path="/tests" component={TestsRoute} />
          <Route path="/tests/:id" component={TestRoute} />
          <Route path="/queue" component={QueueRoute} />
          <Route path="/admin" component={AdminRoute} />
          <Route default component={NotFound} />
        </Router>
      </div>
    </LocationProvider>
  );
}
