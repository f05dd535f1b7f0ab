import { z } from "zod";
import { fileBody } from "../body";
import { requestType } from "../catalog";
import type { SkyNodeDirectContext } from "./context";

/** `log.export` `{}` → `application/x-ndjson`: the SkyNode's log file as it stands (one pino JSON object per line:
 * `time` in ms, `level` as pino's number, `msg`, and the line's fields), oldest first. */
export const logExport = requestType({
  type: "log.export",
  doc: "The SkyNode's log file, one JSON object per line (pino: time, level, msg, fields), oldest first. application/x-ndjson; metadata: telescope_uid.",
  payload: z.strictObject({}),
  handle(_p, ctx: SkyNodeDirectContext) {
    ctx.log.flush();
    return fileBody("application/x-ndjson", ctx.log.path, { telescope_uid: ctx.telescopeUid });
  },
});
