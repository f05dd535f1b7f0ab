// A process with the fault guard installed over the real (simulated) telescope: a slew is started, then faults
// nobody handles are raised one after another. Each step prints one JSON line; the third fault is a storm
// (maxFaults 3), after which the guard exits. Usage: bun test/helpers/fault-guard-child.ts
import pino from "pino";
import { installFaultGuard } from "../../app/cli/fault-guard";
import { ConfigSchema } from "../../app/config/schema";
import { safeState } from "../../app/node/safe-state";
import { Telescope } from "../../app/node/telescope";

const log = pino({ level: "info" }, pino.destination({ fd: 2, sync: true }));
const t = new Telescope(ConfigSchema.parse({ mount: { slew_rate_deg_s: 2, accel_deg_s2: 4 } }), log);
await t.devices.ready;
installFaultGuard({ log: () => log, safeState: (reason) => safeState(t, reason), exit: (code) => process.exit(code), maxFaults: 3 });
const say = (o: object) => console.log(JSON.stringify(o));
const ra = t.mount.axes[0];

const moving = () =>
  new Promise<void>((resolve) => {
    const off = ra.changed.on(() => {
      if (ra.status().state === "moving") (off(), resolve());
    });
  });

let started = moving();
let move = ra.moveTo(40);
await started;
// A rejection nobody handles, in the middle of the slew.
Promise.reject(new Error("a stray rejection"));
say({ step: "rejection", outcome: await move, state: ra.status().state });

started = moving();
move = ra.moveTo(-40);
await started;
setTimeout(() => {
  throw new Error("a stray throw");
}, 0);
say({ step: "exception", outcome: await move });

// The third fault within the window: the process cannot go on.
setTimeout(() => {
  throw new Error("one fault too many");
}, 0);
await Bun.sleep(10_000);
say({ step: "still running" });
