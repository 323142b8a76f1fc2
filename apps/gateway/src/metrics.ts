import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

/** The gateway's Prometheus metrics; gauges read live state when scraped. */
export function createGatewayMetrics(
  registry: Registry,
  state: { connections(): number; subscriptions(): number; channels(): number },
) {
  const registers = [registry];
  new Gauge({
    name: 'crucible_gateway_connections',
    help: 'Open WebSocket connections on this gateway',
    registers,
    collect() {
      this.set(state.connections());
    },
  });
  new Gauge({
    name: 'crucible_gateway_subscriptions',
    help: 'Channel subscriptions of all connections on this gateway',
    registers,
    collect() {
      this.set(state.subscriptions());
    },
  });
  new Gauge({
    name: 'crucible_gateway_bus_channels',
    help: 'Channels this gateway is subscribed to on the bus (one per channel with local readers)',
    registers,
    collect() {
      this.set(state.channels());
    },
  });
  return {
    connectionsRefused: new Counter({
      name: 'crucible_gateway_connections_refused_total',
      help: 'Upgrades refused, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    messagesIn: new Counter({
      name: 'crucible_gateway_messages_in_total',
      help: 'Channel messages received from the bus',
      registers,
    }),
    messagesOut: new Counter({
      name: 'crucible_gateway_messages_out_total',
      help: 'Channel messages sent to clients (each recipient counts)',
      registers,
    }),
    batches: new Counter({
      name: 'crucible_gateway_batches_total',
      help: 'Frames sent that carried more than one message',
      registers,
    }),
    drops: new Counter({
      name: 'crucible_gateway_dropped_messages_total',
      help: 'Messages not delivered, by reason (malformed, slow consumer)',
      labelNames: ['reason'] as const,
      registers,
    }),
    slowDisconnects: new Counter({
      name: 'crucible_gateway_slow_disconnects_total',
      help: 'Connections closed with 4008 because their send queue passed the bound',
      registers,
    }),
    recoveries: new Counter({
      name: 'crucible_gateway_recoveries_total',
      help: 'Resumes and gap fills, by where and outcome (recovered, reset, failed)',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
    acks: new Counter({
      name: 'crucible_gateway_acks_total',
      help: 'Acknowledgements received from clients',
      registers,
    }),
    redelivered: new Counter({
      name: 'crucible_gateway_redelivered_total',
      help: 'Unacknowledged messages sent again on resume',
      registers,
    }),
    abuseDisconnects: new Counter({
      name: 'crucible_gateway_policy_disconnects_total',
      help: 'Connections closed with 1008 after repeated invalid frames, or 4001 after their API key was revoked',
      labelNames: ['reason'] as const,
      registers,
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
