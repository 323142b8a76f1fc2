import { readFileSync, readdirSync } from 'node:fs';

/** USER_HZ: the unit of the CPU times in /proc/<pid>/stat (100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system, every thread) a process has used, from /proc; with `children`, those
 * of its children that have exited and been waited for (an execFile'd CLI) instead. Null where
 * there is no such process (or no /proc).
 */
export function processCpuSeconds(pid: number | 'self', children = false): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name (which may hold spaces): utime is field 14, stime 15,
    // cutime 16, cstime 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [user, system] = children ? [fields[13], fields[14]] : [fields[11], fields[12]];
    return (Number(user) + Number(system)) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** CPU seconds used so far by each process whose command name starts with `name` (e.g. `postgres`), by pid. */
export function namedCpuSeconds(name: string): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!comm.startsWith(name)) continue;
      const seconds = processCpuSeconds(Number(entry));
      if (seconds !== null) byPid.set(Number(entry), seconds);
    } catch {
      // Exited between the listing and the read.
    }
  }
  return byPid;
}

/**
 * CPU seconds the processes of `after` used since `before`: a process started meanwhile counts
 * whole; one that exited meanwhile is lost (PostgreSQL backends come and go), never negative.
 */
function usedSince(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += Math.max(0, seconds - (before.get(pid) ?? 0));
  return total;
}

/** Where a request's CPU goes: the server's process(es), PostgreSQL, Redis and the load generator. */
export interface CpuShare {
  server: number;
  postgres: number;
  redis: number;
  load: number;
}

/**
 * Starts a CPU account of the server processes `pids`, every PostgreSQL and Redis process on the
 * machine and this process (which runs autocannon); `stop()` gives the microseconds of each per
 * request. PostgreSQL and Redis are shared: anything else they serve meanwhile counts too, so read
 * these on a quiet machine, where they are steadier than a req/s figure — or pass `stop` the
 * PostgreSQL backends to count (those of the benchmark's database: {@link backendsOf}), which
 * leaves out what other databases of the server did meanwhile (and the server's own background
 * processes).
 */
export function cpuAccount(pids: number[]): {
  stop(requests: number, only?: { postgres?: ReadonlySet<number> }): CpuShare & { total: number };
} {
  const server = () => pids.reduce((sum, pid) => sum + (processCpuSeconds(pid) ?? 0), 0);
  const self = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const start = {
    server: server(),
    postgres: namedCpuSeconds('postgres'),
    redis: namedCpuSeconds('redis'),
    load: self(),
  };
  return {
    stop(requests, only = {}) {
      const per = (seconds: number) => (requests > 0 ? (Math.max(0, seconds) * 1e6) / requests : 0);
      const postgres = namedCpuSeconds('postgres');
      if (only.postgres) for (const pid of postgres.keys()) if (!only.postgres.has(pid)) postgres.delete(pid);
      const share = {
        server: per(server() - start.server),
        postgres: per(usedSince(start.postgres, postgres)),
        redis: per(usedSince(start.redis, namedCpuSeconds('redis'))),
        load: per(self() - start.load),
      };
      return { ...share, total: share.server + share.postgres + share.redis + share.load };
    },
  };
}

/**
 * The PostgreSQL backends serving the database `pool` is connected to (by pid): those a server
 * under test opened, ended by their own idle timeout or not. Ask at the end of a measurement: a
 * backend started meanwhile counts whole, one that ended meanwhile is lost.
 */
export async function backendsOf(pool: {
  query(text: string): Promise<{ rows: { pid: number }[] }>;
}): Promise<Set<number>> {
  const { rows } = await pool.query('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  return new Set(rows.map((r) => Number(r.pid)));
}
