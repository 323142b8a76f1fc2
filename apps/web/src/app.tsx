import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useEffect } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { AdminPage } from './pages/admin';
import { AccountPage } from './pages/account';
import { AuthPage } from './pages/auth';
import { MonitorFormPage } from './pages/monitor-form';
import { MonitorPage } from './pages/monitor-page';
import { MonitorsPage } from './pages/monitors';
import { NewTestPage } from './pages/new-test';
import { QueuePage } from './pages/queue';
import { SharedTestPage } from './pages/shared-test';
import { AuditPage } from './pages/audit';
import { ChannelPage } from './pages/channel-page';
import { AlertRuleFormPage, AlertRulesPage } from './pages/alert-rules';
import { ChannelsPage } from './pages/channels';
import { IncidentPage } from './pages/incident-page';
import { IncidentsPage } from './pages/incidents';
import { NotificationPreferencesPage } from './pages/notification-preferences';
import { NotificationsPage } from './pages/notifications';
import { TestPage } from './pages/test-page';
import { TestsListPage } from './pages/tests-list';
import { WorkspacePage } from './pages/workspace';
import { NotificationBell } from './components/notification-bell';
import { WorkspaceSwitcher } from './components/workspace-switcher';
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
          {link('/monitors', 'Monitors')}
          {link('/queue', 'Queue')}
          {link('/incidents', 'Incidents')}
          {link('/channels', 'Channels')}
          {link('/workspace', 'Members')}
          {link('/account', 'Account')}
          {current.user.role === 'admin' && link('/admin', 'Admin')}
        </nav>
      )}
      <div class="who">
        <ConnectionBadge />
        {current ? (
          <>
            <NotificationBell userId={current.user.id} />
            <WorkspaceSwitcher />
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
const MonitorsRoute = guarded(MonitorsPage);
const NewMonitorRoute = guarded(() => <MonitorFormPage />);
const EditMonitorRoute = guarded(({ id }: { id: string }) => <MonitorFormPage id={id} />);
const MonitorRoute = guarded(({ id }: { id: string }) => <MonitorPage id={id} />);
const QueueRoute = guarded(QueuePage);
const AdminRoute = guarded(AdminPage);
const WorkspaceRoute = guarded(WorkspacePage);
const AuditRoute = guarded(AuditPage);
const NotificationsRoute = guarded(NotificationsPage);
const NotificationPreferencesRoute = guarded(NotificationPreferencesPage);
const ChannelsRoute = guarded(ChannelsPage);
const IncidentsRoute = guarded(IncidentsPage);
const AlertRulesRoute = guarded(AlertRulesPage);
const NewAlertRuleRoute = guarded(() => <AlertRuleFormPage />);
const AlertRuleRoute = guarded(({ id }: { id: string }) => <AlertRuleFormPage id={id} />);
const IncidentRoute = guarded(({ id }: { id: string }) => <IncidentPage id={id} />);
const ChannelRoute = guarded(({ id }: { id: string }) => <ChannelPage id={id} />);
// A share link's page is public: whoever holds the link reads it, signed in or not.
const SharedRoute = ({ shareId }: { shareId: string }) => <SharedTestPage shareId={shareId} />;

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
          <Route path="/monitors" component={MonitorsRoute} />
          <Route path="/monitors/new" component={NewMonitorRoute} />
          <Route path="/monitors/:id" component={MonitorRoute} />
          <Route path="/monitors/:id/edit" component={EditMonitorRoute} />
          <Route path="/queue" component={QueueRoute} />
          <Route path="/notifications" component={NotificationsRoute} />
          <Route path="/notifications/preferences" component={NotificationPreferencesRoute} />
          <Route path="/incidents" component={IncidentsRoute} />
          <Route path="/incidents/:id" component={IncidentRoute} />
          <Route path="/alert-rules" component={AlertRulesRoute} />
          <Route path="/alert-rules/new" component={NewAlertRuleRoute} />
          <Route path="/alert-rules/:id" component={AlertRuleRoute} />
          <Route path="/channels" component={ChannelsRoute} />
          <Route path="/channels/:id" component={ChannelRoute} />
          <Route path="/admin" component={AdminRoute} />
          <Route path="/workspace" component={WorkspaceRoute} />
          <Route path="/workspace/audit" component={AuditRoute} />
          <Route path="/shared/:shareId" component={SharedRoute} />
          <Route default component={NotFound} />
        </Router>
      </div>
    </LocationProvider>
  );
}
