import { DeviceError } from "../errors";
import { Signal } from "../signal";
import type { ByteDuplex } from "./duplex";
import { SharedWire } from "./wire";

/** One end of an in-memory pipe. `sever()`/`restore()` let tests and the simulator model an unplugged cable. */
export class PipeEnd implements ByteDuplex {
  readonly connection = new Signal<boolean>();
  readonly data = new Signal<Uint8Array>();
  /** No fd, so no other thread ever writes here; but a driver's guard and latches apply as on a real line, so a
   * simulated mount refuses motion into a tripped limit switch at the same place a real one does. */
  readonly wire = new SharedWire();
  peer!: PipeEnd;
  private up = true;
  private closed = false;

  constructor(private readonly name: string) {}

  get connected(): boolean {
    return this.up && !this.closed;
  }

  write(bytes: Uint8Array): void {
    if (!this.connected) throw new DeviceError("disconnected", this.name, `${this.name} is disconnected`);
    // Delivered on a later turn of the event loop, like bytes from a real file descriptor: a reply never re-enters
    // its writer, and a request/reply loop cannot starve timers and sockets the way a microtask chain would.
    const copy = bytes.slice();
    const peer = this.peer;
    this.wire.write(
      () =>
        setImmediate(() => {
          if (peer.connected) peer.data.emit(copy);
        }),
      true,
      copy,
    );
  }

  discardInput(): void {}

  sever(): void {
    for (const end of [this, this.peer]) end.setUp(false);
  }

  restore(): void {
    for (const end of [this, this.peer]) end.setUp(true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connection.emit(false);
    this.peer.setUp(false);
  }

  private setUp(up: boolean): void {
    if (this.up === up || this.closed) return;
    this.up = up;
    this.connection.emit(up);
  }
}

/** Two connected ends: what one writes, the other receives. */
export function pipePair(names: [string, string] = ["pipe a", "pipe b"]): [PipeEnd, PipeEnd] {
  const a = new PipeEnd(names[0]);
  const b = new PipeEnd(names[1]);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
