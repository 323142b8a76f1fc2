import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from 'chrome-launcher';
import type { LaunchedChrome } from 'chrome-launcher';

// One Chromium per browser test, in its own process group (chrome-launcher spawns it detached) with
// its own temporary profile. Killing it SIGKILLs the whole group — browser, zygotes, renderers,
// GPU and network services — and removes the profile. Every live browser is also killed when the
// worker process exits, however it exits, so none outlives the job that started it.

/** The machine's Chromium (Debian's package); `CHROMIUM_PATH` overrides. Nothing downloads a browser. */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/** Prefix of a browser test's temporary profile directory (under the OS temp folder), then `<worker pid>-`. */
export const PROFILE_PREFIX = 'crucible-chromium-';

export interface ChromiumOptions {
  /** @defaultValue {@link DEFAULT_CHROMIUM_PATH} */
  path?: string;
  /** `http://127.0.0.1:port` of the egress proxy every connection goes through. */
  proxyUrl: string;
  /** Heap limit of the page's JavaScript, in MiB. @defaultValue 512 */
  jsHeapMiB?: number;
}

export interface Chromium {
  /** DevTools port Lighthouse connects to. */
  port: number;
  pid: number;
  profileDir: string;
  /** Kills the process group, waits for it to be gone and removes the profile; safe to call twice. */
  kill(): Promise<void>;
}

const live = new Set<Chromium>();
let exitHookInstalled = false;
let swept = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Kills the browsers a worker left when it died without running its exit handler (SIGKILL, OOM):
 * each profile is named after its worker's pid, so a profile whose worker is gone marks its
 * browser's processes (found by their `--user-data-dir`) as orphans. Their groups are killed and
 * the profiles removed. Runs once per process, before its first browser.
 */
export function sweepOrphans(dir = tmpdir()): number {
  const dead = readdirSync(dir).filter((name) => {
    const pid = Number(new RegExp(`^${PROFILE_PREFIX}(\\d+)-`).exec(name)?.[1]);
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid);
  });
  if (dead.length === 0) return 0;
  const processes = execFileSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' }).split('\n');
  const groups = new Set<number>();
  for (const line of processes) {
    const [pid, pgid] = line.trim().split(/\s+/, 2).map(Number);
    if (pid && pgid && dead.some((name) => line.includes(`--user-data-dir=${join(dir, name)}`)))
      groups.add(pgid);
  }
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  for (const name of dead) rmSync(join(dir, name), { recursive: true, force: true, maxRetries: 10 });
  return groups.size;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers run synchronously on every exit but SIGKILL: the group kill is synchronous too.
  process.once('exit', () => {
    for (const chromium of live) {
      try {
        process.kill(-chromium.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      rmSync(chromium.profileDir, { recursive: true, force: true });
    }
  });
}

/**
 * chrome-launcher's `--disable-features` list plus the network-time query Chromium sends on its
 * own and the model downloads of the optimisation guide.
 */
const DISABLED_FEATURES = [
  'Translate',
  'OptimizationHints',
  'OptimizationGuideModelDownloading',
  'MediaRouter',
  'DialMediaRouteProvider',
  'InterestFeedContentSuggestions',
  'CertificateTransparencyComponentUpdater',
  'AutofillServerCommunication',
  'PrivacySandboxSettings4',
  'NetworkTimeServiceQuerying',
];

/**
 * Everything Chromium does on the network of its own accord, off: chrome-launcher's defaults
 * (which we no longer take implicitly, so this list is the whole of what is passed) and a few
 * more. What still slips through meets the proxy, which refuses Chromium's services by name.
 */
const QUIET_FLAGS = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-component-extensions-with-background-pages',
  '--disable-extensions',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--disable-breakpad',
  '--metrics-recording-only',
  '--no-pings',
  '--no-first-run',
  '--no-default-browser-check',
  '--no-service-autorun',
  '--password-store=basic',
  '--use-mock-keychain',
  // Lighthouse measures a page that must not be throttled as a background tab would be.
  '--disable-backgrounding-occluded-windows',
  '--disable-renderer-backgrounding',
  '--disable-background-timer-throttling',
  '--disable-ipc-flooding-protection',
  '--disable-hang-monitor',
  '--disable-prompt-on-repost',
  '--force-fieldtrials=*BackgroundTracing/default/',
  '--propagate-iph-for-testing',
  '--mute-audio',
];

/** Longest wait for a killed process group to disappear (SIGKILL cannot be ignored; this is scheduling). */
const KILL_WAIT_MS = 5_000;

/** Resolves once no process of group `pgid` is left alive (zombies waiting for a reaper aside). */
async function groupGone(pgid: number): Promise<void> {
  const deadline = Date.now() + KILL_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The flags that make the browser headless, quiet and unable to reach anything but the proxy. */
export function chromiumFlags(proxyUrl: string, jsHeapMiB: number): string[] {
  return [
    '--headless=new',
    '--no-sandbox',
    '--disable-dev-shm-usage',
    '--disable-gpu',
    `--proxy-server=${proxyUrl}`,
    // Chromium bypasses proxies for loopback by default; `<-loopback>` removes that exception.
    '--proxy-bypass-list=<-loopback>',
    // QUIC would be UDP beside the proxy; WebRTC may not use UDP except through a proxy (none here).
    '--disable-quic',
    '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
    '--dns-prefetch-disable',
    ...QUIET_FLAGS,
    `--disable-features=${DISABLED_FEATURES.join(',')}`,
    `--js-flags=--max-old-space-size=${jsHeapMiB}`,
  ];
}

/** Starts Chromium; the caller must `kill()` it (an abort of `signal` does at once). */
export async function launchChromium(options: ChromiumOptions, signal: AbortSignal): Promise<Chromium> {
  signal.throwIfAborted();
  installExitHook();
  if (!swept) {
    swept = true;
    sweepOrphans();
  }
  const profileDir = mkdtempSync(join(tmpdir(), `${PROFILE_PREFIX}${process.pid}-`));
  let launched: LaunchedChrome;
  try {
    launched = await launch({
      chromePath: options.path ?? DEFAULT_CHROMIUM_PATH,
      chromeFlags: chromiumFlags(options.proxyUrl, options.jsHeapMiB ?? 512),
      userDataDir: profileDir,
      // `chromiumFlags` is the whole list, chrome-launcher's defaults included, so it can be read
      // (and tested) in one place.
      ignoreDefaultFlags: true,
      handleSIGINT: false,
      logLevel: 'silent',
      connectionPollInterval: 100,
      maxConnectionRetries: 100,
    });
  } catch (err) {
    rmSync(profileDir, { recursive: true, force: true });
    throw err;
  }
  let killing: Promise<void> | undefined;
  const chromium: Chromium = {
    port: launched.port,
    pid: launched.pid,
    profileDir,
    kill() {
      killing ??= (async () => {
        live.delete(chromium);
        signal.removeEventListener('abort', onAbort);
        // SIGKILLs the process group (and closes chrome-launcher's log files in the profile).
        launched.kill();
        await groupGone(launched.pid);
        rmSync(profileDir, { recursive: true, force: true, maxRetries: 10 });
      })();
      return killing;
    },
  };
  const onAbort = () => void chromium.kill();
  live.add(chromium);
  if (signal.aborted) void chromium.kill();
  else signal.addEventListener('abort', onAbort, { once: true });
  return chromium;
}
