// Preloaded into the stack's processes with `BENCH_HEAP_PROF=<dir>` (see `profileArgs`): a
// sampling heap profile of every allocation, collected objects included, written to
// `<dir>/Heap.<pid>.heapprofile` when the process exits. Node's own `--heap-prof` keeps only the
// objects still alive at the end, which hides the garbage a request makes: what costs GC time.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import process from 'node:process';

const dir = process.env.BENCH_HEAP_PROF;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 16_384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  // The main thread's session answers synchronously, so this works in `exit`.
  process.once('exit', () => {
    session.post('HeapProfiler.stopSampling', (err, res) => {
      if (!err) writeFileSync(join(dir, `Heap.${process.pid}.heapprofile`), JSON.stringify(res.profile));
    });
  });
}
