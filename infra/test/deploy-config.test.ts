import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { PROCESS_LOADERS, readEnv, variablesRead } from './app-env.js';
import type { ProcessName } from './app-env.js';
import {
  APPS,
  PORT_VARIABLE,
  REPO_ROOT,
  composeEnv,
  composeSeconds,
  containerEnv,
  deploymentOf,
  designPorts,
  dockerfile,
  findObject,
  k8sFiles,
  loadCompose,
  loadKustomization,
  loadManifests,
  probeTargets,
  readEnvFile,
} from './deploy-files.js';
import type { K8sContainer } from './deploy-files.js';

const SHELL = { JWT_SECRET: 'f'.repeat(64), METRICS_TOKEN: 'm'.repeat(64), POSTGRES_PASSWORD: 'pw' };
const HEALTH_ROUTES = ['/health/live', '/health/ready'];
const ALL_READ = new Set(Object.keys(PROCESS_LOADERS).flatMap((p) => [...variablesRead(p as ProcessName)]));

/** Asserts a deployment gives a process every variable it reads, and only variables some process reads. */
function expectCompleteEnv(where: string, name: ProcessName, env: Record<string, string>) {
  const missing = [...variablesRead(name)].filter((v) => !(v in env));
  expect(missing, `${where}: ${name} reads these variables, which are not set`).toEqual([]);
  const unknown = Object.keys(env).filter((v) => !ALL_READ.has(v));
  expect(unknown, `${where}: set but read by no process (typo or stale)`).toEqual([]);
  // Valid values: the process would start with them.
  return readEnv(name, env).config;
}

/** A worker told to stop (scale-in, rollout) lets the longest allowed stress test finish. */
function expectDrainCoversStressTests(config: Record<string, unknown>) {
  expect(config.shutdownTimeoutMs as number).toBeGreaterThan((config.stressMaxDurationSec as number) * 1000);
}

describe('the apps read their configuration only through their loaders', () => {
  it('finds no variable in the source that the deployment files do not know about', () => {
    // Read outside deployments on purpose: test helpers, the embedded (all-in-one) mode and the
    // CLI (INIT_CWD: the folder `pnpm -s crucible` was called from).
    const notDeployed = new Set([
      'INIT_CWD',
      'TEST_DATABASE_URL',
      'TEST_REDIS_URL',
      'CRUCIBLE_TEST_BACKPLANE',
      'CRUCIBLE_DATA_DIR',
      'NODE_ENV',
    ]);
    const found = new Map<string, string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts') && !path.endsWith('.test.ts')) {
          const text = readFileSync(path, 'utf8');
          for (const m of text.matchAll(
            /process\.env\.([A-Z][A-Z0-9_]*)|env\w*\(\s*\w+,\s*'([A-Z][A-Z0-9_]*)'/g,
          )) {
            found.set(m[1] ?? m[2]!, relative(REPO_ROOT, path));
          }
        }
      }
    };
    for (const root of ['apps', 'packages']) {
      for (const pkg of readdirSync(join(REPO_ROOT, root))) {
        const src = join(REPO_ROOT, root, pkg, 'src');
        if (statSync(src, { throwIfNoEntry: false })?.isDirectory()) walk(src);
      }
    }
    expect(found.size).toBeGreaterThan(10);
    const unrecorded = [...found].filter(([v]) => !ALL_READ.has(v) && !notDeployed.has(v));
    expect(
      unrecorded.map(([v, file]) => `${v} (${file})`),
      'read somewhere but not by any process env loader (apps/*/src/env.ts, loadProcessEnv): deployments cannot see it',
    ).toEqual([]);
  });
});

