import type { IncomingMessage } from 'node:http';
import type { Bandwidth } from '../bandwidth.js';

export interface BodyShape {
  bandwidth: Bandwidth;
  /** Counts bytes as they pass, whether or not they end up stored. */
  onBytes(bytes: number): void;
  /** Pass on only this many bytes, then end the body and call `onCut` (the dropped-connection fault). */
  cutAfter?: number;
  onCut?(): void;
}

export interface ShapedBody {
  stream: ReadableStream<Uint8Array>;
  /** Stops reading and discards whatever the client still sends, so the connection can be reused. */
  release(): void;
}

/**
 * The request body as a web stream for `@tus/server`, read at the emulator's pace. A client that
 * goes away ends the stream instead of failing it: like `@tus/server` on Node, the bytes that did
 * arrive are kept, and the client finds them with HEAD.
 */
export function shapeBody(req: IncomingMessage, shape: BodyShape): ShapedBody {
  const chunks = req.iterator({ destroyOnReturn: false });
  let taken = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    void chunks.return?.();
  };

  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const end = () => {
          finish();
          try {
            controller.close();
          } catch {
            // Already cancelled by @tus/server.
          }
        };
        let next: IteratorResult<Buffer>;
        try {
          next = await chunks.next();
        } catch {
          return end();
        }
        if (next.done) return end();
        let chunk = next.value;
        const cut = shape.cutAfter !== undefined && taken + chunk.length >= shape.cutAfter;
        if (cut) chunk = chunk.subarray(0, (shape.cutAfter as number) - taken);
        try {
          const piece = shape.bandwidth.limited ? shape.bandwidth.pieceSize() : chunk.length;
          for (let at = 0; at < chunk.length; at += piece) {
            const part = chunk.subarray(at, at + piece);
            await shape.bandwidth.take(part.length);
            taken += part.length;
            shape.onBytes(part.length);
            controller.enqueue(part);
          }
        } catch {
          // The emulator is closing while a throttled body waits, or @tus/server stopped reading.
          return end();
        }
        if (cut) {
          end();
          shape.onCut?.();
        }
      },
      cancel() {
        finish();
      },
    },
    // Read only when @tus/server asks: a PATCH it refuses (wrong offset, say) takes no bytes.
    { highWaterMark: 0 },
  );

  return {
    stream,
    release() {
      finish();
      if (!req.complete && !req.destroyed) req.resume();
    },
  };
}
