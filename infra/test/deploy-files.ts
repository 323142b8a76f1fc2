import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DockerfileParser } from 'dockerfile-ast';
import { parse, parseAllDocuments } from 'yaml';

/** Reads the deployment files (compose, Kubernetes manifests, Dockerfiles, DESIGN.md) for the tests. */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${REPO_ROOT}${path}`, 'utf8');

export const APPS = ['api', 'worker', 'gateway'] as const;
export type AppName = (typeof APPS)[number];

/** The variable holding each app's HTTP port (health, metrics, and the app's own traffic). */
export const PORT_VARIABLE: Record<AppName, string> = {
  api: 'PORT',
  gateway: 'GATEWAY_PORT',
  worker: 'WORKER_HEALTH_PORT',
};

/** Default of each port variable in docs/DESIGN.md's configuration tables. */
export function designPorts(): Record<AppName, number> {
  const design = read('docs/DESIGN.md');
  const portOf = (variable: string) => {
    const row = new RegExp(`^\\|\\s*${variable}\\s*\\|.*\\|\\s*(\\d+)\\s*\\|\\s*$`, 'm').exec(design);
    if (!row) throw new Error(`docs/DESIGN.md has no configuration row for ${variable} with a default port`);
    return Number(row[1]);
  };
  return {
    api: portOf(PORT_VARIABLE.api),
    gateway: portOf(PORT_VARIABLE.gateway),
    worker: portOf(PORT_VARIABLE.worker),
  };
}

// ---------------------------------------------------------------------------------------------
// compose

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  stop_grace_period?: string;
  restart?: string;
}

export function loadCompose(): { services: Record<string, ComposeService> } {
  return parse(read('infra/compose.yaml'), { merge: true }) as { services: Record<string, ComposeService> };
}

/**
 * A service's environment as the container sees it, with compose's `${VAR}`, `${VAR:-default}`
 * and `${VAR:?message}` interpolated from `shell` (what the operator exports).
 */
export function composeEnv(service: ComposeService, shell: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(service.environment ?? {})) {
    out[key] = String(raw ?? '').replace(
      /\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g,
      (_m, name: string, op?: string, arg?: string) => {
        const value = shell[name];
        if (value !== undefined && value !== '') return value;
        if (op === '?') throw new Error(`compose requires ${name}: ${arg}`);
        return op === '-' ? (arg ?? '') : '';
      },
    );
  }
  return out;
}

/** Seconds of a compose duration (`90s`, `1m30s`). */
export function composeSeconds(duration: string): number {
  const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  if (!m || (!m[1] && !m[2])) throw new Error(`unexpected compose duration ${duration}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

// Only the fields the tests read.
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
}

export interface Probe {
  httpGet: { path: string; port: string | number };
}

export interface K8sContainer {
  name: string;
  image: string;
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}

export function loadKustomization(): {
  resources: string[];
  secretGenerator: { name: string; envs: string[] }[];
  images: { name: string }[];
} {
  return parse(read('infra/k8s/kustomization.yaml'));
}

/** Every object of every manifest listed in kustomization.yaml. */
export function loadManifests(): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const file of loadKustomization().resources) {
    for (const doc of parseAllDocuments(read(`infra/k8s/${file}`))) {
      if (doc.errors.length > 0) throw new Error(`infra/k8s/${file}: ${doc.errors[0]!.message}`);
      const value = doc.toJS() as K8sObject | null;
      if (value) objects.push(value);
    }
  }
  return objects;
}

export function k8sFiles(): string[] {
  return readdirSync(`${REPO_ROOT}infra/k8s`).filter((f) => f.endsWith('.yaml'));
}

