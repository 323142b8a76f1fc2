import { ApiClient } from '@crucible/client';
import type { UserView } from '@crucible/contracts/api';
import { createStore } from './lib/store';
import { selectWorkspace, workspace } from './workspace';

export interface Session {
  token: string;
  user: UserView;
}

const STORAGE_KEY = 'crucible.session';

function load(): Session | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

/** The signed-in user and their session token, kept across reloads in localStorage. */
export const session = createStore<Session | null>(load());

export function signIn(next: Session): void {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  session.set(next);
}

export function signOut(): void {
  localStorage.removeItem(STORAGE_KEY);
  // The next user of this browser starts in their own personal workspace.
  selectWorkspace(null);
  session.set(null);
}

/**
 * Signs out: the server ends the session (its token stops working everywhere), then this browser
 * forgets it. Forgotten here even when the server cannot be told: the user asked to be signed out
 * on this device, and a token this browser no longer holds cannot be used from it.
 */
export async function endSession(): Promise<void> {
  try {
    await api.call('logout');
  } catch {
    // Already ended (401) or unreachable: nothing more this browser can do about it.
  }
  signOut();
}

/** The dashboard's one HTTP client: same origin, the session's token and workspace, signed out on a 401. */
export const api = new ApiClient({
  token: () => session.get()?.token,
  workspace: () => workspace.get(),
  onUnauthorized: signOut,
});
