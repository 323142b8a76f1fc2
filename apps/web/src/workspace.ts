import { createStore } from './lib/store';

const STORAGE_KEY = 'crucible.workspace';

function load(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/** The workspace the dashboard acts in (sent as `X-Crucible-Workspace`); null: the personal one. */
export const workspace = createStore<string | null>(load());

/** Switches the workspace; null goes back to the personal one. Kept across reloads. */
export function selectWorkspace(id: string | null): void {
  if (id) localStorage.setItem(STORAGE_KEY, id);
  else localStorage.removeItem(STORAGE_KEY);
  workspace.set(id);
}
