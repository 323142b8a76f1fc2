import { ApiRoutes } from '@crucible/contracts/api';
import type { TestView } from '@crucible/contracts/api';

/** POSIX-shell single quoting: safe for any text. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * A curl command that submits the same test again. The token is left as `$CRUCIBLE_TOKEN` (an API
 * key from the keys page) so no secret ends up in a clipboard or a shell history.
 */
export function curlForTest(
  origin: string,
  test: Pick<TestView, 'testType' | 'url' | 'priority' | 'name' | 'config'>,
): string {
  const body = {
    testType: test.testType,
    url: test.url,
    priority: test.priority,
    ...(test.name ? { name: test.name } : {}),
    config: test.config,
  };
  return [
    `curl -X ${ApiRoutes.runTest.method} ${shellQuote(origin + ApiRoutes.runTest.url)}`,
    `  -H "authorization: Bearer $CRUCIBLE_TOKEN"`,
    `  -H 'content-type: application/json'`,
    `  -d ${shellQuote(JSON.stringify(body))}`,
  ].join(' \\\n');
}
