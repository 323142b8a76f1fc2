import { describe, expect, it } from 'vitest';
import { createSigner } from 'fast-jwt';
import { createTokenService } from './auth.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

describe('token service', () => {
  it('verifies its own tokens and refuses foreign ones, also once it has seen them', () => {
    const tokens = createTokenService(SECRET);
    const token = tokens.sign({ sub: 'u1', role: 'user', sid: 's1' });
    expect(tokens.verify(token)).toEqual({ sub: 'u1', role: 'user', sid: 's1' });
    // A second look comes from the verifier's cache, with the same answer.
    expect(tokens.verify(token)).toEqual({ sub: 'u1', role: 'user', sid: 's1' });
    const forged = createTokenService(`${SECRET}-other`).sign({ sub: 'u1', role: 'admin', sid: 's1' });
    expect(tokens.verify(forged)).toBeUndefined();
    expect(tokens.verify(forged)).toBeUndefined();
    expect(tokens.verify(`${token.slice(0, -2)}xx`)).toBeUndefined();
  });

  it('stops accepting a remembered token when it expires', async () => {
    const tokens = createTokenService(SECRET, 1_000);
    const token = tokens.sign({ sub: 'u1', role: 'user', sid: 's1' });
    expect(tokens.verify(token)).toEqual({ sub: 'u1', role: 'user', sid: 's1' });
    // `exp` has a resolution of one second: two seconds later it has passed whatever the rounding.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(tokens.verify(token)).toBeUndefined();
  });

  it('refuses a token of the same secret that names no session (issued before sessions existed)', () => {
    const tokens = createTokenService(SECRET);
    const sign = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 60_000, iss: 'crucible' });
    expect(tokens.verify(sign({ sub: 'u1', role: 'user' }))).toBeUndefined();
  });
});
