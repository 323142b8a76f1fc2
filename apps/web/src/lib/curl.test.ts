import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { curlForTest, shellQuote } from './curl';

describe('copy as curl', () => {
  it('quotes anything for a POSIX shell', () => {
    const nasty = `it's "$HOME" \`id\` \\ end`;
    expect(execFileSync('sh', ['-c', `printf %s ${shellQuote(nasty)}`]).toString()).toBe(nasty);
  });

  it('re-submits the same test to the route table’s path, with the token left to the shell', () => {
    const command = curlForTest('http://localhost:3000', {
      testType: 'stress',
      url: "https://example.com/?q=it's",
      priority: 7,
      name: null,
      config: { durationSec: 5 },
    });
    expect(command).toBe(
      [
        "curl -X POST 'http://localhost:3000/api/test/run' \\",
        '  -H "authorization: Bearer $CRUCIBLE_TOKEN" \\',
        "  -H 'content-type: application/json' \\",
        `  -d '{"testType":"stress","url":"https://example.com/?q=it'\\''s","priority":7,"config":{"durationSec":5}}'`,
      ].join('\n'),
    );
  });
});
