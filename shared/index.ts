// fete/shared: the isomorphic core, imported by server and browser alike. Touches no Node or DOM API.
export {
  FeteError,
  FeteErrorCode,
  InvalidPatternError,
  InvalidSubjectError,
  isFeteError,
  type FeteErrorOptions,
} from './errors.js';
export {
  MAX_SUBJECT_BYTES,
  MAX_SUBJECT_TOKENS,
  isLiteralPattern,
  isValidPattern,
  isValidSubject,
  isValidToken,
  matches,
  validatePattern,
  validateSubject,
} from './subject.js';
export { PatternIndex, type PatternIndexOptions } from './pattern-index.js';
export {
  TOPIC_KINDS,
  defineTopic,
  defineTopics,
  subjectOf,
  topicByName,
  validatePayload,
  validatePayloadSync,
  type AnyTopic,
  type ClientEmitTopicsOf,
  type ExposedCatalog,
  type ExposedTopicsOf,
  type FlagsOf,
  type InputOf,
  type ParamsOf,
  type PayloadOf,
  type Retention,
  type SubjectOfTemplate,
  type TemplateOf,
  type Topic,
  type TopicCatalog,
  type TopicFlags,
  type TopicKind,
  type TopicOptions,
  type TopicsOf,
} from './topic.js';
export type { MatchingTopics, PatternEvent, TemplateMatches } from './topic-match.js';
export {
  Headers,
  assertEnvelopeShape,
  createEnvelope,
  idempotencyKeyOf,
  validateHeaders,
  type CreateEnvelopeOptions,
  type Envelope,
  type EnvelopeOf,
} from './envelope.js';
export {
  DEFAULT_MAX_ENVELOPE_BYTES,
  assertNoForbiddenKeys,
  decodeEnvelope,
  decodeValue,
  encodeEnvelope,
  encodeValue,
  type DecodeOptions,
} from './codec.js';
export { decodeWireEnvelope, toWireEnvelope, type WireEnvelope } from './wire-envelope.js';
export { isUuid, uuidv7 } from './uuid.js';
export {
  createBus,
  type BackpressurePolicy,
  type Bus,
  type BusHandler,
  type BusMessage,
  type BusObserver,
  type BusOptions,
  type BusPublishOptions,
  type BusSubscribeOptions,
  type DropReason,
  type Subscription,
} from './bus.js';
export {
  FETE_NAMESPACE,
  PROTOCOL_LIMITS,
  type ClientToServerEvents,
  type EmitAck,
  type EmitAckItem,
  type EmitPacket,
  type EvPacket,
  type EvsPacket,
  type GapPacket,
  type ServerToClientEvents,
  type SubAck,
  type SubPacket,
  type SubscribeFrom,
  type UnsubPacket,
  type WireError,
} from './protocol.js';
