// UUIDv7 (RFC 9562): 48-bit unix milliseconds, then random bits, so ids sort by creation time
// and make good B-tree keys. Within one millisecond a 12-bit counter in rand_a keeps ids from one
// process strictly increasing (RFC 9562 §6.2 method 1); the rest is random.

let lastMs = -1;
let counter = 0;
const bytes = new Uint8Array(16);
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function uuidv7(now: number = Date.now()): string {
  crypto.getRandomValues(bytes);
  if (now > lastMs) {
    lastMs = now;
    counter = bytes[6]! & 0x07; // random start, low enough to leave room for increments
  } else {
    counter++;
    if (counter > 0xfff) {
      // counter exhausted within this millisecond: borrow the next millisecond
      lastMs++;
      counter = 0;
    }
    now = lastMs;
  }
  const ms = now;
  bytes[0] = Math.floor(ms / 2 ** 40) & 0xff;
  bytes[1] = Math.floor(ms / 2 ** 32) & 0xff;
  bytes[2] = (ms >>> 24) & 0xff;
  bytes[3] = (ms >>> 16) & 0xff;
  bytes[4] = (ms >>> 8) & 0xff;
  bytes[5] = ms & 0xff;
  bytes[6] = 0x70 | ((counter >>> 8) & 0x0f);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  let out = '';
  for (let i = 0; i < 16; i++) {
    out += HEX[bytes[i]!]!;
    if (i === 3 || i === 5 || i === 7 || i === 9) out += '-';
  }
  return out;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Any RFC 9562 UUID (not only v7): clients may bring their own ids. */
export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && UUID_RE.test(s);
}
