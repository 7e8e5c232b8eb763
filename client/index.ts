// fete/client: the browser SDK. `createClient` gives typed subscriptions with resume, durable emits
// through an IndexedDB outbox drained by one leader tab, and a status; the isomorphic pieces it
// shares with the server (topics, envelopes, errors, the bus) are re-exported for browser code.
export {
  createClient,
  type Client,
  type ClientEvents,
  type EmitOptions,
  type EmitReceipt,
  type ExecuteOptions,
  type QueuedCommand,
  type OutboxView,
  type RejectedEmit,
} from './client.js';
export type { ClientOptions } from './options.js';
export type { CallOptions } from './command-caller.js';
export type { ClientStatus } from './status.js';
export type { Delivered, DeliveredLatest, DeliveredLogged, DeliveredOf, DeliveredVolatile } from './outbox.js';
export type { ClientSubscription, Gap, SubscribeOptions, SubscriptionHandler } from './client-subscription.js';
export type { PresenceEvents, PresenceView } from './presence.js';
export type { ClientAuth, Transport, TransportFactory, TransportHandlers, TransportOptions } from './transport.js';
export { socketTransport, type SocketTransportOptions } from './socket-transport.js';
export type { Outcome, OutboxRecord, OutboxStore, QueuedRecord, RejectedRecord, ResultRecord, Settlement } from './outbox-store.js';
export type { LockManagerLike } from './leader.js';
export type { ChannelFactory } from './tab-channel.js';
export type { RetryOptions } from './backoff.js';
export {
  FeteError,
  InvalidPatternError,
  isFeteError,
  defineTopic,
  defineTopics,
  defineCommand,
  defineCommands,
  defineQuery,
  subjectOf,
  matches,
  validatePattern,
  validateSubject,
  createEnvelope,
  createBus,
  type AnyTopic,
  type AnyCommand,
  type AnyQuery,
  type Command,
  type Query,
  type RequestInputOf,
  type RequestOutputOf,
  type Envelope,
  type EnvelopeOf,
  type FeteErrorCode,
  type InputOf,
  type MatchingTopics,
  type PatternEvent,
  type PayloadOf,
  type Cursor,
  type GapReason,
  type LatestCleared,
  type LatestClearReason,
  type SubscribeFrom,
  type Topic,
  type TopicCatalog,
  type PresenceMember,
  type PresenceState,
} from '../shared/index.js';
