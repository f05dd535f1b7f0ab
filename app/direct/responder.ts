import type { Logger } from "pino";
import { z } from "zod";
import type { DirectRequest } from "../protocol";
import type { DirectCatalog } from "./catalog";
import { DirectFailure } from "./failure";
import type { DirectSender } from "./sender";

/** Requests one socket may have open at once; each holds up to two chunk buffers. */
export const MAX_OPEN_PER_SOCKET = 8;

const Accept = z.array(z.enum(["binary", "base64"])).max(4).optional();

/** Answers direct requests from a catalog onto a socket's sender: the same code answers the appliance's own
 * clients (in process) and requests a hub forwards to this SkyNode. */
export class DirectResponder {
  constructor(
    private readonly catalog: DirectCatalog<any>,
    private readonly log: Logger,
  ) {}

  async serve(sender: DirectSender, msg: Pick<DirectRequest, "request_id" | "request_type" | "payload" | "credit">): Promise<void> {
    const id = msg.request_id;
    if (sender.active >= MAX_OPEN_PER_SOCKET) {
      return sender.refuse(id, "conflict", `${MAX_OPEN_PER_SOCKET} direct requests are already open on this connection: wait for one to end`);
    }
    if (!sender.reserve(id)) return sender.refuse(id, "conflict", `direct request ${id} is already open on this connection`);
    const { accept, ...payload } = msg.payload ?? {};
    const acceptParsed = Accept.safeParse(accept);
    if (!acceptParsed.success) return sender.error(id, "invalid", 'payload.accept: a list of encodings, e.g. ["binary"]');
    try {
      const body = await this.catalog.open(msg.request_type, payload);
      sender.start(id, body, { binary: acceptParsed.data?.includes("binary") ?? false, credit: msg.credit });
    } catch (err) {
      if (err instanceof DirectFailure) return sender.error(id, err.code, err.message, err.details);
      this.log.error({ err, request_type: msg.request_type }, "direct request failed");
      sender.error(id, "internal", `internal error: ${(err as Error).message}`);
    }
  }
}
