import { writeFileSync } from 'node:fs';
import { runLighthouse } from './lighthouse.js';
import type { LighthouseTask } from './lighthouse-process.js';

// A child process that runs one Lighthouse audit and writes its result to a file. Lighthouse runs
// here rather than in the worker because killing the browser under it (cancel, timeout) leaves
// rejections inside Lighthouse that nobody awaits: in the worker they would crash the process, here
// they end only this child, which is killed anyway. Its heap is also not the worker's.

process.once('message', (task: LighthouseTask) => {
  runLighthouse(task.url, task.config, task.port).then(
    (lhr) => {
      writeFileSync(task.outFile, JSON.stringify(lhr));
      process.send!({ ok: true }, () => process.exit(0));
    },
    (err: unknown) => {
      process.send!({ ok: false, error: err instanceof Error ? err.message : String(err) }, () =>
        process.exit(1),
      );
    },
  );
});
