// fete/client: the browser SDK. The connection, subscriptions and IndexedDB outbox (`createClient`)
// arrive with the realtime issue; until then this entry gives browser code the isomorphic pieces it
// shares with the server: topic declarations, envelopes, the codec, errors and the in-process bus.
export {
  FeteError,
  isFeteError,
  defineTopic,
  defineTopics,
  subjectOf,
  matches,
  validatePattern,
  validateSubject,
  createEnvelope,
  createBus,
  type AnyTopic,
  type Envelope,
  type FeteErrorCode,
  type InputOf,
  type MatchingTopics,
  type PatternEvent,
  type PayloadOf,
  type Topic,
  type TopicCatalog,
} from '../shared/index.js';
