import { describe, expect, it } from 'vitest';
import type { NotificationData } from '@crucible/contracts';
import { groupedData } from './incidents.js';

const one = (title: string, severity: NotificationData['severity']): NotificationData => ({
  severity,
  title,
  message: `${title} fails`,
  monitor: { name: title },
});

describe('groupedData', () => {
  it('one incident reads as itself, listed in incidents', () => {
    const a = one('Shop', 'warning');
    expect(groupedData([a])).toEqual({ ...a, incidents: [a] });
  });

  it('several: counted in the title, each a line of the message, at the highest severity, the first as the one', () => {
    const items = [one('Shop', 'info'), one('Cart', 'critical'), one('Search', 'warning')];
    const group = groupedData(items);
    expect(group).toMatchObject({
      severity: 'critical',
      title: '3 incidents opened: Shop, Cart, Search',
      message: '- Shop: Shop fails\n- Cart: Cart fails\n- Search: Search fails',
      monitor: { name: 'Shop' },
      incidents: items,
    });
  });
});
