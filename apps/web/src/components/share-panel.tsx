import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '@crucible/client';
import type { ApiResponse } from '@crucible/client';
import { OneTimeSecret } from './one-time-secret';
import { api } from '../session';

type Share = ApiResponse<'listShares'>['items'][number];

/** How long a new link works, in days; 0: until revoked. */
const LIFETIMES = [
  [0, 'until revoked'],
  [1, '1 day'],
  [7, '7 days'],
  [30, '30 days'],
] as const;

const DAY_MS = 86_400_000;
const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));

/**
 * A test's public links (DESIGN.md, "Sharing"): make one (its address is shown once: only its hash
 * is kept), see the live ones with their expiry, revoke one (it stops working at once).
 */
export function SharePanel({ testId }: { testId: string }) {
  const [shares, setShares] = useState<Share[] | null>(null);
  const [days, setDays] = useState(0);
  const [made, setMade] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async () => {
    try {
      setShares((await api.call('listShares', { params: { testId } })).items);
    } catch (err) {
      setError(message(err));
    }
  };
  useEffect(() => void load(), [testId]);
  const act = async (run: () => Promise<void>) => {
    setError(null);
    try {
      await run();
    } catch (err) {
      setError(message(err));
    }
    await load();
  };
  const share = () =>
    act(async () => {
      const body = days ? { expiresAt: new Date(Date.now() + days * DAY_MS).toISOString() } : {};
      setMade((await api.call('createShare', { params: { testId }, body })).url);
    });
  const revoke = (id: string) =>
    act(async () => {
      await api.call('revokeShare', { params: { testId, shareId: id } });
    });
  return (
    <section aria-labelledby="share-heading">
      <h2 id="share-heading">Share</h2>
      <div class="inline-form">
        <label for="share-lifetime">Public link, works</label>
        <select id="share-lifetime" value={days} onChange={(e) => setDays(Number(e.currentTarget.value))}>
          {LIFETIMES.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
        <button type="button" onClick={share}>
          Share
        </button>
      </div>
      {made && (
        <OneTimeSecret value={made} testId="share-link" copyLabel="Copy link" onDone={() => setMade(null)}>
          Anyone with this link sees this test's result and progress, without signing in, with header values,
          bodies and credentials of its configuration hidden. It is shown only this once.
        </OneTimeSecret>
      )}
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {shares && shares.length > 0 && (
        <div class="table-wrap">
          <table data-testid="shares">
            <thead>
              <tr>
                <th scope="col">made</th>
                <th scope="col">expires</th>
                <th scope="col">
                  <span class="visually-hidden">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shares.map((s) => (
                <tr key={s.id}>
                  <td>{new Date(s.createdAt).toLocaleString()}</td>
                  <td>{s.expiresAt ? new Date(s.expiresAt).toLocaleString() : 'never (until revoked)'}</td>
                  <td>
                    <button type="button" class="danger" onClick={() => revoke(s.id)}>
                      Revoke
                      <span class="visually-hidden">
                        {' '}
                        the link made {new Date(s.createdAt).toLocaleString()}
                      </span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