/** KEY=value lines of an env file (the Secret's example), comments skipped. */
export function readEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of read(path).split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export function findObject(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in infra/k8s`);
  return found;
}

/**
 * The environment a container gets: its ConfigMaps, its Secrets (values from the example env
 * file of the generator) and its own `env`.
 */
export function containerEnv(objects: K8sObject[], container: K8sContainer): Record<string, string> {
  const generators = loadKustomization().secretGenerator;
  const out: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef)
      Object.assign(out, findObject(objects, 'ConfigMap', source.configMapRef.name).data);
    if (source.secretRef) {
      const generator = generators.find((g) => g.name === source.secretRef!.name);
      if (!generator) throw new Error(`no secretGenerator ${source.secretRef.name}`);
      for (const file of generator.envs) Object.assign(out, readEnvFile(`infra/k8s/${file}.example`));
    }
  }
  for (const { name, value } of container.env ?? []) out[name] = value ?? '';
  return out;
}

/** The single container of an app's Deployment. */
export function deploymentOf(
  objects: K8sObject[],
  app: AppName,
): { deployment: K8sObject; container: K8sContainer } {
  const deployment = findObject(objects, 'Deployment', `crucible-${app}`);
  const containers = deployment.spec.template.spec.containers as K8sContainer[];
  return { deployment, container: containers[0]! };
}

export interface ProbeTarget {
  source: string;
  path: string;
  port: number;
}

/** Every health check that infra files aim at an app: Kubernetes probes, compose and image HEALTHCHECKs. */
export function probeTargets(app: AppName): ProbeTarget[] {
  const targets: ProbeTarget[] = [];
  const { container } = deploymentOf(loadManifests(), app);
  for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
    const probe = container[kind];
    if (!probe) continue;
    const { port } = probe.httpGet;
    const number =
      typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
    if (number === undefined) throw new Error(`${app} ${kind} names port ${port}, which the container lacks`);
    targets.push({ source: `k8s ${kind}`, path: probe.httpGet.path, port: number });
  }
  const compose = loadCompose().services[app]!;
  for (const url of urlsIn((compose.healthcheck?.test ?? []).join(' '))) {
    targets.push({ source: 'compose healthcheck', ...url });
  }
  const image = dockerfile(app);
  for (const url of urlsIn(
    image.healthcheck.replace(`'+process.env.${PORT_VARIABLE[app]}+'`, image.env[PORT_VARIABLE[app]]!),
  )) {
    targets.push({ source: 'image HEALTHCHECK', ...url });
  }
  return targets;
}

function urlsIn(text: string): { path: string; port: number }[] {
  return [...text.matchAll(/http:\/\/127\.0\.0\.1:(\d+)(\/[\w/-]*)/g)].map((m) => ({
    port: Number(m[1]),
    path: m[2]!,
  }));
}

// ---------------------------------------------------------------------------------------------
// Dockerfiles

export interface ImageFacts {
  text: string;
  /** Default of `ARG NODE_IMAGE` (the pinned base). */
  baseImage: string;
  /** FROM of every stage, as written. */
  froms: string[];
  /** Instructions of the last (runtime) stage, keyword → argument text. */
  runtime: { keyword: string; args: string }[];
  env: Record<string, string>;
  user: string | undefined;
  expose: number[];
  healthcheck: string;
  cmd: string[];
  /** Flags of the `pnpm deploy` that assembles the image's /app (its store and target left out). */
  deployFlags: string[];
}

export function dockerfile(app: AppName): ImageFacts {
  const text = read(`infra/docker/${app}.Dockerfile`);
  const parsed = DockerfileParser.parse(text);
  const froms = parsed.getFROMs();
  const lastFrom = froms.at(-1)!;
  const runtime = parsed
    .getInstructions()
    .filter((i) => i.getRange().start.line >= lastFrom.getRange().start.line)
    .map((i) => ({ keyword: i.getKeyword(), args: i.getArgumentsContent() ?? '' }));
  const env: Record<string, string> = {};
  for (const e of parsed.getENVs()) {
    if (e.getRange().start.line < lastFrom.getRange().start.line) continue;
    for (const p of e.getProperties()) env[p.getName()] = p.getValue() ?? '';
  }
  const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(text);
  const cmd = runtime.findLast((i) => i.keyword === 'CMD');
  const deploy = new RegExp(`pnpm --filter=@crucible/${app} deploy ([^\\n]*?)\\s+--store-dir`).exec(
    text.replace(/\\\n\s*/g, ''),
  );
  return {
    text,
    baseImage: arg?.[1] ?? '',
    froms: froms.map((f) => f.getArgumentsContent() ?? ''),
    runtime,
    env,
    user: runtime.findLast((i) => i.keyword === 'USER')?.args,
    expose: runtime.filter((i) => i.keyword === 'EXPOSE').map((i) => Number(i.args)),
    healthcheck: runtime.findLast((i) => i.keyword === 'HEALTHCHECK')?.args ?? '',
    cmd: cmd ? (JSON.parse(cmd.args) as string[]) : [],
    deployFlags: deploy ? deploy[1]!.split(/\s+/) : [],
  };
}
