import type { TestView } from '@crucible/contracts/api';

export function StatusChip({ status }: { status: TestView['status'] }) {
  return <span class={`chip chip-${status}`}>{status}</span>;
}

/**
 * What the test's own checks said, beside its status: "completed" only means a result was
 * produced. A test that judged nothing (`none`) or has not completed shows no chip.
 */
export function VerdictChip({ verdict }: { verdict: TestView['verdict'] }) {
  if (verdict !== 'passed' && verdict !== 'failed') return null;
  return (
    <span class={`chip verdict verdict-${verdict}`} data-verdict={verdict}>
      {verdict === 'passed' ? 'checks passed' : 'checks failed'}
    </span>
  );
}
