import type { Egress } from '@crucible/egress';
import type { buildConnector } from 'undici';
import { EngineError, errorMessage, throwIfRefused } from '../../errors.js';
import { checkedTarget } from '../support.js';

/**
 * Resolves and checks the target once, for a connector that dials that very address for every
 * connection: a private target is refused before anything opens, and no later DNS answer
 * (rebinding) is ever dialled.
 */
export async function pinnedConnect(
  egress: Egress,
  url: string,
  connecting: AbortController,
): Promise<{ target: URL; connect: buildConnector.connector }> {
  const target = checkedTarget(egress, url);
  try {
    const { connect } = await egress.pinnedConnector(target, { signal: connecting.signal });
    return { target, connect };
  } catch (err) {
    throwIfRefused(err);
    throw new EngineError('TARGET_UNREACHABLE', errorMessage(err), { cause: err, retryable: true });
  }
}
