import type { TestView } from '@crucible/shared/api';

export function StatusChip({ status }: { status: TestView['status'] }) {
  return <span class={`chip chip-${status}`}>{status}</span>;
}
