/**
 * What one socket read makes the proxy send on, gathered and written when the read has been handled: one write
 * when it is one buffer (a Produce chunk passing through, nearly always), one writev (cork/uncork) when it is
 * several (a read holding many small frames: one TCP segment per frame would cost a system call each and, pipelined
 * by the thousand, filled the broker's receive buffer with per-segment overhead until loopback TCP stalled).
 * Outside a read (a verdict that arrived later, a response the proxy answers itself) bytes are written at once.
 *
 * Backpressure: the reading side is paused only when the other socket really holds bytes it could not hand to
 * the kernel. write() returns false for every write of 16 KiB or more even when the kernel took it all; pausing on
 * that stopped and restarted the reading socket (two epoll_ctl calls and a 'drain' round) on every bulk chunk.
 */
import type { Socket } from 'node:net';

export class WriteBatch {
  private first: Buffer | undefined;
  private more: Buffer[] | undefined;
  private gathering = false;

  /** `behind`: the socket holds unwritten bytes; pause what feeds it until its 'drain'. */
  constructor(private readonly socket: Socket, private readonly behind: () => void) {}

  /** A read is being handled: gather until end(). */
  begin(): void { this.gathering = true; }

  write(bytes: Buffer): void {
    if (!this.gathering) { this.send(bytes); return; }
    if (this.first === undefined) this.first = bytes;
    else (this.more ??= []).push(bytes);
  }

  /** Sends what was gathered (call also before ending the socket, so nothing gathered is lost). */
  end(): void {
    this.gathering = false;
    const first = this.first;
    if (first === undefined) return;
    const more = this.more;
    this.first = undefined;
    this.more = undefined;
    if (more === undefined) { this.send(first); return; }
    const s = this.socket;
    s.cork();
    s.write(first);
    for (const b of more) s.write(b);
    s.uncork();
    this.check();
  }

  private send(bytes: Buffer): void {
    this.socket.write(bytes);
    this.check();
  }

  /** Over its high-water mark (write() said false) and not all handed to the kernel: behind. */
  private check(): void {
    if (this.socket.writableNeedDrain && this.socket.writableLength > 0) this.behind();
  }
}
