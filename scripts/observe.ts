// A browser-less client (README "Observing from a script"): acquire the lease, slew to a target, take an
// exposure, print the FITS path, release. Usage: bun scripts/observe.ts [TARGET=M31] [SECONDS=2]
// Needs SKYNODE_TOKEN (an operator token) and optionally SKYNODE_URL (default ws://127.0.0.1:5001).
const url = process.env.SKYNODE_URL ?? "ws://127.0.0.1:5001";
const token = process.env.SKYNODE_TOKEN;
if (!token) throw new Error("set SKYNODE_TOKEN: bun app/main.ts token issue --sub me --role operator");
const [target = "M31", seconds = "2"] = Bun.argv.slice(2);
const telescope_uid = process.env.SKYNODE_TELESCOPE ?? "sim-1";

const ws = new WebSocket(`${url}/v1/ws/commands?token=${encodeURIComponent(token)}`);
const waiting = new Map<string, (result: any) => void>();
ws.onmessage = (e) => {
  const m = JSON.parse(e.data as string);
  if (m.kind === "event_command_result") waiting.get(m.result.command_id)?.(m.result);
  if (m.kind === "error") console.error("refused:", m.code, m.message);
};
await new Promise((ok, fail) => ((ws.onopen = ok), (ws.onerror = fail)));
ws.send(JSON.stringify({ kind: "subscribe_commands", subscription_id: "observe", filter: { telescope_uid } }));

async function run(command: object): Promise<any> {
  const command_id = crypto.randomUUID();
  const done = new Promise<any>((resolve) => waiting.set(command_id, resolve));
  ws.send(JSON.stringify({ kind: "publish_command", telescope_uid, command_id, command }));
  const result = await done;
  if (result.status !== "ok") throw new Error(`${(command as any).command_type}: ${JSON.stringify(result.error ?? result)}`);
  return result.data;
}

const lease = await run({ command_type: "manual_control_lease.acquire", duration_s: 600, purpose: "observe.ts" });
let failed = false;
try {
  const slew = await run({ command_type: "mount.track", target: { type: "named", name: target } });
  console.log(`tracking ${target} at RA ${slew.position.ra_deg}° Dec ${slew.position.dec_deg}° (alt ${slew.position.alt_deg}°)`);
  const image = await run({ command_type: "camera.exposure.start", duration_s: Number(seconds), binning: 1 });
  console.log(`image ${image.image_id}: ${image.path}`);
} catch (err) {
  console.error((err as Error).message);
  failed = true;
} finally {
  await run({ command_type: "manual_control_lease.release", lease_id: lease.lease_id });
  console.log("lease released");
  ws.close();
}
process.exitCode = failed ? 1 : 0;
export {};
