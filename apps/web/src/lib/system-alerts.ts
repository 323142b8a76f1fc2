import type { SystemAlertData } from '@crucible/contracts';

/**
 * The admin page's system alerts after a `system:alert`: the alert replaces the one of its id (its
 * resolution) or joins the list; newest told first, at most `keep`. The gateway replays the
 * channel's history on each subscription, so an alert may arrive again: it changes nothing.
 */
export function withAlert(
  list: readonly SystemAlertData[],
  alert: SystemAlertData,
  keep = 50,
): SystemAlertData[] {
  const current = list.find((a) => a.id === alert.id);
  // A late replay of the firing must not undo a resolution already shown.
  if (current?.status === 'resolved' && alert.status === 'firing') return [...list];
  return [alert, ...list.filter((a) => a.id !== alert.id)]
    .sort((a, b) => Date.parse(b.firedAt) - Date.parse(a.firedAt) || (b.id < a.id ? -1 : 1))
    .slice(0, keep);
}

/** Current (firing) ones first, then the past ones, each newest first. */
export function splitAlerts(list: readonly SystemAlertData[]): {
  current: SystemAlertData[];
  past: SystemAlertData[];
} {
  return {
    current: list.filter((a) => a.status === 'firing'),
    past: list.filter((a) => a.status === 'resolved'),
  };
}
