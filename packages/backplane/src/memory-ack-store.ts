import type { AckStore, UnackedMessage } from '@crucible/contracts';
import { MAX_PER_USER, unackedUpTo } from './unacked.js';

export class MemoryAckStore implements AckStore {
  readonly #users = new Map<string, Map<string, UnackedMessage>>();

  async expect(userId: string, message: UnackedMessage): Promise<void> {
    let map = this.#users.get(userId);
    if (!map) this.#users.set(userId, (map = new Map()));
    map.set(message.id, message);
    if (map.size > MAX_PER_USER) map.delete(map.keys().next().value!);
  }

  async ack(userId: string, id: string): Promise<void> {
    const map = this.#users.get(userId);
    map?.delete(id);
    if (map?.size === 0) this.#users.delete(userId);
  }

  async unacked(userId: string, channel: string, epoch: string, uptoOffset: number) {
    return unackedUpTo(this.#users.get(userId)?.values() ?? [], channel, epoch, uptoOffset);
  }
}
