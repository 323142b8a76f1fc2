import { describe, expect, it } from 'vitest';
import { mergeReloaded } from './row-status';

const row = (status: string, progress = 0) => ({ testId: 't1', status, progress, verdict: null });

describe('mergeReloaded', () => {
  it('keeps a status the channel set after the reload was asked', () => {
    // The reload left before the cancel and answered after the channel said `cancelled`.
    const merged = mergeReloaded([row('cancelled')], [row('queued')], new Map([['t1', 20]]), 10);
    expect(merged[0]!.status).toBe('cancelled');
  });

  it('takes the reload when it was asked after the channel last moved the row', () => {
    const merged = mergeReloaded([row('running', 40)], [row('completed', 100)], new Map([['t1', 5]]), 10);
    expect(merged[0]).toMatchObject({ status: 'completed', progress: 100 });
  });

  it('takes the reload for rows the channel never moved and for new rows', () => {
    const loaded = [row('queued'), { ...row('running'), testId: 't2' }];
    expect(mergeReloaded(null, loaded, new Map([['t2', 50]]), 10)).toEqual(loaded);
  });
});
