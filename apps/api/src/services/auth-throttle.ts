import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Backplane } from '@crucible/backplane';
import { HttpProblem } from '../errors.js';

/** How sign-ins, registrations and API-key creations are throttled (README, "Accounts and sign-in"). */
export interface AuthThrottleOptions {
  /** Failed sign-ins of one account before its next attempts must wait. @defaultValue 5 */
  accountFailures: number;
  /** Failed sign-ins from one client address, whatever the account, before its attempts must wait. @defaultValue 20 */
  addressFailures: number;
  /** Longest wait between two attempts; waits double from 1 s up to it. @defaultValue 60 */
  maxDelaySec: number;
  /** Failures are forgotten this long after the first of them, or at a successful sign-in (the account's). @defaultValue 3600 */
  windowSec: number;
  /** Accounts one client address may register per hour. @defaultValue 10 */
  registrationsPerHour: number;
  /** API keys one user may create per hour. @defaultValue 20 */
  apiKeysPerHour: number;
}

export const AUTH_THROTTLE_DEFAULTS: AuthThrottleOptions = {
  accountFailures: 5,
  addressFailures: 20,
  maxDelaySec: 60,
  windowSec: 3600,
  registrationsPerHour: 10,
  apiKeysPerHour: 20,
};

/** An address that signed in to an account is let past that account's waits for this long. */
const KNOWN_ADDRESS_SEC = 30 * 24 * 3600;

/** What each throttle counts, and what its 429 says. */
const LIMITS = {
  'login:account': 'Too many failed sign-ins for this account',
  'login:address': 'Too many failed sign-ins from your address',
  'register:address': 'Too many accounts registered from your address',
  'api-key:user': 'Too many API keys created',
} as const;
type Limit = keyof typeof LIMITS;

function throttled(limit: Limit, msBeforeNext: number): HttpProblem {
  const seconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new HttpProblem(
    429,
    'TOO_MANY_ATTEMPTS',
    'Too Many Requests',
    `${LIMITS[limit]}; try again in ${seconds} s.`,
    { headers: { 'retry-after': String(seconds) } },
  );
}

/** Accounts are counted by a hash of the email: the store never holds addresses of people. */
const accountKey = (email: string) => createHash('sha256').update(email).digest('base64url').slice(0, 22);

/**
 * A client address as counted: IPv4 as is, IPv6 by its /64 (one subscriber's usual allocation,
 * so an attacker cannot take a fresh address for every attempt).
 */
export function addressKey(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const parsed = ipaddr.process(ip);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
}

/** The wait after the `excess`-th attempt beyond the free ones: 1 s, 2 s, 4 s… up to the bound. */
const delaySec = (excess: number, maxDelaySec: number) => Math.min(2 ** (excess - 1), maxDelaySec);

export interface LoginAttempt {
  /** Forgets the account's failures and remembers the address as the account owner's. */
  succeeded(): Promise<void>;
}

export interface AuthThrottle {
  /**
   * Counts a sign-in attempt before its password is checked, so parallel attempts cannot slip
   * past the count; throws 429 (with `Retry-After`) while the account or the address must wait.
   */
  beginLogin(email: string, ip: string): Promise<LoginAttempt>;
  /** Throws 429 once the address has registered its accounts for the hour. */
  register(ip: string): Promise<void>;
  /** Throws 429 once the user has created its API keys for the hour. */
  createApiKey(userId: string): Promise<void>;
}

/**
 * Throttling of the credential routes on the backplane's counters, so every api process of a
 * deployment shares them (Redis) and embedded mode keeps them in memory.
 *
 * Sign-in: every attempt is counted per account and per client address. Beyond the free failures
 * an attempt passes only through a gate that stays shut for a wait after each attempt it lets
 * through, doubling with the count (1 s, 2 s, 4 s … `maxDelaySec`); the others are answered 429
 * without looking at the password. A successful sign-in clears the account's count, gives the
 * address back its attempt, and lets that address past the account's waits from then on (the
 * owner is not locked out by someone else guessing).
 */
export function createAuthThrottle(
  backplane: Pick<Backplane, 'createRateLimiter'>,
  registry: Registry,
  options: Partial<AuthThrottleOptions> = {},
): AuthThrottle {
  const o = { ...AUTH_THROTTLE_DEFAULTS, ...options };
  const counted = Number.MAX_SAFE_INTEGER;
  const limiter = (name: string, points: number, durationSec: number) =>
    backplane.createRateLimiter({ name, points, durationSec });
  const failures = {
    account: limiter('login-failures-account', counted, o.windowSec),
    address: limiter('login-failures-address', counted, o.windowSec),
  };
  // One point per key: the first attempt after the free ones opens the gate and shuts it behind it.
  const gates = {
    account: limiter('login-gate-account', 1, o.maxDelaySec),
    address: limiter('login-gate-address', 1, o.maxDelaySec),
  };
  const knownAddresses = limiter('login-known-address', counted, KNOWN_ADDRESS_SEC);
  const registrations = limiter('register-address', o.registrationsPerHour, 3600);
  const apiKeys = limiter('api-key-user', o.apiKeysPerHour, 3600);

  const throttledTotal = new Counter({
    name: 'crucible_auth_throttled_total',
    help: 'Attempts answered 429 by the credential throttles, by action and what was counted',
    labelNames: ['action', 'by'],
    registers: [registry],
  });

  async function refuseIfLimited(limit: Limit, attempt: () => Promise<unknown>): Promise<void> {
    try {
      await attempt();
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      const [action, by] = limit.split(':');
      throttledTotal.inc({ action, by });
      throw throttled(limit, err.msBeforeNext);
    }
  }

  async function passGate(scope: 'account' | 'address', key: string, count: number, free: number) {
    if (count <= free) return;
    await refuseIfLimited(`login:${scope}`, () =>
      gates[scope].consume(key, 1, { customDuration: delaySec(count - free, o.maxDelaySec) }),
    );
  }

  return {
    async beginLogin(email, ip) {
      const account = accountKey(email);
      const address = addressKey(ip);
      const known = `${account}|${address}`;
      const [byAccount, byAddress, knownHere] = await Promise.all([
        failures.account.penalty(account),
        failures.address.penalty(address),
        knownAddresses.get(known),
      ]);
      await passGate('address', address, byAddress.consumedPoints, o.addressFailures);
      if (!knownHere) await passGate('account', account, byAccount.consumedPoints, o.accountFailures);
      return {
        async succeeded() {
          await Promise.all([
            failures.account.delete(account),
            gates.account.delete(account),
            failures.address.reward(address),
            knownAddresses.penalty(known),
          ]);
        },
      };
    },
    async register(ip) {
      await refuseIfLimited('register:address', () => registrations.consume(addressKey(ip)));
    },
    async createApiKey(userId) {
      await refuseIfLimited('api-key:user', () => apiKeys.consume(userId));
    },
  };
}
