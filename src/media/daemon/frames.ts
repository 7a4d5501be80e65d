import { Transform, type TransformCallback } from 'node:stream';
import { DistillError } from '../../errors.js';

/**
 * The engine's multiplexed stream (attach or exec without a TTY): frames of an 8-byte header
 * (the stream: 1 stdout, 2 stderr; three zero bytes; the payload's length, big-endian) and the
 * payload. A Transform that takes the raw bytes in and hands each payload to `onFrame`, split
 * across chunks however the socket cuts them; it emits nothing itself.
 */
export class FrameSplitter extends Transform {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (stream: 'stdout' | 'stderr', payload: Buffer) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 8) {
      const kind = this.buf[0];
      if (kind !== 0 && kind !== 1 && kind !== 2) {
        cb(new DistillError('DAEMON', `the Docker engine sent a stream frame of unknown kind ${kind}`));
        return;
      }
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      const payload = this.buf.subarray(8, 8 + size);
      this.buf = this.buf.subarray(8 + size);
      if (size > 0) this.onFrame(kind === 2 ? 'stderr' : 'stdout', payload);
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.buf.length > 0) {
      cb(new DistillError('DAEMON', 'the Docker engine ended its stream in the middle of a frame'));
      return;
    }
    cb();
  }
}

/** Frames a payload as the engine does (for tests and fakes that stand in for the engine). */
export function frame(stream: 'stdout' | 'stderr', payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = stream === 'stderr' ? 2 : 1;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}
