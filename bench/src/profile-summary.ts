// Summary of a V8 CPU profile: where the samples were (self time) by owner and by function, and
// the time spent inside each of Crucible's own functions (inclusive), which names the hot path.
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a script lives: a package name, "crucible:<path>" for ours, "node" or "(v8)". */
export function ownerOf(url: string): string {
  if (!url) return '(v8)';
  if (url.startsWith('node:')) return 'node';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const [scope, name] = url.slice(nm + 14).split('/');
    return scope!.startsWith('@') ? `${scope}/${name}` : scope!;
  }
  const own = url.match(/\/(apps|packages)\/([^/]+)\//);
  return own ? `crucible:${own[1]}/${own[2]}` : url;
}

export function summarize(profile: Profile, top = 20): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: ProfileNode) => {
    const f = n.callFrame;
    return `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(apps|packages|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const owners = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const node = byId.get(id)!;
    self.set(key(node), (self.get(key(node)) ?? 0) + dt);
    const owner = ownerOf(node.callFrame.url);
    owners.set(owner, (owners.get(owner) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      if (!ownerOf(n.callFrame.url).startsWith('crucible:')) continue;
      const k = key(n);
      if (!seen.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
      seen.add(k);
    }
  });
  const table = (title: string, m: Map<string, number>) => [
    `${title}:`,
    ...[...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `  ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`),
  ];
  return [
    `${(total / 1e6).toFixed(1)} s sampled`,
    ...table('self time by owner', owners),
    ...table('self time by function', self),
    ...table("inclusive time in Crucible's own functions", inclusive),
  ].join('\n');
}
