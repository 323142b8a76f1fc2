// Preloaded into every process a benchmark starts (see `startProcess`). If the benchmark dies
// without stopping it (killed, timed out), the process is re-parented: it then stops itself as its
// own SIGTERM would stop it, instead of running on, loading the machine the next benchmark measures
// and writing under a Redis prefix whose clean-up has already run.
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';

const parent = process.ppid;
const watch = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(watch);
  process.kill(process.pid, 'SIGTERM');
}, 1_000);
watch.unref();
