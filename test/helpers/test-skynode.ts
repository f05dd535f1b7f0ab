import type { TestServer } from "./server";
import { TestClient, type Frame } from "./ws-client";

export type Answer = { status: "ok" | "error" | "canceled"; data?: object; error?: object } | null;

/** A SkyNode for tests: a real `skynode`-role client on both endpoints that answers each command it receives with
 * `answer(command)` (null = leave it running), answering lease commands as a SkyNode would. */
export class TestSkyNode {
  readonly commands: TestClient;
  readonly stream: TestClient;
  readonly received: Frame[] = [];
  answer: (cmd: Frame) => Answer = () => ({ status: "ok", data: {} });

  private constructor(commands: TestClient, stream: TestClient, readonly telescope: string) {
    this.commands = commands;
    this.stream = stream;
    const handler = commands.socket.onmessage!;
    commands.socket.onmessage = (e) => {
      handler.call(commands.socket, e);
      const f = JSON.parse(e.data as string) as Frame;
      if (f.kind !== "event_command") return;
      this.received.push(f);
      const a = this.answer(f);
      if (a) this.result(f.command.command_id, a);
    };
  }

  static async connect(server: TestServer, telescope = "sim-1", sub = "node-1"): Promise<TestSkyNode> {
    const token = server.token(sub, "skynode", [telescope]);
    const [commands, stream] = await Promise.all([
      TestClient.connect(`${server.ws}/v1/ws/commands?token=${token}`),
      TestClient.connect(`${server.ws}/v1/ws/stream?token=${token}`),
    ]);
    return new TestSkyNode(commands, stream, telescope);
  }

  result(commandId: string, a: NonNullable<Answer>): void {
    this.commands.send({ kind: "publish_command_result", telescope_uid: this.telescope, result: { command_id: commandId, ...a } });
  }

  publish(kind: string, body: object): void {
    this.stream.send({ kind, telescope_uid: this.telescope, ...body });
  }

  close(): void {
    this.commands.close();
    this.stream.close();
  }
}

/** Lease answers as a SkyNode gives them: acquire/renew grant {lease_id, holder, expires_at}. */
export function leaseAnswer(cmd: Frame, leaseId = "lease-1"): Answer {
  const c = cmd.command.command;
  if (c.command_type === "manual_control_lease.acquire" || c.command_type === "manual_control_lease.renew") {
    return {
      status: "ok",
      data: {
        lease_id: c.lease_id ?? leaseId,
        holder: cmd.command.origin.sub,
        purpose: c.purpose,
        expires_at: new Date(Date.now() + c.duration_s * 1000).toISOString(),
      },
    };
  }
  return { status: "ok", data: {} };
}
