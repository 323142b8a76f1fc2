import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './processes.js';

/** The user documentation: the README and everything under docs/, its folders too (docs/benchmarks). */
const DOCUMENTS = [
  'README.md',
  ...readdirSync(join(REPO_ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`)
    .sort(),
];

/** Relative link targets of a Markdown file: inline links and images, and reference definitions. */
function relativeLinks(markdown: string): string[] {
  // Code blocks and spans hold examples, not links.
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  const inline = [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const references = [...prose.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map(
    (m) => m[1]!,
  );
  return [...inline, ...references].filter((target) => !/^([a-z][a-z0-9+.-]*:|#)/i.test(target));
}

describe('documentation links', () => {
  it.each(DOCUMENTS)('every relative link in %s resolves to a file of the repository', (document) => {
    const file = join(REPO_ROOT, document);
    const broken = relativeLinks(readFileSync(file, 'utf8'))
      .map((target) => decodeURIComponent(target.split('#')[0]!))
      .filter((path) => !existsSync(join(dirname(file), path)))
      .map((path) => relative(REPO_ROOT, join(dirname(file), path)));
    expect(broken).toEqual([]);
  });

  it('reads the documents of docs/ folders too', () => {
    expect(DOCUMENTS).toContain('docs/benchmarks/2026-11-30.md');
  });

  it('finds the links it checks (the README links its screenshot and the WebSocket protocol)', () => {
    expect(relativeLinks(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'))).toEqual(
      expect.arrayContaining(['docs/screenshot-test-page.png', 'docs/websocket.md']),
    );
  });
});
