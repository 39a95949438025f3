/**
 * The messages of a batch of stream events (one commit, one replay page), each
 * serialised and framed once for every screen that gets it.
 *
 * With a hundred screens open, sending each screen its messages through
 * `WebSocket.send` made ws frame the same text once per screen: a header
 * allocated, the text's UTF-8 length counted and the text encoded again in
 * every socket's write, and a write call of its own per message. Here an
 * event's frame (RFC 6455 §5.2: FIN, opcode 1 text, unmasked as a server's
 * must be, §5.1) is built the first time a screen may see the event, and the
 * same bytes go to every other screen that gets it. A screen's messages of
 * one batch leave in one write: one `writev` less per message, still one per
 * screen (no system call writes to many sockets).
 *
 * Only for sockets without permessage-deflate (RFC 7692): a compressed
 * message is deflated with the socket's own context, so it cannot be shared
 * (see `rawSocket` in streamHub.ts: such a socket gets ws's own sends). The
 * hub does not offer compression (ws's server default), so every dashboard's
 * socket takes this path.
 */
import type { StreamEvent } from './eventLog.js';

export class SharedFrames {
  private readonly texts: Array<string | undefined>;
  private readonly frames: Array<Buffer | undefined>;
  private whole: Buffer | undefined;

  constructor(readonly events: readonly StreamEvent[]) {
    this.texts = new Array(events.length);
    this.frames = new Array(events.length);
  }

  /** Event `i`'s message (JSON), built once. */
  text(i: number): string {
    return (this.texts[i] ??= wire(this.events[i]!));
  }

  /** Event `i`'s message as a WebSocket frame, built once. */
  frame(i: number): Buffer {
    return (this.frames[i] ??= textFrame(this.text(i)));
  }

  /**
   * The frames of the events at `indexes` (ascending), back to back: one
   * buffer, so one write. A screen that gets the whole batch shares one copy
   * with every other such screen; any other gets a buffer of its own, so a
   * screen that stops reading keeps only its own messages in memory.
   */
  framesOf(indexes: readonly number[]): Buffer {
    if (indexes.length === 1) return this.frame(indexes[0]!);
    if (indexes.length === this.events.length) return (this.whole ??= this.concat(indexes));
    return this.concat(indexes);
  }

  private concat(indexes: readonly number[]): Buffer {
    let bytes = 0;
    for (const i of indexes) bytes += this.frame(i).length;
    const out = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (const i of indexes) at += this.frame(i).copy(out, at);
    return out;
  }
}

/** An event's message; one read back from the log keeps the data's JSON as the log holds it. */
export function wire(e: StreamEvent): string {
  const at = new Date(e.at).toISOString();
  if (e.dataJson === undefined) return JSON.stringify({ seq: e.seq, type: e.type, at, data: e.data });
  return `{"seq":${e.seq},"type":${JSON.stringify(e.type)},"at":"${at}","data":${e.dataJson}}`;
}

/**
 * One unfragmented, unmasked text frame (RFC 6455 §5.2): the 7-bit length, or
 * 126 and 16 bits, or 127 and 64 bits; the bytes ws's own `Sender.frame` makes.
 */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81;
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt16BE(0, 2);
    frame.writeUIntBE(length, 4, 6);
  }
  frame.write(text, header, 'utf8');
  return frame;
}