describe('infra/compose.yaml', () => {
  const { services } = loadCompose();
  const ports = designPorts();

  it('gives every app and the migrate job every variable it reads, with valid values', () => {
    for (const app of APPS) {
      const config = expectCompleteEnv(`compose ${app}`, app, composeEnv(services[app]!, SHELL));
      expect(config.databaseUrl).toBe('postgres://crucible:pw@postgres:5432/crucible');
      expect(config.redisUrl).toBe('redis://redis:6379');
      expect(config.migrateOnStart).toBe(false);
      expect(config.logFormat).toBe('json');
      // Inside its container an app listens on every interface; only published ports leave the host.
      expect(config.host).toBe('0.0.0.0');
      expect(config.metricsToken).toBe(SHELL.METRICS_TOKEN);
    }
    const migrate = expectCompleteEnv('compose migrate', 'migrate', composeEnv(services.migrate!, SHELL));
    expect(migrate.databaseUrl).toBe('postgres://crucible:pw@postgres:5432/crucible');
    expect(() => composeEnv(services.api!, { POSTGRES_PASSWORD: 'pw' })).toThrow(/JWT_SECRET/);
    // /metrics is never left open to whoever reaches a port.
    for (const app of APPS) {
      expect(() => composeEnv(services[app]!, { ...SHELL, METRICS_TOKEN: '' })).toThrow(/METRICS_TOKEN/);
    }
  });

  it('uses the ports of DESIGN.md and publishes the api and gateway', () => {
    expect(readEnv('api', composeEnv(services.api!, SHELL)).config.port).toBe(ports.api);
    expect(readEnv('gateway', composeEnv(services.gateway!, SHELL)).config.port).toBe(ports.gateway);
    expect(readEnv('worker', composeEnv(services.worker!, SHELL)).config.healthPort).toBe(ports.worker);
    expect(services.api!.ports).toEqual([`${ports.api}:${ports.api}`]);
    expect(services.gateway!.ports).toEqual([`${ports.gateway}:${ports.gateway}`]);
    // Replicas of one host cannot share a published port.
    expect(services.worker!.ports).toBeUndefined();
  });

  it('runs redis without eviction and with AOF, and two workers', () => {
    const command = services.redis!.command!.join(' ');
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(command).toMatch(/--appendonly yes/);
    expect(services.worker!.deploy?.replicas).toBe(2);
  });

  it('migrates once, before the apps, which start only on healthy dependencies', () => {
    expect(services.migrate!.command).toEqual(['node', '--enable-source-maps', 'dist/migrate.js']);
    expect(services.migrate!.image).toBe(services.api!.image);
    expect(services.migrate!.restart).toBe('no');
    expect(services.migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    for (const app of APPS) {
      expect(services[app]!.depends_on).toEqual({
        migrate: { condition: 'service_completed_successfully' },
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
      });
      expect(services[app]!.build?.dockerfile).toBe(`infra/docker/${app}.Dockerfile`);
    }
    for (const dep of ['postgres', 'redis']) expect(services[dep]!.healthcheck?.test).toBeDefined();
  });

  it('lets each app drain before Docker kills it', () => {
    for (const app of APPS) {
      const { shutdownTimeoutMs } = readEnv(app, composeEnv(services[app]!, SHELL)).config as {
        shutdownTimeoutMs: number;
      };
      expect(composeSeconds(services[app]!.stop_grace_period!)).toBeGreaterThanOrEqual(
        shutdownTimeoutMs / 1000 + 10,
      );
    }
    expectDrainCoversStressTests(readEnv('worker', composeEnv(services.worker!, SHELL)).config);
  });
});

describe('infra/k8s', () => {
  const objects = loadManifests();
  const ports = designPorts();

  it('lists every manifest in kustomization.yaml', () => {
    const listed = new Set(loadKustomization().resources);
    expect(k8sFiles().filter((f) => f !== 'kustomization.yaml' && !listed.has(f))).toEqual([]);
  });

  it('gives every container every variable it reads, with valid values', () => {
    for (const app of APPS) {
      const { container } = deploymentOf(objects, app);
      const config = expectCompleteEnv(`k8s ${app}`, app, containerEnv(objects, container));
      expect(config.migrateOnStart).toBe(false);
      expect(config.logFormat).toBe('json');
      expect(config.host).toBe('0.0.0.0');
      expect(config.metricsToken).toEqual(expect.any(String));
    }
    // A secret, so it is in the Secret and not in the ConfigMap.
    expect(findObject(objects, 'ConfigMap', 'crucible-config').data).not.toHaveProperty('METRICS_TOKEN');
    expect(readEnvFile('infra/k8s/secrets.env.example')).toHaveProperty('METRICS_TOKEN');
    const job = findObject(objects, 'Job', 'crucible-migrate');
    const migrate = job.spec.template.spec.containers[0] as K8sContainer;
    expectCompleteEnv('k8s migrate Job', 'migrate', containerEnv(objects, migrate));
    expect(migrate.command).toEqual(['node', '--enable-source-maps', 'dist/migrate.js']);
    expect(migrate.image).toBe('crucible-api');
  });

  it('uses the ports of DESIGN.md in the config, the containers and the Services', () => {
    for (const app of APPS) {
      const { container } = deploymentOf(objects, app);
      const env = containerEnv(objects, container);
      expect(Number(env[PORT_VARIABLE[app]])).toBe(ports[app]);
      expect(container.ports?.map((p) => p.containerPort)).toEqual([ports[app]]);
      const service = findObject(objects, 'Service', `crucible-${app}`);
      expect(service.spec.ports[0].port).toBe(ports[app]);
      expect(service.spec.ports[0].targetPort).toBe(container.ports![0]!.name);
      expect(service.spec.selector).toEqual(deploymentOf(objects, app).deployment.spec.selector.matchLabels);
    }
  });

  it('probes the health routes on the container port', () => {
    for (const app of APPS) {
      const { container } = deploymentOf(objects, app);
      expect(container.livenessProbe?.httpGet.path).toBe('/health/live');
      expect(container.readinessProbe?.httpGet.path).toBe('/health/ready');
      for (const target of probeTargets(app)) {
        expect(HEALTH_ROUTES, `${app} ${target.source}`).toContain(target.path);
        expect(target.port, `${app} ${target.source}`).toBe(ports[app]);
      }
    }
  });

  it('gives every pod longer to stop than its preStop pause and drain bound', () => {
    for (const app of APPS) {
      const { deployment, container } = deploymentOf(objects, app);
      const { shutdownTimeoutMs } = readEnv(app, containerEnv(objects, container)).config as {
        shutdownTimeoutMs: number;
      };
      const preStop = container.lifecycle?.preStop?.exec?.command;
      expect(preStop?.[0]).toBe('sleep');
      const grace = deployment.spec.template.spec.terminationGracePeriodSeconds as number;
      expect(grace).toBeGreaterThanOrEqual(Number(preStop![1]) + shutdownTimeoutMs / 1000 + 10);
    }
    const { container } = deploymentOf(objects, 'worker');
    expectDrainCoversStressTests(readEnv('worker', containerEnv(objects, container)).config);
  });

  it('keeps pods available through voluntary disruptions', () => {
    for (const app of APPS) {
      const pdb = findObject(objects, 'PodDisruptionBudget', `crucible-${app}`);
      expect(pdb.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': `crucible-${app}` });
      expect(pdb.spec.minAvailable ?? pdb.spec.maxUnavailable).toBe(1);
    }
  });

  it('scales workers on queue depth, one per WORKER_CONCURRENCY jobs', () => {
    const scaled = findObject(objects, 'ScaledObject', 'crucible-worker');
    expect(scaled.spec.scaleTargetRef.name).toBe('crucible-worker');
    const trigger = scaled.spec.triggers[0];
    expect(trigger.type).toBe('prometheus');
    expect(trigger.metadata.query).toMatch(/crucible_queue_jobs\{.*state=~"waiting\|prioritized\|active"/);
    const { container } = deploymentOf(objects, 'worker');
    expect(trigger.metadata.threshold).toBe(containerEnv(objects, container).WORKER_CONCURRENCY);
    // The HPA owns the replica count.
    expect(deploymentOf(objects, 'worker').deployment.spec.replicas).toBeUndefined();
  });

  it('routes /ws to the gateway and the rest to the api, with long proxy timeouts', () => {
    const ingress = findObject(objects, 'Ingress', 'crucible');
    const paths = ingress.spec.rules[0].http.paths as {
      path: string;
      backend: { service: { name: string; port: { name: string } } };
    }[];
    expect(paths.map((p) => [p.path, p.backend.service.name, p.backend.service.port.name])).toEqual([
      ['/ws', 'crucible-gateway', 'ws'],
      ['/', 'crucible-api', 'http'],
    ]);
    expect(
      Number(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-read-timeout']),
    ).toBeGreaterThan(30 + 10);
  });
});

describe('infra/docker', () => {
  const ports = designPorts();

  it.each(APPS)('%s.Dockerfile passes the Dockerfile linter', (app) => {
    expect(validate(dockerfile(app).text)).toEqual([]);
  });

  it.each(APPS)('%s.Dockerfile builds a small, pinned, unprivileged production image', (app) => {
    const image = dockerfile(app);
    expect(image.baseImage).toMatch(/^node:20\.\d+\.\d+-[a-z]+-slim$/);
    expect(image.froms.every((f) => f.startsWith('${NODE_IMAGE}') || f.startsWith('base'))).toBe(true);
    expect(image.text).toContain(`turbo prune @crucible/${app} --docker`);
    expect(image.text).toContain('COPY --from=prune /repo/tsconfig.base.json ./');
    expect(image.text).toMatch(new RegExp(`--filter=@crucible/${app} deploy --prod`));
    expect(image.env.NODE_ENV).toBe('production');
    expect(image.user).toBe('node');
    expect(image.expose).toEqual([ports[app]]);
    expect(Number(image.env[PORT_VARIABLE[app]])).toBe(ports[app]);
    expect(image.healthcheck).toContain('/health/ready');
    expect(image.cmd).toEqual(['node', '--enable-source-maps', 'dist/main.js']);
    expect(image.text).not.toMatch(/\btsx\b/);
  });

  it("worker.Dockerfile installs Debian's Chromium and fonts, and an init that reaps the browser's processes", () => {
    const image = dockerfile('worker');
    const joined = image.text.replace(/\\\n\s*/g, ' ');
    const install = joined.split('\n').find((line) => line.includes('apt-get install')) ?? '';
    for (const pkg of ['chromium', 'fonts-liberation', 'fonts-noto-core', 'fonts-noto-color-emoji', 'tini']) {
      expect(install.split(/\s+/)).toContain(pkg);
    }
    expect(image.env.CHROMIUM_PATH).toBe('/usr/bin/chromium');
    expect(image.text).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
  });
});

describe('browser tests in the deployments', () => {
  const objects = loadManifests();
  const browserWorker = () => {
    const deployment = findObject(objects, 'Deployment', 'crucible-browser-worker');
    return { deployment, container: (deployment.spec.template.spec.containers as K8sContainer[])[0]! };
  };

  it('run on browser workers only: the ordinary workers consume the tests queue, browser workers the browser queue', () => {
    const worker = readEnv('worker', containerEnv(objects, deploymentOf(objects, 'worker').container)).config;
    const browser = expectCompleteEnv(
      'k8s browser-worker',
      'worker',
      containerEnv(objects, browserWorker().container),
    );
    expect([worker.queues, browser.queues]).toEqual([['tests'], ['browser']]);
    expect(browser.browserConcurrency).toBe(1);
    const { services } = loadCompose();
    const composed = (name: string) =>
      expectCompleteEnv(`compose ${name}`, 'worker', composeEnv(services[name]!, SHELL));
    expect([composed('worker').queues, composed('browser-worker').queues]).toEqual([['tests'], ['browser']]);
    // The same image: it carries Chromium; which queue a container consumes is its setting.
    expect(services['browser-worker']!.image).toBe(services.worker!.image);
    expect(browserWorker().container.image).toBe(deploymentOf(objects, 'worker').container.image);
  });

  it('give the Chromium profile a writable /tmp under a read-only root, and the measured memory', () => {
    const { deployment, container } = browserWorker();
    expect((container as { volumeMounts?: unknown[] }).volumeMounts).toContainEqual({
      name: 'tmp',
      mountPath: '/tmp',
    });
    expect(deployment.spec.template.spec.volumes).toContainEqual({
      name: 'tmp',
      emptyDir: { sizeLimit: '1Gi' },
    });
    const resources = (container as { resources?: { requests: { memory: string } } }).resources;
    expect(resources?.requests.memory).toBe('1536Mi');
    const compose = composeEnv(loadCompose().services['browser-worker']!, SHELL);
    expect([compose.BROWSER_CONCURRENCY, compose.CHROMIUM_PATH]).toEqual(['1', '/usr/bin/chromium']);
  });

  it('scale browser workers on the browser queue alone, one per BROWSER_CONCURRENCY tests', () => {
    const scaled = findObject(objects, 'ScaledObject', 'crucible-browser-worker');
    expect(scaled.spec.scaleTargetRef.name).toBe('crucible-browser-worker');
    const trigger = scaled.spec.triggers[0];
    expect(trigger.type).toBe('prometheus');
    expect(trigger.metadata.query).toMatch(
      /crucible_queue_jobs\{[^}]*queue="browser"[^}]*state=~"waiting\|prioritized\|active"/,
    );
    expect(trigger.metadata.threshold).toBe(
      containerEnv(objects, browserWorker().container).BROWSER_CONCURRENCY,
    );
    expect(browserWorker().deployment.spec.replicas).toBeUndefined();
    // The ordinary workers' depth leaves the browser queue out.
    const light = findObject(objects, 'ScaledObject', 'crucible-worker').spec.triggers[0].metadata.query;
    expect(light).toContain('queue="tests"');
  });

  it('let a browser worker drain and keep one available through disruptions', () => {
    const { deployment, container } = browserWorker();
    const { shutdownTimeoutMs } = readEnv('worker', containerEnv(objects, container)).config as {
      shutdownTimeoutMs: number;
    };
    const grace = deployment.spec.template.spec.terminationGracePeriodSeconds as number;
    expect(grace).toBeGreaterThanOrEqual(5 + shutdownTimeoutMs / 1000 + 10);
    // A browser test of the default three runs is bound by 3 × 90 s + 30 s: it can finish.
    expect(shutdownTimeoutMs).toBeGreaterThanOrEqual(300_000);
    const pdb = findObject(objects, 'PodDisruptionBudget', 'crucible-browser-worker');
    expect(pdb.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'crucible-browser-worker' });
    const service = findObject(objects, 'Service', 'crucible-browser-worker');
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
  });
});
