// `Symbol.asyncDispose` where the runtime has it, else the registered symbol that TypeScript's
// `await using` helpers fall back to (as shared/bus-subscription.ts does): subscriptions and the
// client work with `await using` in browsers that predate explicit resource management.
export const asyncDispose: typeof Symbol.asyncDispose =
  (Symbol.asyncDispose as typeof Symbol.asyncDispose | undefined) ?? (Symbol.for('Symbol.asyncDispose') as typeof Symbol.asyncDispose);
