import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError } from '@crucible/client';
import { PASSWORD_MIN_LENGTH } from '@crucible/contracts/api';
import type { RegistrationMode } from '@crucible/contracts/api';
import { api, signIn } from '../session';

/** Sign in and sign up share one form; `mode` picks the route. */
export function AuthPage({ mode }: { mode: 'signin' | 'signup' }) {
  const { route, query } = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  // An invitation link (`/signup?invite=…`) fills it in.
  const [invitation, setInvitation] = useState(query.invite ?? '');
  const [registration, setRegistration] = useState<RegistrationMode | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const signup = mode === 'signup';
  const asksInvitation = signup && (registration === 'invite' || invitation !== '');

  useEffect(() => {
    if (!signup) return;
    api
      .call('registration')
      .then((info) => setRegistration(info.mode))
      .catch(() => setRegistration(null));
  }, [signup]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { email, password };
      const answer = signup
        ? await api.call('register', {
            body: asksInvitation && invitation.trim() ? { ...body, invitation: invitation.trim() } : body,
          })
        : await api.call('login', { body });
      signIn(answer);
      route('/');
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="narrow">
      <h1>{signup ? 'Create an account' : 'Sign in'}</h1>
      <form onSubmit={submit} aria-describedby={error ? 'auth-error' : undefined}>
        <label for="email">Email</label>
        <input
          id="email"
          type="email"
          autoComplete="email"
          required
          maxLength={254}
          value={email}
          onInput={(e) => setEmail(e.currentTarget.value)}
        />
        <label for="password">Password</label>
        <input
          id="password"
          type="password"
          autoComplete={signup ? 'new-password' : 'current-password'}
          required
          minLength={signup ? PASSWORD_MIN_LENGTH : undefined}
          maxLength={256}
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
          aria-describedby={signup ? 'password-hint' : undefined}
        />
        {signup && (
          <p id="password-hint" class="hint">
            At least {PASSWORD_MIN_LENGTH} characters; a few unrelated words are easy to remember. Common,
            breached or patterned passwords are refused.
          </p>
        )}
        {asksInvitation && (
          <>
            <label for="invitation">Invitation</label>
            <input
              id="invitation"
              required
              autoComplete="off"
              maxLength={200}
              value={invitation}
              onInput={(e) => setInvitation(e.currentTarget.value)}
              aria-describedby="invitation-hint"
            />
            <p id="invitation-hint" class="hint">
              Registration here needs an invitation from an administrator; their link fills it in.
            </p>
          </>
        )}
        {signup && registration === 'closed' && (
          <p role="status">Registration is closed on this server: ask its administrator for an account.</p>
        )}
        {error && (
          <p id="auth-error" role="alert" class="error-text">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {signup ? 'Create account' : 'Sign in'}
        </button>
      </form>
      <p>
        {signup ? (
          <>
            Already have an account? <a href="/signin">Sign in</a>
          </>
        ) : (
          <>
            New here? <a href="/signup">Create an account</a> (the first account becomes the admin; after it,
            an administrator's invitation is needed unless this server lets anyone register).
          </>
        )}
      </p>
    </main>
  );
}
