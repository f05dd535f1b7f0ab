import type { Role } from "../../app/auth/principal";
import type { TestServer } from "./server";
import { TestClient, type Frame } from "./ws-client";

/** A simulated telescope fast enough for tests: quick slews, readout and filter changes, no daylight or horizon
 * surprises (a site at latitude 60 keeps M31 above 11°), and constraints re-evaluated often. */
export const FAST_SIM = `
[site]
latitude_deg = 60
longitude_deg = 10
elevation_m = 100
[mount]
slew_rate_deg_s = 30
accel_deg_s2 = 60
horizon_deg = 0
ha_limit_deg = 180
[focuser]
speed_um_s = 20000
accel_um_s2 = 400000
[rotator]
speed_deg_s = 90
accel_deg_s2 = 900
[camera]
width = 1024
height = 768
readout_s = 0.05
[filter_wheel]
seconds_per_slot = 0.02
[autofocus]
exposure_s = 0.5
[constraints]
max_sun_alt_deg = 90
interval_s = 0.2
`;

let counter = 0;

/** A user of the telescope over the real endpoints: a commands socket subscribed to the telescope's commands and
 * results, and a stream socket subscribed to all of its streams. */
export class Operator {
  private constructor(
    readonly commands: TestClient,
    readonly stream: TestClient,
    readonly telescope: string,
  ) {}

  static async connect(server: TestServer, sub: string, role: Role = "operator", telescope = "sim-1"): Promise<Operator> {
    const token = server.token(sub, role);
    const [commands, stream] = await Promise.all([
      TestClient.connect(`${server.ws}/v1/ws/commands?token=${token}`),
      TestClient.connect(`${server.ws}/v1/ws/stream?token=${token}`),
    ]);
    const op = new Operator(commands, stream, telescope);
    await commands.request({ id: "sub-c", kind: "subscribe_commands", subscription_id: "mine", filter: { telescope_uid: telescope } });
    await stream.request({ id: "sub-s", kind: "subscribe_stream", subscription_id: "view", filter: { telescope_uid: telescope } });
    return op;
  }

  /** Publishes a command; resolves with the hub's answer (ack or error) and the command id. */
  async publish(command: Record<string, unknown>): Promise<{ command_id: string; answer: Frame }> {
    const command_id = `c-${process.pid}-${++counter}`;
    const answer = await this.commands.request({ id: command_id, kind: "publish_command", telescope_uid: this.telescope, command_id, command });
    return { command_id, answer };
  }

  result(command_id: string, timeoutMs = 15_000): Promise<Frame> {
    return this.commands.next((f) => f.kind === "event_command_result" && f.result.command_id === command_id, timeoutMs).then((f) => f.result);
  }

  /** Publishes and waits for the result; fails the test if the hub refused the publish. */
  async run(command: Record<string, unknown>, timeoutMs = 15_000): Promise<Frame> {
    const { command_id, answer } = await this.publish(command);
    if (answer.kind !== "ack") throw new Error(`publish refused: ${JSON.stringify(answer)}`);
    return this.result(command_id, timeoutMs);
  }

  async acquire(duration_s = 300): Promise<string> {
    const r = await this.run({ command_type: "manual_control_lease.acquire", duration_s, purpose: "test" });
    if (r.status !== "ok") throw new Error(`acquire failed: ${JSON.stringify(r)}`);
    return r.data.lease_id;
  }

  async release(lease_id: string): Promise<void> {
    const r = await this.run({ command_type: "manual_control_lease.release", lease_id });
    if (r.status !== "ok") throw new Error(`release failed: ${JSON.stringify(r)}`);
  }

  /** The first stream event of `kind` (for device snapshots, of `device`) arriving from now on that satisfies `pred`. */
  snapshot(kind: string, pred: (s: Record<string, any>) => boolean = () => true, device?: string, timeoutMs = 15_000): Promise<Record<string, any>> {
    const old = new Set(this.stream.received);
    return this.stream
      .next((f) => !old.has(f) && f.kind === kind && (device === undefined || f.device_uid === device) && pred(f.snapshot), timeoutMs)
      .then((f) => f.snapshot);
  }

  close(): void {
    this.commands.close();
    this.stream.close();
  }
}
