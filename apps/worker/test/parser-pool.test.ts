import { afterEach, describe, expect, it } from 'vitest';
import { EngineError } from '../src/errors.js';
import { ParserPool } from '../src/parsing/parser-pool.js';
import { linkPage } from './fixtures/link-page.js';

const pools: ParserPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function pool(options: ConstructorParameters<typeof ParserPool>[0] = {}): ParserPool {
  const p = new ParserPool(options);
  pools.push(p);
  return p;
}

const hostile = linkPage(100_000);

describe('ParserPool', () => {
  it('parses a page in a thread', async () => {
    const result = await pool().run(
      { kind: 'seo-page', html: linkPage(3), url: 'https://site.example/' },
      new AbortController().signal,
    );
    expect(result.links).toEqual(
      [0, 1, 2].map((i) => `https://site.example/articles/${i}/a-long-enough-slug-of-this-page.html`),
    );
  });

  it('fails a task that outlives its time limit with PARSE_LIMIT', async () => {
    const run = pool({ taskTimeoutMs: 1 }).run(
      { kind: 'seo-page', html: hostile, url: 'https://site.example/' },
      new AbortController().signal,
    );
    await expect(run).rejects.toThrow(
      new EngineError('PARSE_LIMIT', 'parsing the page did not finish within 0.001 s'),
    );
    await expect(run).rejects.toMatchObject({ code: 'PARSE_LIMIT', retryable: false });
  });

  it('fails a task that needs more memory than a thread may have with PARSE_LIMIT', async () => {
    const run = pool({ maxHeapMb: 16 }).run(
      { kind: 'seo-page', html: hostile, url: 'https://site.example/' },
      new AbortController().signal,
    );
    await expect(run).rejects.toThrow('parsing the page needed more than 16 MiB of memory');
    await expect(run).rejects.toMatchObject({ code: 'PARSE_LIMIT' });
  });

  it("stops a task when the test's signal is aborted, with the signal's reason", async () => {
    const controller = new AbortController();
    const run = pool().run(
      { kind: 'seo-page', html: hostile, url: 'https://site.example/' },
      controller.signal,
    );
    const reason = new EngineError('CANCELLED', 'the test was cancelled');
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
  });
});
